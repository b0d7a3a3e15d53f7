/**
 * The request listener in front of dynalite's own: it answers TransactWriteItems (which dynalite lacks) with
 * dynalite's headers and error shapes, refuses a single-item write of an item a transaction holds with
 * TransactionConflictException, and hands every other request to dynalite unchanged.
 */

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  type DynaliteError,
  type DynaliteStore,
  type DynaliteTable,
  type DynamoItem,
  dynaliteDb,
  dynaliteValidations,
  dynamoError,
  type OperationValidation,
  operationValidations,
  promised,
} from './dynalite-internals.js';
import { hasAuthentication, isJsonPost, readBody, replayed, send, sendError } from './dynalite-wire.js';
import type { ItemClaims } from './item-claims.js';
import { readTransactWrite, type TransactWriteRequest } from './transact-write-request.js';
import type { TransactionHooks } from './transaction-hooks.js';

/** What the front needs: dynalite's listener and store, and the transaction runner. */
export interface DynamoFrontOptions {
  readonly dynalite: RequestListener;
  readonly store: DynaliteStore;
  readonly claims: ItemClaims;
  readonly hooks: TransactionHooks;
  /** Runs a validated transaction, resolving with the answer's body. */
  readonly transact: (request: TransactWriteRequest) => Promise<Record<string, unknown>>;
}

const SINGLE_WRITES: Record<string, OperationValidation> = {
  PutItem: operationValidations.putItem,
  UpdateItem: operationValidations.updateItem,
  DeleteItem: operationValidations.deleteItem,
};

/** Answers a TransactWriteItems body. */
async function answerTransaction(options: DynamoFrontOptions, req: IncomingMessage, res: ServerResponse, body: Buffer) {
  let data: unknown;
  try {
    data = JSON.parse(body.toString());
  } catch {
    return send(req, res, { __type: 'com.amazon.coral.service#SerializationException' }, 400);
  }
  if (!hasAuthentication(req)) {
    return send(
      req,
      res,
      {
        __type: 'com.amazon.coral.service#MissingAuthenticationTokenException',
        message: 'Request is missing Authentication Token',
      },
      400,
    );
  }
  try {
    const request = await readTransactWrite(data, options.store);
    send(req, res, await options.transact(request));
  } catch (err) {
    sendError(req, res, err);
  }
}

/** The claim key of a single-item write, or undefined when dynalite should judge the request itself. */
async function writtenItem(store: DynaliteStore, operation: string, body: Buffer): Promise<string | undefined> {
  try {
    const validation = SINGLE_WRITES[operation]!;
    const data = dynaliteValidations.checkTypes(JSON.parse(body.toString()), validation.types);
    dynaliteValidations.checkValidations(data, validation.types, validation.custom, store);
    const table = await promised<DynaliteTable>((cb) => store.getTable(data.TableName, cb));
    const keyed = (operation === 'PutItem' ? data.Item : data.Key) as DynamoItem;
    const invalid: DynaliteError | null | undefined =
      operation === 'PutItem' ? dynaliteDb.validateItem(keyed, table) : dynaliteDb.validateKey(keyed, table);
    if (invalid) return undefined;
    return `${table.TableName}\u0000${dynaliteDb.createKey(keyed, table)}`;
  } catch {
    return undefined;
  }
}

/** Hands a single-item write on to dynalite unless a transaction holds its item. */
async function guardWrite(
  options: DynamoFrontOptions,
  req: IncomingMessage,
  res: ServerResponse,
  operation: string,
  body: Buffer,
) {
  const item = await writtenItem(options.store, operation, body);
  if (item !== undefined) {
    const claim = options.claims.claimForWrite(item);
    if (!claim) {
      options.hooks.conflictsAnswered.writes += 1;
      return sendError(req, res, dynamoError('TransactionConflictException', 'Transaction is ongoing for the item'));
    }
    res.once('finish', () => claim.release());
    res.once('close', () => claim.release());
    await options.hooks.writeHeld();
  }
  options.dynalite(replayed(req, body), res);
}

/** The listener to put in front of dynalite's. */
export function dynamoFront(options: DynamoFrontOptions): RequestListener {
  return (req, res) => {
    const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    const transaction = operation === 'TransactWriteItems';
    if ((!transaction && !(operation in SINGLE_WRITES)) || !isJsonPost(req)) return options.dynalite(req, res);
    readBody(req, res)
      .then((body) => {
        if (body === undefined) return;
        if (transaction) return answerTransaction(options, req, res, body);
        return guardWrite(options, req, res, operation, body);
      })
      .catch((err: unknown) => sendError(req, res, err));
  };
}
