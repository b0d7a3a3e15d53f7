/**
 * TransactWriteItems on dynalite's store, as DynamoDB runs it: the token is honoured, the transaction takes all
 * its items (or is cancelled with TransactionConflict where another writer holds one), checks every condition
 * against the items as they are, and then writes everything in one batch, or nothing.
 */

import {
  type DynaliteError,
  type DynaliteStore,
  type DynamoItem,
  dynaliteDb,
  dynamoError,
  promised,
} from './dynalite-internals.js';
import type { IdempotencyTokens } from './idempotency-tokens.js';
import type { ItemClaims } from './item-claims.js';
import { applyWrites, type StagedWrite, stageWrite } from './staged-writes.js';
import type { TransactEntry, TransactWriteRequest } from './transact-write-request.js';
import type { TransactionHooks } from './transaction-hooks.js';

/** What a transaction runs against. */
export interface TransactionContext {
  readonly store: DynaliteStore;
  readonly claims: ItemClaims;
  readonly tokens: IdempotencyTokens;
  readonly hooks: TransactionHooks;
}

/** One entry's part in a cancellation, as DynamoDB's CancellationReasons lists it. */
export interface CancellationReason {
  readonly Code: 'None' | 'ConditionalCheckFailed' | 'TransactionConflict';
  readonly Message?: string;
  readonly Item?: DynamoItem;
}

const NONE: CancellationReason = { Code: 'None' };
const CONFLICT: CancellationReason = { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' };

/** DynamoDB's TransactionCanceledException for these reasons, one per entry in order. */
export function transactionCanceled(reasons: readonly CancellationReason[]): DynaliteError {
  const codes = reasons.map((r) => r.Code).join(', ');
  const Message = `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes}]`;
  const err = dynamoError('TransactionCanceledException', Message);
  err.body = { __type: err.body.__type, Message, CancellationReasons: reasons };
  return err;
}

/** Cancelled with a TransactionConflict on the entries at `positions`. */
function conflicted(count: number, positions: readonly number[]): DynaliteError {
  return transactionCanceled(Array.from({ length: count }, (_, i) => (positions.includes(i) ? CONFLICT : NONE)));
}

async function currentItem(store: DynaliteStore, entry: TransactEntry): Promise<DynamoItem | undefined> {
  try {
    return await promised<DynamoItem | undefined>((cb) =>
      store.getItemDb(entry.table.TableName).get(entry.itemKey, cb),
    );
  } catch (err) {
    if ((err as Error).name === 'NotFoundError') return undefined;
    throw err;
  }
}

/** Each entry's reason after checking its condition against `item`. */
function conditionReason(entry: TransactEntry, item: DynamoItem | undefined): CancellationReason {
  if (!dynaliteDb.checkConditional(entry.request, item)) return NONE;
  const failed = { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' } as const;
  return entry.returnOldOnFailure && item ? { ...failed, Item: item } : failed;
}

/** The ConsumedCapacity DynamoDB answers: per table, twice the write units of the items written. */
function consumedCapacity(
  mode: string | undefined,
  entries: readonly TransactEntry[],
  before: readonly (DynamoItem | undefined)[],
  staged: readonly StagedWrite[],
): Record<string, unknown> {
  if (mode !== 'TOTAL' && mode !== 'INDEXES') return {};
  const units = new Map<string, number>();
  entries.forEach((entry, i) => {
    if (entry.kind === 'ConditionCheck') return;
    const written = staged[i]!.written;
    const old = before[i];
    const unitsOf = (item: DynamoItem | undefined) => (item ? dynaliteDb.capacityUnits(item, false) : 1);
    const cost = 2 * Math.max(unitsOf(written), old ? unitsOf(old) : 0);
    units.set(entry.table.TableName, (units.get(entry.table.TableName) ?? 0) + cost);
  });
  return {
    ConsumedCapacity: [...units].map(([TableName, CapacityUnits]) => ({
      TableName,
      CapacityUnits,
      ...(mode === 'INDEXES' ? { Table: { CapacityUnits } } : {}),
    })),
  };
}

/** Takes the items, checks every condition, then writes all or nothing. */
async function runHeld(context: TransactionContext, request: TransactWriteRequest): Promise<Record<string, unknown>> {
  const { store, claims, hooks } = context;
  const { entries } = request;
  const scheduled = hooks.scheduledConflict(entries.map((e) => e.hashKey));
  if (scheduled !== undefined) throw conflicted(entries.length, [scheduled]);
  const taken = claims.claimForTransaction(entries.map((e) => e.claimKey));
  if ('busy' in taken) {
    hooks.conflictsAnswered.transactions += 1;
    throw conflicted(entries.length, taken.busy);
  }
  try {
    await hooks.transactionHeld();
    const before = await Promise.all(entries.map((entry) => currentItem(store, entry)));
    const reasons = entries.map((entry, i) => conditionReason(entry, before[i]));
    if (reasons.some((r) => r.Code !== 'None')) throw transactionCanceled(reasons);
    const staged = await Promise.all(entries.map((entry, i) => stageWrite(store, entry, before[i])));
    await applyWrites(store, staged);
    return consumedCapacity(request.returnConsumedCapacity, entries, before, staged);
  } finally {
    taken.claim.release();
  }
}

/** Runs a validated TransactWriteItems; resolves with the answer's body or rejects with DynamoDB's error. */
export async function transactWriteItems(
  context: TransactionContext,
  request: TransactWriteRequest,
): Promise<Record<string, unknown>> {
  const token = request.clientRequestToken;
  if (token === undefined) return runHeld(context, request);
  switch (context.tokens.begin(token, request.fingerprint)) {
    case 'mismatch':
      throw dynamoError(
        'IdempotentParameterMismatchException',
        'The request uses the same client token as a previous, but non-identical request.',
      );
    case 'in-progress':
      throw dynamoError(
        'TransactionInProgressException',
        'The transaction with the given request token is already in progress.',
      );
    case 'replay':
      return {};
  }
  try {
    const answer = await runHeld(context, request);
    context.tokens.complete(token);
    return answer;
  } catch (err) {
    context.tokens.forget(token);
    throw err;
  }
}
