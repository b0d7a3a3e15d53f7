/**
 * Reads a TransactWriteItems request the way DynamoDB validates it: the request's shape with dynalite's type and
 * constraint checks, each entry with the checks of its single-item operation (PutItem, UpdateItem, DeleteItem;
 * a ConditionCheck as a DeleteItem that writes nothing), then against its table: the table exists, the key or
 * item fits its key schema, no item is named twice. Throws dynalite-shaped errors.
 */

import { createHash } from 'node:crypto';
import {
  type DynaliteStore,
  type DynaliteTable,
  type DynamoItem,
  dynaliteDb,
  dynaliteValidations,
  type ItemRequest,
  type OperationValidation,
  operationValidations,
  promised,
} from './dynalite-internals.js';

/** The four kinds of entry a transaction holds. */
export type TransactEntryKind = 'Put' | 'Update' | 'Delete' | 'ConditionCheck';

/** One validated entry of a transaction. */
export interface TransactEntry {
  readonly kind: TransactEntryKind;
  /** The entry as the single-item request it mirrors, its expressions parsed by dynalite. */
  readonly request: ItemRequest;
  readonly table: DynaliteTable;
  /** The item's key in dynalite's item store. */
  readonly itemKey: string;
  /** The item's identity across tables. */
  readonly claimKey: string;
  /** The item's hash key value, as a string. */
  readonly hashKey: string;
  /** Whether a failed condition answers with the item (ReturnValuesOnConditionCheckFailure: ALL_OLD). */
  readonly returnOldOnFailure: boolean;
}

/** A validated TransactWriteItems request. */
export interface TransactWriteRequest {
  readonly entries: readonly TransactEntry[];
  readonly clientRequestToken?: string;
  readonly returnConsumedCapacity?: string;
  /** A digest of the request's parameters other than its token, to compare a replay with the first request. */
  readonly fingerprint: string;
}

const ENTRY_KINDS: readonly TransactEntryKind[] = ['Put', 'Update', 'Delete', 'ConditionCheck'];

const VALIDATION_OF: Record<TransactEntryKind, OperationValidation> = {
  Put: operationValidations.putItem,
  Update: operationValidations.updateItem,
  Delete: operationValidations.deleteItem,
  ConditionCheck: operationValidations.deleteItem,
};

const EXPRESSION_FIELDS = ['ConditionExpression', 'ExpressionAttributeNames', 'ExpressionAttributeValues'];

const RETURN_ON_FAILURE = { type: 'String', enum: ['ALL_OLD', 'NONE'] };

function pick(types: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(names.map((name) => [name, types[name]]));
}

function entryType(kind: TransactEntryKind, fields: readonly string[], required: Record<string, unknown> = {}) {
  return {
    type: `FieldStruct<${kind}>`,
    children: {
      ...pick(VALIDATION_OF[kind].types, fields),
      ...required,
      ReturnValuesOnConditionCheckFailure: RETURN_ON_FAILURE,
    },
  };
}

/** TransactWriteItems' request shape in dynalite's validation language. */
const TRANSACT_WRITE_TYPES: Record<string, unknown> = {
  ReturnConsumedCapacity: { type: 'String', enum: ['INDEXES', 'TOTAL', 'NONE'] },
  ReturnItemCollectionMetrics: { type: 'String', enum: ['SIZE', 'NONE'] },
  ClientRequestToken: { type: 'String', lengthGreaterThanOrEqual: 1, lengthLessThanOrEqual: 36 },
  TransactItems: {
    type: 'List',
    notNull: true,
    lengthGreaterThanOrEqual: 1,
    lengthLessThanOrEqual: 100,
    children: {
      type: 'ValueStruct<TransactWriteItem>',
      children: {
        Put: entryType('Put', ['TableName', 'Item', ...EXPRESSION_FIELDS]),
        Update: entryType('Update', ['TableName', 'Key', ...EXPRESSION_FIELDS], {
          UpdateExpression: { type: 'String', notNull: true },
        }),
        Delete: entryType('Delete', ['TableName', 'Key', ...EXPRESSION_FIELDS]),
        ConditionCheck: entryType('ConditionCheck', ['TableName', 'Key', ...EXPRESSION_FIELDS], {
          ConditionExpression: { type: 'String', notNull: true },
        }),
      },
    },
  },
};

