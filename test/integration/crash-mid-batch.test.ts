import type { Context, SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext } from '../../local/poller.js';
import { body, failedRecord, PROJECT_ID, plainFailure } from '../helpers/factories.js';
import { type Harness, invoke, sqsEvent, startHarness } from '../helpers/harness.js';

/**
 * A crash inside the middy chain, halfway through a batch, with the real
 * queue handler on the local stack: the batch guard's onError must report
 * every record as failed (an empty list would delete the whole batch), and
 * the redelivery must finish the batch without retrying anything twice.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

function seeded(): Record<string, unknown> {
  const failure = plainFailure();
  h.stack.simulator.seedRecords(PROJECT_ID, [failedRecord({ id: String(failure['record_id']) })]);
  return failure;
}

describe('a crash mid-batch', () => {
  it('leaves every record on the queue, and the redelivery retries each failure exactly once', async () => {
    const handler = await h.loadHandler('queue', { MAX_CONCURRENCY: '1' });
    const failures = Array.from({ length: 5 }, seeded);
    const event = sqsEvent(failures.map(body));
    const before = h.stack.simulator.retries.length;
    // The Lambda context itself fails once two records have been retried: an error no layer below the handler
    // classifies.
    const crashing = {
      ...lambdaContext('retryFromQueue', 60_000),
      getRemainingTimeInMillis: () => {
        if (h.stack.simulator.retries.length - before >= 2) throw new Error('context crashed mid-batch');
        return 60_000;
      },
    } as Context;

    const crashed = (await handler(event, crashing)) as SQSBatchResponse;

    expect(h.stack.simulator.retries.length - before).toBe(2);
    expect(crashed.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(
      event.Records.map((r) => r.messageId).sort(),
    );

    // SQS redelivers the whole batch.
    const redelivered = await invoke(handler, event);

    expect(redelivered.batchItemFailures).toEqual([]);
    for (const f of failures) expect(h.stack.simulator.retryCount(String(f['record_id']))).toBe(1);
  });
});
