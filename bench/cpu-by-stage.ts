import type { Context, SQSEvent } from 'aws-lambda';
import type { ScriptFailure } from '../lib/events/failure.js';
import { normaliseBody } from '../lib/events/normalise.js';
import { countOutcome, logger } from '../lib/platform/observability.js';
import { QueueSender } from '../lib/platform/queue-sender.js';
import { sqsBatchSend } from '../lib/platform/sqs-client.js';
import { decide } from '../lib/policy/policy.js';
import type { Runtime } from '../lib/ways-in/runtime.js';
import type { WorkspaceCredentials } from '../lib/workspace/credentials.js';
import { signRequest } from '../lib/workspace/signer.js';
import { lambdaContext } from '../local/poller.js';
import { batch, cpuMicros, median, muted, retryingAll, round1 } from './fixtures.js';
import { peerHandler } from './peer.js';
import type { StackProcess } from './stack-process.js';

/**
 * CPU per record at L = 0 (no Workspace latency: nothing but our work and the
 * local services'), ours through the queue handler as Lambda calls it and the
 * peer's through its handler, then each stage of ours alone over the same
 * records. The stages a retried record passes add up to the whole, less
 * middy, settlement bookkeeping and the scheduler; the dead-letter send is
 * shown apart because a retried record does not take it.
 */

const N = 2000;
/**
 * Ours and the peer's in turn, this many times each; the median of each is the figure. On a shared host one pass can
 * move by a third (docs/performance.md), and a pass of one side alone would carry that into the ratio.
 */
const ROUNDS = 3;

export interface CpuFigures {
  /** The median over ROUNDS of ours, then of the peer's. */
  perRecordMicros: number;
  peerPerRecordMicros: number;
  /** Every pass, in the order run (ours, the peer's, ours, …): how far one pass moves. */
  rounds: { ours: number[]; peer: number[] };
  /** µs per record of each stage on a retried record's path. */
  stages: Record<string, number>;
  /** Part of the Workspace call spent signing. */
  signingMicros: number;
  /** µs per record to send a dead letter (not on a retried record's path). */
  deadLetterMicros: number;
}

type Handler = (event: SQSEvent, context: Context) => Promise<unknown>;

export async function cpuByStage(
  stack: StackProcess,
  runtime: Runtime,
  credentials: WorkspaceCredentials,
  idempotencyTable: string,
): Promise<CpuFigures> {
  await stack.command('latency 0');
  const { handler } = (await import('../functions/queue.js')) as unknown as { handler: Handler };
  const peer = peerHandler({
    workspace: runtime.workspace,
    credentials,
    tableName: idempotencyTable,
    concurrency: runtime.config.maxConcurrency,
  });
  const rounds = { ours: [] as number[], peer: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    rounds.ours.push(await perRecord(stack, handler, 'ours'));
    rounds.peer.push(await perRecord(stack, peer, 'the peer'));
  }
  const perRecordMicros = median(rounds.ours);
  const peerPerRecordMicros = median(rounds.peer);

  const config = runtime.config;
  const event = await batch(stack, N);
  const bodies = event.Records.map((r) => r.body);
  const stages: Record<string, number> = {};
  const stage = async (name: string, fn: () => unknown) => {
    const t = process.cpuUsage();
    await fn();
    stages[name] = round1(cpuMicros(t) / N);
  };
  let failures: ScriptFailure[] = [];
  await stage(
    'parsing',
    () =>
      (failures = bodies
        .map((b) => normaliseBody(b, { checkRegion: () => undefined }))
        .map((r) => (r.ok ? r.failure : undefined)!)),
  );
  await stage('policy', () =>
    failures.forEach((failure) =>
      decide({
        failure,
        attempts: { count: 0 },
        policy: config.policy,
        now: Date.now(),
        firstSeenAt: Date.now(),
        jitter: 0.5,
      }),
    ),
  );
  await stage('ledger', () =>
    inTens(failures, (f, i) => ledgerRoundTrip(runtime, { ...f, recordId: `ledger-${f.recordId}` }, i)),
  );
  const { credentials: key } = await credentials.forProject(failures[0]!.projectId);
  await stage('Workspace call', () =>
    inTens(failures, (f) => runtime.workspace.retry({ projectId: f.projectId }, { recordId: f.recordId! }, key)),
  );
  await stage('outcome log + metric', () =>
    muted(async () =>
      failures.forEach(
        (f, i) => (
          countOutcome('retried'),
          logger.info('outcome', {
            way: 'queue',
            messageId: `m${i}`,
            originMessageId: `m${i}`,
            projectId: f.projectId,
            recordId: f.recordId,
            taskId: f.taskId,
            shape: f.shape,
            kind: 'retried',
            ruleId: 'timeout',
            newTaskId: 'd6e6b147',
            attempt: 1,
          })
        ),
      ),
    ),
  );

  let t = process.cpuUsage();
  for (const f of failures)
    signRequest(
      {
        method: 'POST',
        host: 'h',
        pathSegments: ['v2', f.projectId, 'script-executions', 'retry'],
        body: `{"record_id":"${f.recordId}"}`,
        projectId: f.projectId,
        date: new Date(),
      },
      { ak: 'a', sk: 's' },
    );
  const signingMicros = round1(cpuMicros(t) / N);
  const dlq = new QueueSender(sqsBatchSend(), config.deadLetterQueueUrl);
  t = process.cpuUsage();
  await dlq.sendAll(
    bodies.map((body, i) => ({
      key: String(i),
      body,
      attributes: { reason: { DataType: 'String', StringValue: 'bench' } },
    })),
  );
  const deadLetterMicros = round1(cpuMicros(t) / N);
  return { perRecordMicros, peerPerRecordMicros, rounds, stages, signingMicros, deadLetterMicros };
}

/** Warm once (first import, secret read, connections), then N fresh records in one invocation. */
async function perRecord(stack: StackProcess, handler: Handler, who: string): Promise<number> {
  const invoke = (event: SQSEvent) => muted(() => handler(event, lambdaContext('retryFromQueue', 600_000)));
  await invoke(await batch(stack, 50));
  const event = await batch(stack, N);
  return retryingAll(stack, N, `CPU per record, ${who}`, async () => {
    const before = process.cpuUsage();
    await invoke(event);
    return Math.round(cpuMicros(before) / N);
  });
}

/** Ten at a time, as MAX_CONCURRENCY = 10 runs them. */
async function inTens<T>(items: readonly T[], fn: (item: T, index: number) => Promise<unknown>): Promise<void> {
  await Promise.all(
    Array.from({ length: 10 }, async (_, w) => {
      for (let i = w; i < items.length; i += 10) await fn(items[i]!, i);
    }),
  );
}

/**
 * What the ledger does for one retried record: locate its chain (batched
 * read), claim, and settle with the new task id (the chain and its link).
 */
async function ledgerRoundTrip(runtime: Runtime, failure: ScriptFailure, i: number): Promise<void> {
  const run = {
    projectId: failure.projectId,
    recordId: `${failure.recordId}-ledger-${i}`,
    taskId: failure.taskId,
    resourceId: failure.resourceId ?? `desk-${i}`,
    scriptId: failure.scriptId ?? 'script',
  };
  const located = await runtime.ledger.locate(run, async () => run);
  const claim = await runtime.ledger.claim(located, undefined, 'retry');
  await runtime.ledger.settleRetried(claim!, { taskId: `task${i}-${run.recordId}`, ruleId: 'timeout', via: 'answer' });
}
