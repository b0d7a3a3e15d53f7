import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { WorkspaceCredentials } from '../lib/workspace/credentials.js';
import type { ExecutionRecord } from '../lib/workspace/types.js';
import type { StackProcess } from './stack-process.js';

/** What every measurement shares: the bench's failure events, muted logs, CPU arithmetic. */

export const PROJECT = 'be0cbe0cbe0cbe0cbe0cbe0cbe0cbe0c';
let runId = 0;

/**
 * What the bench's batches need of the stack: to seed the records their events name, and its counters
 * (bench/stack-process.ts).
 */
export type Seeder = Pick<StackProcess, 'command'>;

/**
 * Runs `fn` (one batch of `n` records) and checks that the simulator accepted
 * a retry for each: a change that sent the bench's records down another path
 * (dead letters, lookups refused) stops the bench instead of timing that path.
 */
export async function retryingAll<T>(stack: Seeder, n: number, what: string, fn: () => Promise<T>): Promise<T> {
  const before = await stack.command('stats');
  const result = await fn();
  const retries = (await stack.command('stats')).retries - before.retries;
  if (retries !== n)
    throw new Error(
      `${what}: ${n} records, but the simulator accepted ${retries} retries; the bench measures retried records only`,
    );
  return result;
}

/**
 * The failed records of bench run `run`: fresh ids per run, so nothing is a
 * duplicate of an earlier run; seeded into the simulator (the stack's `seed`
 * command), since a retry first reads its record until an answer has shown
 * how Workspace answers retries (lib/pipeline/handled-run.ts), and a record
 * Workspace does not know is dead-lettered, not retried.
 */
export function benchRecords(run: string, n: number, startedAt: string): ExecutionRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `b${run}r${i}`,
    script_task_id: `b${run}t${i % 50}`,
    resource_id: `desk${i}`,
    script_id: 'bench-script',
    status: 'FAILED',
    reason: 'Script execution timed out',
    start_time: startedAt,
    end_time: startedAt,
  }));
}

/** A plain failure event for one of those records, as a queue record. */
function queueRecord(record: ExecutionRecord, i: number, run: string): SQSRecord {
  const body = JSON.stringify({
    project_id: PROJECT,
    record_id: record.id,
    task_id: record.script_task_id,
    resource_id: record.resource_id,
    script_id: record.script_id,
    status: 'FAILED',
    reason: record.reason,
    start_time: record.start_time,
    event_id: `e${run}-${i}`,
  });
  return {
    messageId: `m${run}-${i}`,
    receiptHandle: 'r',
    body,
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:0:q',
    awsRegion: 'us-east-1',
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(Date.now()),
      SenderId: 'b',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
  };
}

/** A batch of `n` failure events whose records the stack's simulator knows. */
export async function batch(stack: Seeder, n: number): Promise<SQSEvent> {
  const run = `${process.pid}x${++runId}`;
  const startedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000).toISOString();
  await stack.command(`seed ${run} ${n} ${startedAt}`);
  return { Records: benchRecords(run, n, startedAt).map((record, i) => queueRecord(record, i, run)) };
}

/** Logs go nowhere while measuring (they still cost what they cost to produce). */
export function muted<T>(fn: () => Promise<T>): Promise<T> {
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  return fn().finally(() => {
    process.stdout.write = write;
  });
}

export function cpuMicros(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return d.user + d.system;
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
export const round1 = (value: number) => Math.round(value * 10) / 10;
export const round2 = (value: number) => Math.round(value * 100) / 100;

/** The credentials as the functions hold them, read from the stack's Secrets Manager. */
export function secretCredentials(secretId: string): WorkspaceCredentials {
  const client = new SecretsManagerClient({});
  const read = async () =>
    JSON.parse((await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString ?? '{}') as unknown;
  return new WorkspaceCredentials(secretId, { load: read, reload: read });
}
