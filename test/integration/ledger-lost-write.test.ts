import { describe, expect, it } from 'vitest';
import { body, PROJECT_ID, plainFailure, recordFor } from '../helpers/factories.js';
import { outcomesOf, proxiedHarnessForFile } from '../helpers/harness.js';

/** Case 7 of docs/ledger-protocol.md, on a stack of its own (it waits for its own delayed message). */

const stand = proxiedHarnessForFile();

describe('lost ledger writes (case 7)', () => {
  it('an accepted retry the ledger could not record travels with its message and is settled without a second call', async () => {
    // Every write that would record the retry (alone or with its link) is refused, three times over; the rest of the
    // ledger works.
    stand.proxy.refuse = (target, text) => /(PutItem|TransactWriteItems)$/.test(target) && text.includes('"retried"');
    const handler = await stand.h.loadHandler('queue', {
      POWERTOOLS_LOG_LEVEL: 'INFO',
      AWS_ENDPOINT_URL_DYNAMODB: stand.proxy.url,
    });
    const failure = plainFailure();
    stand.h.stack.simulator.seedRecords(PROJECT_ID, [recordFor(failure)]);
    const first = await outcomesOf(() => stand.h.send([body(failure)]).then(() => stand.h.drain(handler, 10_000)));
    expect(first[0]).toMatchObject({ kind: 'deferred', code: 'recording' });
    expect(String(first[0]!['reason'])).toMatch(/retried/);
    stand.proxy.refuse = () => false;
    const rest = await outcomesOf(() => stand.h.drain(handler, 15_000, { delayed: true }));
    expect(rest).toEqual([expect.objectContaining({ kind: 'retried', via: 'carried' })]);
    expect(stand.h.stack.simulator.rerunsOf(String(failure['record_id']))).toBe(1);
  });
});
