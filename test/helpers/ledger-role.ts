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

/** The IAM action each kind of TransactWriteItems entry is authorised by. */
const ENTRY_ACTIONS: Readonly<Record<string, string>> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
};

/**
 * The IAM actions (without `dynamodb:`) one DynamoDB request needs: its operation's own, except a TransactWriteItems,
 * which has none and is authorised entry by entry.
 */
export function actionsOfRequest(target: string, body: string): string[] {
  const operation = target.split('.').pop()!;
  if (operation !== 'TransactWriteItems') return [operation];
  const { TransactItems: entries = [] } = JSON.parse(body) as { TransactItems?: Array<Record<string, unknown>> };
  return [...new Set(entries.flatMap((entry) => Object.keys(entry).map((kind) => ENTRY_ACTIONS[kind] ?? kind)))];
}
