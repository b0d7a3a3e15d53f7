/**
 * The request listener in front of dynalite's own: it answers TransactWriteItems (which dynalite lacks) with
 * dynalite's headers and error shapes, refuses a single-item write of an item a transaction holds with
 * TransactionConflictException, and hands every other request to dynalite unchanged.
 */

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import {
  type DynaliteError,
  type DynaliteStore,
  type DynaliteTable,
  type DynamoItem,
  dynaliteDb,
  dynaliteValidations,
  dynamoError,
  isDynaliteError,
  type OperationValidation,
  operationValidations,
  promised,
} from './dynalite-internals.js';
import type { ItemClaims } from './item-claims.js';
import { readTransactWrite } from './transact-write-request.js';
import type { TransactionHooks } from './transaction-hooks.js';

/** What the front needs: dynalite's listener and store, and the transaction runner. */
export interface DynamoFrontOptions {
  readonly dynalite: RequestListener;
  readonly store: DynaliteStore;
  readonly claims: ItemClaims;
  readonly hooks: TransactionHooks;
  /** Runs a validated transaction, resolving with the answer's body. */
  readonly transact: (request: Awaited<ReturnType<typeof readTransactWrite>>) => Promise<Record<string, unknown>>;
}

const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

const SINGLE_WRITES: Record<string, OperationValidation> = {
  PutItem: operationValidations.putItem,
  UpdateItem: operationValidations.updateItem,
  DeleteItem: operationValidations.deleteItem,
};

/** The request's body, or undefined once it has answered 413 for a body over dynalite's limit. */
function readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > MAX_REQUEST_BYTES) {
        req.removeAllListeners();
        res.statusCode = 413;
        res.end();
        resolve(undefined);
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The request again, its body already read, for dynalite's listener to read as if it had just arrived. */
function replayed(req: IncomingMessage, body: Buffer): IncomingMessage {
  const replay = Readable.from(body.length > 0 ? [body] : []);
  return Object.assign(replay, { headers: req.headers, url: req.url, method: req.method, socket: req.socket }) as never;
}

/** Answers as dynalite does: a request id, the body's CRC32, the request's JSON content type. */
function send(req: IncomingMessage, res: ServerResponse, data: unknown, statusCode = 200): void {
  const body = JSON.stringify(data);
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
  res.statusCode = statusCode;
  res.setHeader('x-amzn-RequestId', requestId());
  res.setHeader('x-amz-crc32', crc32(body));
  res.setHeader('Content-Type', contentType === 'application/x-amz-json-1.0' ? contentType : 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(body, 'utf8'));
  res.end(body);
}

/** A 52-character request id like dynalite's. */
function requestId(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(39)))
    .toString('base64')
    .toUpperCase()
    .replace(/\+|\//g, '0');
}

function sendError(req: IncomingMessage, res: ServerResponse, err: unknown): void {
  if (isDynaliteError(err)) return send(req, res, err.body, err.statusCode);
  const message = err instanceof Error ? err.message : String(err);
  send(req, res, { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message }, 500);
}

/** Whether dynalite would read this request at all (a JSON POST); others go to it to answer as it does. */
function isJsonPost(req: IncomingMessage): boolean {
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
  return req.method === 'POST' && (contentType === 'application/json' || contentType === 'application/x-amz-json-1.0');
}

function hasAuthentication(req: IncomingMessage): boolean {
  const auth = req.headers.authorization;
  if (auth) return auth.trim().startsWith('AWS4-');
  return new URL(req.url ?? '/', 'http://localhost').searchParams.has('X-Amz-Algorithm');
}

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
