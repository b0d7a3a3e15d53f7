/**
 * Works out a transaction's writes without applying them: each Put, Update or Delete runs through dynalite's own
 * single-item action against a store that reads the item the transaction already holds and records, instead of
 * performing, the writes the action would make (the item and any index entries). The recorded writes are then
 * applied in one LevelDB batch, so they land together or not at all.
 */

import {
  type DynaliteStore,
  type DynaliteSubDb,
  type DynamoItem,
  type ItemRequest,
  itemActions,
  type LevelOperation,
  promised,
} from './dynalite-internals.js';
import type { TransactEntry } from './transact-write-request.js';

/** One entry's recorded writes, and the item it leaves (undefined once deleted). */
export interface StagedWrite {
  readonly operations: readonly LevelOperation[];
  readonly written: DynamoItem | undefined;
}

const ACTION_OF = { Put: itemActions.putItem, Update: itemActions.updateItem, Delete: itemActions.deleteItem };

/** A store view under `prefix` that answers reads with `existing` and records writes into `operations`. */
function recordingView(prefix: string, existing: DynamoItem | undefined, operations: LevelOperation[]): DynaliteSubDb {
  return {
    lock: (_key, fn) => fn((cb) => cb),
    // Answered in the same turn (a microtask, never synchronously): nothing here waits on storage, and every turn a
    // transaction yields lets other requests in while it holds its items.
    get: (_key, cb) => queueMicrotask(() => cb(null, existing)),
    put: (key, value, cb) => {
      operations.push({ type: 'put', key: `${prefix}${key}`, value });
      queueMicrotask(() => cb(null));
    },
    del: (key, cb) => {
      operations.push({ type: 'del', key: `${prefix}${key}` });
      queueMicrotask(() => cb(null));
    },
  };
}

/** The single-item request without its condition, which the transaction has already checked. */
function unconditioned(request: ItemRequest): ItemRequest {
  const { _condition, Expected, ConditionExpression, ...rest } = request;
  return rest as ItemRequest;
}

/** The writes `entry` would make to an item now `existing`; rejects with dynalite's error if it cannot. */
export async function stageWrite(
  store: DynaliteStore,
  entry: TransactEntry,
  existing: DynamoItem | undefined,
): Promise<StagedWrite> {
  if (entry.kind === 'ConditionCheck') return { operations: [], written: existing };
  const operations: LevelOperation[] = [];
  const itemPrefix = `item-${entry.table.TableName}~`;
  const staging: DynaliteStore = {
    ...store,
    // The table the entry was validated against (a table's description does not change within a transaction).
    getTable: (_name, cb) => queueMicrotask(() => cb(null, entry.table)),
    getItemDb: () => recordingView(itemPrefix, existing, operations),
    getIndexDb: (type, table, index) =>
      recordingView(`index-${type.toLowerCase()}~${table}~${index}~`, undefined, operations),
  };
  await promised((cb) => ACTION_OF[entry.kind as keyof typeof ACTION_OF](staging, unconditioned(entry.request), cb));
  const itemWrite = operations.find((op) => op.key === `${itemPrefix}${entry.itemKey}`);
  return { operations, written: itemWrite?.type === 'put' ? itemWrite.value : undefined };
}

/** Applies every recorded write in one batch. */
export function applyWrites(store: DynaliteStore, staged: readonly StagedWrite[]): Promise<void> {
  return promised<void>((cb) =>
    store.db.batch(
      staged.flatMap((s) => [...s.operations]),
      cb,
    ),
  );
}
