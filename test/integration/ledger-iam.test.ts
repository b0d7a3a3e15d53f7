import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerActions } from '../helpers/ledger-role.js';
import { body, plainFailure, PROJECT_ID, recordFor } from '../helpers/factories.js';
import { invoke, outcomesOf, sqsEvent, startHarness, type Harness } from '../helpers/harness.js';

/**
 * The queue function with DynamoDB answering as the deployed role makes it
 * answer (serverless.yml, `&useLedger`): an operation the role does not allow
 * is an AccessDeniedException. dynalite checks no IAM, so the denial is
 * played by a middleware on the function's own client.
 */

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

const ALLOWED = ledgerActions();

describe('the ledger under the deployed role', () => {
  it('two failures arriving in one batch are both retried', async () => {
    // Prepare
    const handler = await h.loadHandler('queue', { POWERTOOLS_LOG_LEVEL: 'INFO', WORKSPACE_IN_CALL_RETRIES: '0' });
    const { dynamoClient } = await import('../../lib/platform/dynamodb-client.js');
    dynamoClient().middlewareStack.add(
      (next, context) => async (args) => {
        const operation = String(context.commandName).replace(/Command$/, '');
        if (!ALLOWED.includes(operation)) throw Object.assign(new Error(`User is not authorized to perform: dynamodb:${operation}`), { name: 'AccessDeniedException', $fault: 'client' });
        return next(args);
      },
      { step: 'initialize' },
    );
    const failures = [plainFailure(), plainFailure()];
    h.stack.simulator.seedRecords(PROJECT_ID, failures.map((f) => recordFor(f)));

    // Act
    const outcomes = await outcomesOf(() => invoke(handler, sqsEvent(failures.map((f) => body(f)))));

    // Assess
    expect(outcomes.map((o) => [o['kind'], o['reason']])).toEqual([['retried', undefined], ['retried', undefined]]);
  });
});
