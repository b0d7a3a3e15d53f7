import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { body, plainFailure, PROJECT_ID, recordFor } from '../helpers/factories.js';
import { invoke, outcomesOf, sqsEvent, startHarness, type Harness } from '../helpers/harness.js';

/**
 * Numbers a failure event may carry, through the real queue function and the
 * ledger on dynalite: whatever the ledger stores, it must read back, and one
 * item it cannot read must not hold the other records of the batch.
 */

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

describe('numbers the ledger stores', () => {
  it('a failure whose failed_at is in epoch nanoseconds neither becomes unreadable nor holds the records batched with it', async () => {
    // Prepare: an event without its task (so the ledger caches the looked-up chain), its time in nanoseconds
    const handler = await h.loadHandler('queue', { POWERTOOLS_LOG_LEVEL: 'INFO', WORKSPACE_IN_CALL_RETRIES: '0' });
    const { task_id: _, ...odd } = plainFailure({ failed_at: 1_732_900_000_000_000_000 });
    h.stack.simulator.seedRecords(PROJECT_ID, [recordFor({ ...odd, task_id: `task-of-${String(odd['record_id'])}` })]);
    await outcomesOf(() => invoke(handler, sqsEvent([body(odd)])));
    const healthy = plainFailure();
    h.stack.simulator.seedRecords(PROJECT_ID, [recordFor(healthy)]);

    // Act: the odd event comes back, with a healthy one in the same batch
    const outcomes = await outcomesOf(() => invoke(handler, sqsEvent([body(odd), body(healthy)])));

    // Assess
    const byRecord = new Map(outcomes.map((o) => [String(o['recordId']), o]));
    expect(byRecord.get(String(healthy['record_id']))).toMatchObject({ kind: 'retried' });
    // Held or deferred, as before the low-level client: never by a chain stored that cannot be read back.
    expect(String(byRecord.get(String(odd['record_id']))?.['reason'])).not.toMatch(/RangeError|beyond JavaScript/);
  });
});