/** DynamoDB's message for an entry naming no operation or more than one. */
export const ONE_OPERATION_PER_ENTRY = 'TransactItems can only contain one of Check, Put, Update or Delete';
/** DynamoDB's message for two entries naming the same item. */
export const ONE_OPERATION_PER_ITEM = 'Transaction request cannot include multiple operations on one item';

/** JSON with object keys sorted, so equal parameters give equal text whatever their order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

type RawEntry = Partial<Record<TransactEntryKind, Record<string, unknown>>>;

/** The entry's one operation as a single-item request, checked as that operation is. */
function entryRequest(raw: RawEntry, store: DynaliteStore, returnConsumedCapacity: unknown) {
  const kinds = ENTRY_KINDS.filter((kind) => raw[kind] != null);
  if (kinds.length !== 1) throw dynaliteDb.validationError(ONE_OPERATION_PER_ENTRY);
  const kind = kinds[0]!;
  const { ReturnValuesOnConditionCheckFailure, ...fields } = raw[kind]!;
  const request = { ...fields, ReturnConsumedCapacity: returnConsumedCapacity } as unknown as ItemRequest;
  const message = VALIDATION_OF[kind].custom?.(request, store);
  if (message) throw dynaliteDb.validationError(message);
  return { kind, request, returnOldOnFailure: ReturnValuesOnConditionCheckFailure === 'ALL_OLD' };
}

/** The entry checked against its table (which must exist), with the item's keys. */
async function boundEntry(store: DynaliteStore, entry: ReturnType<typeof entryRequest>): Promise<TransactEntry> {
  const { kind, request } = entry;
  const table = await promised<DynaliteTable>((cb) => store.getTable(request.TableName, cb));
  const keyed = (kind === 'Put' ? request.Item : request.Key) as DynamoItem;
  const invalid =
    kind === 'Put'
      ? dynaliteDb.validateItem(keyed, table)
      : (dynaliteDb.validateKey(keyed, table) ??
        (kind === 'Update' ? dynaliteDb.validateUpdates(undefined, request._updates, table) : null));
  if (invalid) throw invalid;
  const itemKey = dynaliteDb.createKey(keyed, table);
  const hashName = table.KeySchema.find((k) => k.KeyType === 'HASH')!.AttributeName;
  return {
    ...entry,
    table,
    itemKey,
    claimKey: `${table.TableName}\u0000${itemKey}`,
    hashKey: String(Object.values(keyed[hashName] ?? {})[0]),
  };
}

/** Validates a parsed TransactWriteItems body; throws the error DynamoDB (as dynalite words it) answers. */
export async function readTransactWrite(body: unknown, store: DynaliteStore): Promise<TransactWriteRequest> {
  const data = dynaliteValidations.checkTypes(body, TRANSACT_WRITE_TYPES);
  dynaliteValidations.checkValidations(data, TRANSACT_WRITE_TYPES, undefined, store);
  const raw = data.TransactItems as RawEntry[];
  const requests = raw.map((entry) => entryRequest(entry, store, data.ReturnConsumedCapacity));
  const entries: TransactEntry[] = [];
  for (const request of requests) entries.push(await boundEntry(store, request));
  if (new Set(entries.map((e) => e.claimKey)).size !== entries.length) {
    throw dynaliteDb.validationError(ONE_OPERATION_PER_ITEM);
  }
  const { ClientRequestToken, ...parameters } = body as Record<string, unknown>;
  return {
    entries,
    clientRequestToken: data.ClientRequestToken as string | undefined,
    returnConsumedCapacity: data.ReturnConsumedCapacity as string | undefined,
    fingerprint: createHash('sha256').update(canonicalJson(parameters)).digest('base64'),
  };
}
