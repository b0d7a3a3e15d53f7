import { readFileSync } from 'node:fs';

/**
 * The DynamoDB actions of serverless.yml's ledger statement (`&useLedger`,
 * carried by every role that runs the pipeline), without the `dynamodb:`
 * prefix: what the deployed functions may do to the ledger table.
 */
export function ledgerActions(): string[] {
  const template = readFileSync(new URL('../../serverless.yml', import.meta.url), 'utf8');
  const statement = /&useLedger\s*\n\s*Effect: Allow\s*\n\s*Action: \[([^\]]*)\]/.exec(template)?.[1];
  if (statement === undefined) throw new Error('serverless.yml: no &useLedger statement with an Action list');
  return statement.split(',').map((a) => a.trim().replace(/^dynamodb:/, ''));
}
