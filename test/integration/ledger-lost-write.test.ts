import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultyProxy } from '../../local/faulty-proxy.js';
import { body, PROJECT_ID, plainFailure, recordFor } from '../helpers/factories.js';
import { type Harness, outcomesOf, startHarness } from '../helpers/harness.js';

/** Case 7 of docs/ledger-protocol.md, on a stack of its own (it waits for its own delayed message). */

let h: Harness;
let proxy: FaultyProxy;

beforeAll(async () => {
  h = await startHarness();
  proxy = await FaultyProxy.start(h.stack.dynamoEndpoint);
});
afterAll(async () => {
  await proxy.stop();
  await h.stop();
});

describe('lost ledger writes (case 7)', () => {
  it('an accepted retry the ledger could not record travels with its message and is settled without a second call', async () => {
    // Every write that would record the retry is refused, three times over; the rest of the ledger works.
    proxy.refuse = (target, text) => target.endsWith('PutItem') && text.includes('"retried"');
    const handler = await h.loadHandler('queue', {
      POWERTOOLS_LOG_LEVEL: 'INFO',
      AWS_ENDPOINT_URL_DYNAMODB: proxy.url,
    });
    const failure = plainFailure();
    h.stack.simulator.seedRecords(PROJECT_ID, [recordFor(failure)]);
    const first = await outcomesOf(() => h.send([body(failure)]).then(() => h.drain(handler, 10_000)));
    expect(first[0]).toMatchObject({ kind: 'deferred', code: 'recording' });
    expect(String(first[0]!['reason'])).toMatch(/retried/);
    proxy.refuse = () => false;
    const rest = await outcomesOf(() => h.drain(handler, 15_000, { delayed: true }));
    expect(rest).toEqual([expect.objectContaining({ kind: 'retried', via: 'carried' })]);
    expect(h.stack.simulator.rerunsOf(String(failure['record_id']))).toBe(1);
  });
});
