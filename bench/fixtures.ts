import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { WorkspaceCredentials } from '../lib/workspace/credentials.js';

/** What every measurement shares: the bench's failure events, muted logs, CPU arithmetic. */

export const PROJECT = 'be0cbe0cbe0cbe0cbe0cbe0cbe0cbe0c';
let runId = 0;

/**
 * A plain failure event as a queue record; every batch gets fresh ids, so nothing is a duplicate of an earlier run.
 * It names its run's start, as the sweep's and Workspace's own records do: without it a retry first asks Workspace
 * for the record (lib/pipeline/handled-run.ts), which the simulator does not know here.
 */
function record(i: number, run: number): SQSRecord {
  const started = new Date(Date.now() - 60_000).toISOString();
  const body = JSON.stringify({ project_id: PROJECT, record_id: `b${run}r${i}`, task_id: `b${run}t${i % 50}`, resource_id: `desk${i}`, script_id: 'bench-script', status: 'FAILED', reason: 'Script execution timed out', start_time: started, event_id: `e${run}-${i}` });
  return {
    messageId: `m${run}-${i}`, receiptHandle: 'r', body, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:0:q', awsRegion: 'us-east-1',
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'b', ApproximateFirstReceiveTimestamp: String(Date.now()) },
  };
}

export function batch(n: number): SQSEvent {
  const run = ++runId;
  return { Records: Array.from({ length: n }, (_, i) => record(i, run)) };
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
  const read = async () => JSON.parse((await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString ?? '{}') as unknown;
  return new WorkspaceCredentials(secretId, { load: read, reload: read });
}
