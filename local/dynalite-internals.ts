/**
 * Typed access to the parts of dynalite that the TransactWriteItems stand-in reuses: its item store, its
 * request validations and its single-item write actions. dynalite has no `exports` map, so its modules load
 * by path; the types below describe only what this repository calls.
 */

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A DynamoDB attribute value map as dynalite keeps it (`{ pk: { S: 'a' } }`). */
export type DynamoItem = Record<string, Record<string, unknown>>;

/** An error as dynalite answers it: the HTTP status and the JSON body. */
export interface DynaliteError extends Error {
  statusCode: number;
  body: Record<string, unknown>;
}

/** A table's description, as dynalite stores it. */
export interface DynaliteTable {
  TableName: string;
  KeySchema: { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[];
}

type Callback<T> = (err: Error | null | undefined, value?: T) => void;

/** One of dynalite's key-value views (a table's items, an index). */
export interface DynaliteSubDb {
  get(key: string, cb: Callback<DynamoItem | undefined>): void;
  put(key: string, value: DynamoItem, cb: Callback<void>): void;
  del(key: string, cb: Callback<void>): void;
  lock(key: string, fn: (release: <F>(cb: F) => F) => void): void;
}

/** The store `dynalite()` creates: LevelDB underneath, one prefixed view per table. */
export interface DynaliteStore {
  options: { maxItemSize: number };
  db: { batch(ops: LevelOperation[], cb: Callback<void>): void };
  getTable(name: string, cb: Callback<DynaliteTable>): void;
  getItemDb(name: string): DynaliteSubDb;
  getIndexDb(indexType: string, tableName: string, indexName: string): DynaliteSubDb;
}

/** A write to dynalite's underlying LevelDB. */
export type LevelOperation = { type: 'put'; key: string; value: DynamoItem } | { type: 'del'; key: string };

/** A single-item request after dynalite's validation (parsed expressions in `_condition`, `_updates`). */
export type ItemRequest = Record<string, unknown> & { TableName: string };

/** An operation's validation rules, as dynalite exports them for each operation. */
export interface OperationValidation {
  types: Record<string, unknown>;
  custom?: (data: ItemRequest, store: DynaliteStore) => string | undefined;
}

/** dynalite's `db` module: item keys, conditions, sizes, errors. */
export const dynaliteDb = require('dynalite/db') as {
  create(options: unknown): DynaliteStore;
  createKey(item: DynamoItem, table: DynaliteTable): string;
  validateKey(key: DynamoItem, table: DynaliteTable): DynaliteError | null | undefined;
  validateItem(item: DynamoItem, table: DynaliteTable): DynaliteError | null | undefined;
  validateUpdates(attributeUpdates: unknown, updates: unknown, table: DynaliteTable): DynaliteError | null | undefined;
  checkConditional(data: ItemRequest, item: DynamoItem | undefined): DynaliteError | null | undefined;
  capacityUnits(item: DynamoItem | undefined, isRead: boolean): number;
  validationError(message: string): DynaliteError;
};

/** dynalite's `validations` module: type coercion and constraint checks, throwing dynalite errors. */
export const dynaliteValidations = require('dynalite/validations') as {
  checkTypes(data: unknown, types: Record<string, unknown>): ItemRequest;
  checkValidations(
    data: unknown,
    types: Record<string, unknown>,
    custom: OperationValidation['custom'],
    store: DynaliteStore,
  ): void;
};

/** The validation rules of the single-item operations a transaction's entries mirror. */
export const operationValidations = {
  putItem: require('dynalite/validations/putItem') as OperationValidation,
  updateItem: require('dynalite/validations/updateItem') as OperationValidation,
  deleteItem: require('dynalite/validations/deleteItem') as OperationValidation,
};

type ItemAction = (store: DynaliteStore, data: ItemRequest, cb: Callback<unknown>) => void;

/** dynalite's single-item write actions; each reads, checks and writes one item through the store it is given. */
export const itemActions = {
  putItem: require('dynalite/actions/putItem') as ItemAction,
  updateItem: require('dynalite/actions/updateItem') as ItemAction,
  deleteItem: require('dynalite/actions/deleteItem') as ItemAction,
};

/** Whether `err` is an error dynalite answers with (a status and a body) rather than a fault. */
export function isDynaliteError(err: unknown): err is DynaliteError {
  return err instanceof Error && typeof (err as Partial<DynaliteError>).statusCode === 'number';
}

/** A DynamoDB error of `type` (ConditionalCheckFailedException, …) in dynalite's shape. */
export function dynamoError(type: string, message: string, extra: Record<string, unknown> = {}): DynaliteError {
  const err = new Error(message) as DynaliteError;
  err.statusCode = 400;
  err.body = { __type: `com.amazonaws.dynamodb.v20120810#${type}`, message, ...extra };
  return err;
}

/** Calls a node-style function and resolves with its value. */
export function promised<T>(call: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => call((err, value) => (err ? reject(err) : resolve(value as T))));
}
