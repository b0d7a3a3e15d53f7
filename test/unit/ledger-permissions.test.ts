import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ledgerActions } from '../helpers/ledger-role.js';

/**
 * dynalite checks no IAM, so nothing run locally notices a DynamoDB operation
 * the deployed roles do not allow: in AWS it is an AccessDeniedException
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/api-permissions-reference.html),
 * which the store reports as LedgerUnavailableError for every caller of the
 * call. This holds the ledger's statement in serverless.yml (`&useLedger`, used
 * by every role that runs the pipeline) to the operations the ledger sends.
 */

/**
 * The DynamoDB operations a module sends: each `send('Operation', …)` to its client (lib/platform/dynamodb-client.ts).
 */
function operationsOf(file: string): string[] {
  const source = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
  return [...source.matchAll(/\.send\('(\w+)'/g)].map((m) => m[1]!);
}

/**
 * The IAM actions an operation needs: a TransactWriteItems is authorised item by item, by the action of each of its
 * writes (the ledger sends Puts and Updates), and has no action of its own.
 */
function actionsOf(operation: string): string[] {
  return operation === 'TransactWriteItems' ? ['PutItem', 'UpdateItem'] : [operation];
}

describe('the ledger may do in AWS what it does on dynalite', () => {
  it('every DynamoDB operation the ledger store and the key-refusal record send is allowed by the ledger statement of the function roles', () => {
    // Prepare
    const sent = [...operationsOf('lib/ledger/store.ts'), ...operationsOf('lib/workspace/key-refusals.ts')];
    expect(new Set(sent)).toEqual(
      new Set(['PutItem', 'BatchWriteItem', 'BatchGetItem', 'GetItem', 'UpdateItem', 'TransactWriteItems']),
    );

    // Act
    const allowed = ledgerActions();

    // Assess
    expect(sent.flatMap(actionsOf).filter((action) => !allowed.includes(action))).toEqual([]);
  });
});
