import { processQueueBatch } from '../lib/ways-in/queue-batch.js';
import { forInvocation, type Runtime } from '../lib/ways-in/runtime.js';
import type { WorkspaceCredentials } from '../lib/workspace/credentials.js';
import { lambdaContext } from '../local/poller.js';
import { batch, muted, round2 } from './fixtures.js';
import { peerHandler } from './peer.js';
import type { StackProcess } from './stack-process.js';

/**
 * DynamoDB calls per retried record, by operation, counted where they land
 * (dynalite, in the stack's process), so whatever client or protocol the
 * ledger uses is counted alike. Batches of 10 fresh failures, as the event
 * source mapping delivers them (batchSize 10); every record must be retried.
 */

const BATCHES = 20;

export interface DynamoCalls {
  perRetriedRecord: number;
  byOperation: Record<string, number>;
  peerPerRecord: number;
  peerByOperation: Record<string, number>;
}

export async function dynamoCalls(
  stack: StackProcess,
  runtime: Runtime,
  credentials: WorkspaceCredentials,
  idempotencyTable: string,
): Promise<DynamoCalls> {
  await stack.command('latency 0');
  await stack.command('reset');
  for (let i = 0; i < BATCHES; i++) {
    const event = await batch(stack, 10);
    const response = await muted(() => processQueueBatch(event, forInvocation(runtime, credentials)));
    if (response.batchItemFailures.length) throw new Error('dynamo-calls batch had failures');
  }
  const ours = await stack.command('reset');
  if (ours.retries !== BATCHES * 10)
    throw new Error(`expected ${BATCHES * 10} retries, the simulator saw ${ours.retries}`);

  const peer = peerHandler({ workspace: runtime.workspace, credentials, tableName: idempotencyTable, concurrency: 10 });
  for (let i = 0; i < BATCHES; i++) await peer(await batch(stack, 10), lambdaContext('peer', 60_000));
  const theirs = await stack.command('reset');
  return { ...summary(ours.dynamoCalls, ours.retries), ...peerSummary(theirs.dynamoCalls, BATCHES * 10) };
}

function perRecord(
  calls: Record<string, number>,
  records: number,
): { total: number; byOperation: Record<string, number> } {
  const byOperation = Object.fromEntries(Object.entries(calls).map(([op, count]) => [op, round2(count / records)]));
  return { total: round2(Object.values(calls).reduce((a, b) => a + b, 0) / records), byOperation };
}

function summary(
  calls: Record<string, number>,
  records: number,
): Pick<DynamoCalls, 'perRetriedRecord' | 'byOperation'> {
  const { total, byOperation } = perRecord(calls, records);
  return { perRetriedRecord: total, byOperation };
}

function peerSummary(
  calls: Record<string, number>,
  records: number,
): Pick<DynamoCalls, 'peerPerRecord' | 'peerByOperation'> {
  const { total, byOperation } = perRecord(calls, records);
  return { peerPerRecord: total, peerByOperation: byOperation };
}
