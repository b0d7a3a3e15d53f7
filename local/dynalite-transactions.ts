/**
 * dynalite with TransactWriteItems: creates dynalite's server, keeps hold of the store it creates, and puts the
 * transaction stand-in in front of dynalite's request listener on the same server.
 */

import type { RequestListener, Server } from 'node:http';
import dynalite from 'dynalite';
import { type DynaliteStore, dynaliteDb } from './dynalite-internals.js';
import { dynamoFront } from './dynamo-front.js';
import { IdempotencyTokens } from './idempotency-tokens.js';
import { ItemClaims } from './item-claims.js';
import { transactWriteItems } from './transact-write-items.js';
import { type DynamoTransactionControls, TransactionHooks } from './transaction-hooks.js';

/** dynalite's options as `dynalite()` takes them. */
export type DynaliteOptions = Parameters<typeof dynalite>[0];

/** `dynalite(options)`, with the store it creates (dynalite calls `db.create` once, as it starts). */
function dynaliteWithStore(options: DynaliteOptions): { server: Server; store: DynaliteStore } {
  const create = dynaliteDb.create;
  let store: DynaliteStore | undefined;
  dynaliteDb.create = (opts) => {
    store = create(opts);
    return store;
  };
  try {
    const server = dynalite(options);
    if (!store) throw new Error('dynalite did not create its store through dynalite/db');
    return { server, store };
  } finally {
    dynaliteDb.create = create;
  }
}

/** A dynalite server that also answers TransactWriteItems, and the controls a test steers it with. */
export function dynaliteWithTransactions(
  options: DynaliteOptions,
  clock: () => number = Date.now,
): { server: Server; transactions: DynamoTransactionControls } {
  const { server, store } = dynaliteWithStore(options);
  const [listener] = server.listeners('request') as RequestListener[];
  if (!listener) throw new Error('dynalite created a server without a request listener');
  server.removeListener('request', listener);
  const claims = new ItemClaims();
  const hooks = new TransactionHooks();
  const context = { store, claims, tokens: new IdempotencyTokens(clock), hooks };
  server.on(
    'request',
    dynamoFront({
      dynalite: listener,
      store,
      claims,
      hooks,
      transact: (request) => transactWriteItems(context, request),
    }),
  );
  return { server, transactions: hooks };
}
