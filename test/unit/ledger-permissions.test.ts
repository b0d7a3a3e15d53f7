import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ledgerActions } from '../helpers/ledger-role.js';

/**
 * dynalite checks no IAM, so nothing run locally notices a DynamoDB operation
 * the deployed roles do not allow: in AWS it is an AccessDeniedException
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/api-permissions-reference.html),
 * which the store reports as LedgerUnavailableError for every caller of the
 * call. This holds the ledger's statement in serverless.yml (`&useLedger`, used
 * by every role that runs the pipeline) to the operations the store sends.
 */

/** The DynamoDB operations a module sends: the `...Command`s it imports from the low-level client. */
function operationsOf(file: string): string[] {
  const source = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
  const imports = /import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/client-dynamodb'/.exec(source)?.[1] ?? '';
  return [...imports.matchAll(/\b(\w+)Command\b/g)].map((m) => m[1]!);
}

describe('the ledger may do in AWS what it does on dynalite', () => {
  it('every DynamoDB operation the ledger store sends is allowed by the ledger statement of the function roles', () => {
    // Prepare
    const sent = operationsOf('lib/ledger/store.ts');
    expect(sent.length).toBeGreaterThan(0);

    // Act
    const allowed = ledgerActions();

    // Assess
    expect(sent.filter((op) => !allowed.includes(op))).toEqual([]);
  });
});
