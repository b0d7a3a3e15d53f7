import { describe, expect, it } from 'vitest';
import { body, PROJECT_ID, plainFailure, recordFor } from '../helpers/factories.js';
import { invoke, outcomesOf, proxiedHarnessForFile, sqsEvent } from '../helpers/harness.js';
import { actionsOfRequest, ledgerActions } from '../helpers/ledger-role.js';

/**
 * The queue function with DynamoDB answering as the deployed role makes it
 * answer (serverless.yml, `&useLedger`): an operation the role does not allow
 * is an AccessDeniedException (a transaction needs the action of each of its
 * writes). dynalite checks no IAM, so the denial is played by a proxy in
 * front of it, answering as DynamoDB does.
 */

const stand = proxiedHarnessForFile();

const ALLOWED = ledgerActions();

describe('the ledger under the deployed role', () => {
  it('two failures arriving in one batch are both retried', async () => {
    // Prepare
    stand.proxy.refuse = (target, request) =>
      actionsOfRequest(target, request).some((action) => !ALLOWED.includes(action)) && {
        status: 400,
        type: 'AccessDeniedException',
      };
    const handler = await stand.h.loadHandler('queue', {
      POWERTOOLS_LOG_LEVEL: 'INFO',
      WORKSPACE_IN_CALL_RETRIES: '0',
      AWS_ENDPOINT_URL_DYNAMODB: stand.proxy.url,
    });
    const failures = [plainFailure(), plainFailure()];
    stand.h.stack.simulator.seedRecords(
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
