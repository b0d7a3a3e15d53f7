import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultyProxy } from '../../local/faulty-proxy.js';
import { body, PROJECT_ID, plainFailure, recordFor } from '../helpers/factories.js';
import { type Harness, invoke, outcomesOf, sqsEvent, startHarness } from '../helpers/harness.js';
import { ledgerActions } from '../helpers/ledger-role.js';

/**
 * The queue function with DynamoDB answering as the deployed role makes it
 * answer (serverless.yml, `&useLedger`): an operation the role does not allow
 * is an AccessDeniedException. dynalite checks no IAM, so the denial is
 * played by a proxy in front of it, answering as DynamoDB does.
 */

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

const ALLOWED = ledgerActions();

describe('the ledger under the deployed role', () => {
  it('two failures arriving in one batch are both retried', async () => {
    // Prepare
    proxy.refuse = (target) =>
      !ALLOWED.includes(target.split('.').pop()!) && { status: 400, type: 'AccessDeniedException' };
    const handler = await h.loadHandler('queue', {
      POWERTOOLS_LOG_LEVEL: 'INFO',
      WORKSPACE_IN_CALL_RETRIES: '0',
      AWS_ENDPOINT_URL_DYNAMODB: proxy.url,
    });
    const failures = [plainFailure(), plainFailure()];
    h.stack.simulator.seedRecords(
      PROJECT_ID,
      failures.map((f) => recordFor(f)),
    );

    // Act
    const outcomes = await outcomesOf(() => invoke(handler, sqsEvent(failures.map((f) => body(f)))));

    // Assess
    expect(outcomes.map((o) => [o['kind'], o['reason']])).toEqual([
      ['retried', undefined],
      ['retried', undefined],
    ]);
  });
});
