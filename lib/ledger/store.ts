/**
 * The ledger table as the protocol needs it: strongly consistent reads,
 * whole-item writes conditional on the revision they were computed from, and
 * unconditional puts for facts that never change (links, pending markers),
 * and writes that go together: a claim with its pending marker and member
 * item, an outcome with its link, all or none in one TransactWriteItems
 * (docs/ledger-protocol.md, "Writes that go together"). The local stack's
 * DynamoDB answers transactions as DynamoDB does (local/stack.ts).
 *
 * Every read asked for in the same turn of the event loop goes in one
 * BatchGetItem, and so does every unconditional put in one BatchWriteItem:
 * the records of a batch claim together, so their pending markers (and the
 * links of answers that arrive together) share a round trip instead of one
 * call each. A put still resolves only once DynamoDB has written its item
 * (unprocessed items are put again one by one), and goes out in the turn it
 * was asked for, alongside the conditional write it accompanies: nothing is
 * held back for later (docs/ledger-protocol.md). Conditional writes cannot be
 * batched (BatchWriteItem takes no condition) and go one PutItem each.
 *
 * Over the AWS JSON transport (lib/platform/dynamodb-client.ts), with
 * attribute values built by lib/platform/attribute-values.ts: the AWS SDK's
 * client cost several times the CPU per call for the same request
 * (docs/performance.md).
 */

import { randomUUID } from 'node:crypto';
import { type Attributes, fromAttributes, toAttributes } from '../platform/attribute-values.js';
import { AwsServiceError } from '../platform/aws-json.js';
import { fullJitterDelay } from '../platform/backoff.js';
import type { CancellationReason, DynamoDb, TransactWrite } from '../platform/dynamodb-client.js';

/** A ledger item as plain data (attribute values are converted by the store). */
export type Item = Record<string, unknown>;
/** Anything with a key: a chain, a link, sweep progress. */
export type Keyed = { readonly pk: string };

/** The table cannot be reached or answered unexpectedly: the record stays on the queue. */
export class LedgerUnavailableError extends Error {
  override readonly name = 'LedgerUnavailableError';
}

/** What the protocol needs from a table; the model-based test runs it on a map. */
export interface LedgerStore {
  read(pk: string): Promise<Item | undefined>;
  /** Writes `item` if the stored item is at revision `expectedRev` (undefined: absent). */
  write(item: Keyed, expectedRev: number | undefined): Promise<'written' | 'conflict'>;
  put(item: Keyed): Promise<void>;
  /** Puts many unconditional items; returns the keys that could not be written. */
  putAll(items: ReadonlyArray<Keyed>): Promise<string[]>;
  /**
   * Writes a pending marker's fields and puts `marker.link_to` first in its
   * `recent` list, in one atomic update, so concurrent claims on one desktop
   * and script all stay in it. A list of MARKER_RECENT entries is pruned to
   * its newest MARKER_KEPT distinct chains (`prunedRecent`), by a write that
   * is refused if any claim added an entry meanwhile (then pruned again).
   */
  putMarker(marker: Marker): Promise<void>;
  /**
   * Writes all of `writes` or none of them, in one call. Answers the indexes
   * of the `write`s refused because the stored item was not at the revision
   * they name (none: all were written). A full pending marker does not refuse
   * the set: it is pruned as `putMarker` prunes it, and the set sent again. A
   * set of one `write` is that write alone.
   */
  writeTogether(writes: readonly TogetherWrite[]): Promise<number[]>;
}

/**
 * One write of a set written together: a conditional `write` (as `LedgerStore.write`), an unconditional `put`, or a
 * pending `marker` (as `putMarker`).
 */
export type TogetherWrite =
  | { readonly kind: 'write'; readonly item: Keyed; readonly expectedRev: number | undefined }
  | { readonly kind: 'put'; readonly item: Keyed }
  | { readonly kind: 'marker'; readonly marker: Marker };

/**
 * A pending marker (lib/ledger/chain.ts pendingKey): the last chain that claimed, and the ones before it, newest first.
 */
export interface Marker extends Keyed {
  readonly link_to: string;
  readonly generation: number;
  readonly expires_at: number;
}

/**
 * How many entries a pending marker's `recent` list holds before it is
 * pruned. A chain stays on it until MARKER_KEPT other chains have claimed on
 * its desktop and script after it, however often each claimed
 * (docs/ledger-protocol.md, "Pending markers").
 */
export const MARKER_RECENT = 32;
/** How many distinct chains, the newest first, a pruned marker keeps. */
export const MARKER_KEPT = 16;
/** Rounds of appending and pruning a marker whose entries keep changing before the claim fails as unavailable. */
const MARKER_ROUNDS = 5;
/**
 * Tries of a write that meets a transaction on its item (DynamoDB's
 * TransactionConflict) before it fails as unavailable, and the full-jitter
 * waits between them: DynamoDB asks that the write be sent again, and a
 * transaction holds its items for milliseconds.
 */
const CONFLICT_TRIES = 8;
const CONFLICT_BASE_MS = 10;
const CONFLICT_CAP_MS = 200;
/**
 * The cancellation reasons of a transaction that is sent again after that wait: another writer held one of its items,
 * or its table was throttled (the transport sends a throttled single-item call again; a cancelled set is ours to).
 */
const SEND_AGAIN = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded']);

/** A full marker's list with `linkTo` put first: each chain once, the newest MARKER_KEPT. */
export function prunedRecent(linkTo: string, recent: readonly unknown[]): string[] {
  const keys = [linkTo, ...recent.filter((key): key is string => typeof key === 'string')];
  return [...new Set(keys)].slice(0, MARKER_KEPT);
}

/** The marker's list as stored (none: an empty list). */
function recentOf(marker: Item | undefined): unknown[] {
  return Array.isArray(marker?.['recent']) ? (marker['recent'] as unknown[]) : [];
}

/** Whether a stored marker's list is full, so `marker` is written as the pruned list (`prunedMarker`). */
function isFull(stored: Item | undefined): boolean {
  return recentOf(stored).length >= MARKER_RECENT;
}

/**
 * The update that puts `marker.link_to` first in its list, with the marker's fields, unless the list is full. `rev`
 * counts the list's changes, so a prune computed from one read is refused if an entry came in since.
 */
function markerAppend(marker: Marker) {
  return {
    Key: { pk: { S: marker.pk } },
    UpdateExpression:
      'SET link_to = :to, generation = :g, expires_at = :ttl, recent = list_append(:one, if_not_exists(recent, :none)), rev = if_not_exists(rev, :zero) + :inc',
    ConditionExpression: 'attribute_not_exists(recent) OR size(recent) < :max',
    ExpressionAttributeValues: toAttributes({
      ':to': marker.link_to,
      ':g': marker.generation,
      ':ttl': marker.expires_at,
      ':one': [marker.link_to],
      ':none': [],
      ':max': MARKER_RECENT,
      ':zero': 0,
      ':inc': 1,
    }),
  };
}

/** `marker` over the `stored` one's list, pruned (`prunedRecent`), unless the list changed since it was read. */
function prunedMarker(marker: Marker, stored: Item | undefined) {
  const rev = typeof stored?.['rev'] === 'number' ? stored['rev'] : undefined;
  const item = { ...marker, recent: prunedRecent(marker.link_to, recentOf(stored)), rev: (rev ?? 0) + 1 };
  // A marker written before markers had a revision has none.
  const condition =
    rev === undefined
      ? { ConditionExpression: 'attribute_not_exists(rev)' }
      : { ConditionExpression: 'rev = :rev', ExpressionAttributeValues: toAttributes({ ':rev': rev }) };
  return { Item: toAttributes(item), ...condition };
}

/** The condition of a write at revision `expectedRev` (undefined: the item must be absent). */
function revisionCondition(expectedRev: number | undefined) {
  return expectedRev === undefined
    ? { ConditionExpression: 'attribute_not_exists(pk)' }
    : { ConditionExpression: 'rev = :rev', ExpressionAttributeValues: { ':rev': { N: String(expectedRev) } } };
}

/** A cancelled transaction's reasons, one per write; undefined for any other error. */
function cancellationReasons(error: unknown): readonly CancellationReason[] | undefined {
  if (!(error instanceof AwsServiceError) || error.name !== 'TransactionCanceledException') return undefined;
  const reasons = error.answer['CancellationReasons'];
  return Array.isArray(reasons) ? (reasons as CancellationReason[]) : undefined;
}

const MAX_BATCH_GET = 100;
const MAX_BATCH_WRITE = 25;
/** Rounds of BatchGetItem for keys DynamoDB leaves unprocessed before the read fails. */
const MAX_READ_ROUNDS = 5;

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

/**
 * The LedgerStore on a DynamoDB table: the reads of one turn of the event loop go in one BatchGetItem, its
 * unconditional puts in one BatchWriteItem. A conditional write that finds another revision returns `conflict`; any
 * other failure is a LedgerUnavailableError.
 */
export class DynamoLedgerStore implements LedgerStore {
  private reads = new Map<string, Array<Waiter<Item | undefined>>>();
  private puts: Array<{ item: Keyed; attributes: Attributes } & Waiter<void>> = [];
  private scheduled = false;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    private readonly db: DynamoDb,
    readonly tableName: string,
    /** Waits and jitter between tries of a write that met a transaction (injected in tests). */
    options: { readonly sleep?: (ms: number) => Promise<void>; readonly random?: () => number } = {},
  ) {
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
  }

  read(pk: string): Promise<Item | undefined> {
    return new Promise((resolve, reject) => {
      const waiters = this.reads.get(pk) ?? [];
      waiters.push({ resolve, reject });
      this.reads.set(pk, waiters);
      this.schedule();
    });
  }

  async write(item: Keyed, expectedRev: number | undefined): Promise<'written' | 'conflict'> {
    return this.conditional(() =>
      this.db.send('PutItem', {
        TableName: this.tableName,
        Item: toAttributes(item),
        ...revisionCondition(expectedRev),
      }),
    );
  }

  /**
   * Sends a conditional write: 'conflict' when DynamoDB refused its condition, the ledger unavailable otherwise. A
   * write that met a transaction on its item is sent again.
   */
  private async conditional(send: () => Promise<unknown>): Promise<'written' | 'conflict'> {
    for (let attempt = 1; ; attempt++) {
      try {
        await send();
        return 'written';
      } catch (error) {
        // By AWS's error code (lib/platform/aws-json.ts): only a refused condition is a conflict.
        if ((error as Error).name === 'ConditionalCheckFailedException') return 'conflict';
        if ((error as Error).name !== 'TransactionConflictException' || attempt === CONFLICT_TRIES)
          throw this.unavailable('written', error);
        await this.conflictWait(attempt);
      }
    }
  }

  /** The wait before sending again a write that met a transaction on its item. */
  private conflictWait(attempt: number): Promise<void> {
    return this.sleep(fullJitterDelay(attempt - 1, CONFLICT_BASE_MS, CONFLICT_CAP_MS, this.random));
  }

  async writeTogether(writes: readonly TogetherWrite[]): Promise<number[]> {
    // One conditional write needs no transaction (which DynamoDB would bill twice): a PutItem.
    const [only] = writes;
    if (writes.length === 1 && only?.kind === 'write')
      return (await this.write(only.item, only.expectedRev)) === 'written' ? [] : [0];
    // The markers found full, as they stood: each is written next as its pruned list, at the revision it was found at.
    const seen = new Map<number, Item | undefined>();
    for (let round = 1; ; round++) {
      const items = this.classified('written', () => writes.map((w, i) => this.transactWrite(w, seen.get(i))));
      if (items instanceof LedgerUnavailableError) throw items;
      let reasons: readonly CancellationReason[] | undefined;
      try {
        // One token per set: the transport's own tries of this call are then applied once.
        await this.db.send('TransactWriteItems', { TransactItems: items, ClientRequestToken: randomUUID() });
        return [];
      } catch (error) {
        reasons = cancellationReasons(error);
        if (!reasons) throw this.unavailable('written', error);
      }
      const refused = writes.flatMap((w, i) =>
        w.kind === 'write' && reasons[i]?.Code === 'ConditionalCheckFailed' ? [i] : [],
      );
      if (refused.length > 0) return refused;
      const met = await this.nextRound(writes, reasons, seen);
      if (round === CONFLICT_TRIES)
        throw this.unavailable('written', new Error(`${writes.length} writes together kept meeting other writes`));
      if (met === 'conflict') await this.conflictWait(round);
    }
  }

  /**
   * What a cancelled set meets, for its next round: a full marker (its stored item noted in `seen`), or another
   * transaction or throttling (SEND_AGAIN). Any other reason makes the ledger unavailable.
   */
  private async nextRound(
    writes: readonly TogetherWrite[],
    reasons: readonly CancellationReason[],
    seen: Map<number, Item | undefined>,
  ): Promise<'conflict' | 'full'> {
    let met: 'conflict' | 'full' = 'full';
    for (const [i, w] of writes.entries()) {
      const { Code: code = 'None', Message: message, Item: stored } = reasons[i] ?? {};
      if (code === 'None') continue;
      if (SEND_AGAIN.has(code)) met = 'conflict';
      else if (w.kind === 'marker' && code === 'ConditionalCheckFailed') {
        const item = stored ? this.classified('read', () => fromAttributes(stored)) : await this.read(w.marker.pk);
        if (item instanceof LedgerUnavailableError) throw item;
        seen.set(i, item);
      } else throw this.unavailable('written', new AwsServiceError(code, message ?? code, 400, false));
    }
    return met;
  }

  /** One write of a transaction: a marker found full is written as its pruned list. */
  private transactWrite(write: TogetherWrite, seen: Item | undefined): TransactWrite {
    const TableName = this.tableName;
    if (write.kind === 'put') return { Put: { TableName, Item: toAttributes(write.item) } };
    if (write.kind === 'write')
      return { Put: { TableName, Item: toAttributes(write.item), ...revisionCondition(write.expectedRev) } };
    const onRefusal = { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } as const;
    return isFull(seen)
      ? { Put: { TableName, ...prunedMarker(write.marker, seen), ...onRefusal } }
      : { Update: { TableName, ...markerAppend(write.marker), ...onRefusal } };
  }

  put(item: Keyed): Promise<void> {
    return new Promise((resolve, reject) => {
      // Marshalled here: an item that cannot be stored fails its own put, not the batch it would have joined.
      const attributes = this.classified('written', () => toAttributes(item));
      if (attributes instanceof LedgerUnavailableError) return reject(attributes);
      this.puts.push({ item, attributes, resolve, reject });
      this.schedule();
    });
  }

  async putAll(items: ReadonlyArray<Keyed>): Promise<string[]> {
    const settled = await Promise.allSettled(items.map((item) => this.put(item)));
    return items.filter((_, i) => settled[i]!.status === 'rejected').map((item) => item.pk);
  }

  async putMarker(marker: Marker): Promise<void> {
    for (let round = 1; ; round++) {
      if ((await this.appendToMarker(marker)) === 'written') return;
      if ((await this.pruneMarker(marker)) === 'written') return;
      if (round === MARKER_ROUNDS)
        throw this.unavailable('written', new Error(`pending marker ${marker.pk} kept changing while it was pruned`));
    }
  }

  /** Puts `marker.link_to` first in its list, with the marker's fields, unless the list is full. */
  private appendToMarker(marker: Marker): Promise<'written' | 'conflict'> {
    return this.conditional(() => this.db.send('UpdateItem', { TableName: this.tableName, ...markerAppend(marker) }));
  }

  /** Rewrites a full marker as `prunedRecent` of what it holds, unless its list changed since it was read. */
  private async pruneMarker(marker: Marker): Promise<'written' | 'conflict'> {
    const current = await this.read(marker.pk);
    return this.conditional(() =>
      this.db.send('PutItem', { TableName: this.tableName, ...prunedMarker(marker, current) }),
    );
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flushReads();
      this.flushPuts();
    });
  }

  private flushPuts(): void {
    const puts = this.puts;
    this.puts = [];
    // A batch may not name a key twice: a second put of a key goes in a later batch.
    const batches: Array<typeof puts> = [];
    for (const put of puts) {
      const batch = batches.find((b) => b.length < MAX_BATCH_WRITE && !b.some((p) => p.item.pk === put.item.pk));
      if (batch) batch.push(put);
      else batches.push([put]);
    }
    for (const batch of batches) {
      this.writeBatch(batch).then(
        (failed) => batch.forEach((p) => (failed.has(p.item.pk) ? p.reject(failed.get(p.item.pk)) : p.resolve())),
        (error: unknown) => batch.forEach((p) => p.reject(error)),
      );
    }
  }

  /** One BatchWriteItem whose unprocessed items are put one by one; answers the keys not written. */
  private async writeBatch(
    puts: ReadonlyArray<{ item: Keyed; attributes: Attributes }>,
  ): Promise<Map<string, unknown>> {
    const failed = new Map<string, unknown>();
    const put = (attributes: Attributes) => this.db.send('PutItem', { TableName: this.tableName, Item: attributes });
    const alone = (some: typeof puts) =>
      Promise.all(
        some.map((p) =>
          put(p.attributes).catch((error: unknown) => failed.set(p.item.pk, this.unavailable('written', error))),
        ),
      );
    if (puts.length === 1) return alone(puts).then(() => failed);
    let result;
    try {
      result = await this.db.send('BatchWriteItem', {
        RequestItems: { [this.tableName]: puts.map((p) => ({ PutRequest: { Item: p.attributes } })) },
      });
    } catch (error) {
      // One item DynamoDB refuses (over 400 KB) refuses the whole batch: each is put alone and answered for itself.
      if ((error as Error).name === 'ValidationException') return alone(puts).then(() => failed);
      throw this.unavailable('written', error);
    }
    const left = new Set((result.UnprocessedItems?.[this.tableName] ?? []).map((r) => r.PutRequest?.Item?.['pk']?.S));
    await alone(puts.filter((p) => left.has(p.item.pk)));
    return failed;
  }

  private async flushReads(): Promise<void> {
    const batch = this.reads;
    this.reads = new Map();
    const keys = [...batch.keys()];
    for (let i = 0; i < keys.length; i += MAX_BATCH_GET) {
      const chunk = keys.slice(i, i + MAX_BATCH_GET);
      try {
        const found = await this.batchGet(chunk);
        for (const key of chunk) {
          const item = found.get(key);
          for (const waiter of batch.get(key)!)
            if (item instanceof Error) waiter.reject(item);
            else waiter.resolve(item);
        }
      } catch (error) {
        for (const key of chunk) for (const waiter of batch.get(key)!) waiter.reject(error);
      }
    }
  }

  /** One BatchGetItem (strongly consistent); keys DynamoDB leaves unprocessed are asked for again. */
  private async batchGet(keys: readonly string[]): Promise<Map<string, Item | Error>> {
    const found = new Map<string, Item | Error>();
    let ask: Attributes[] = keys.map((pk) => ({ pk: { S: pk } }));
    for (let round = 0; ask.length > 0; round++) {
      if (round === MAX_READ_ROUNDS)
        throw new LedgerUnavailableError(
          `ledger ${this.tableName} could not be read: keys left unprocessed ${MAX_READ_ROUNDS} times`,
        );
      let result;
      try {
        result = await this.db.send('BatchGetItem', {
          RequestItems: { [this.tableName]: { Keys: ask, ConsistentRead: true } },
        });
      } catch (error) {
        throw this.unavailable('read', error);
      }
      // Decoded one by one: an item that cannot be read fails its own key only, as unavailable.
      for (const attributes of result.Responses?.[this.tableName] ?? [])
        found.set(
          String(attributes['pk']?.S),
          this.classified('read', () => fromAttributes(attributes)),
        );
      ask = result.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
    }
    return found;
  }

  /**
   * What `make` returns, or what it threw as unavailable: an item that cannot be marshalled fails its own call only.
   */
  private classified<T>(what: 'read' | 'written', make: () => T): T | LedgerUnavailableError {
    try {
      return make();
    } catch (error) {
      return this.unavailable(what, error);
    }
  }

  private unavailable(what: 'read' | 'written', error: unknown): LedgerUnavailableError {
    if (error instanceof LedgerUnavailableError) return error;
    const e = error as Error;
    return new LedgerUnavailableError(
      `ledger ${this.tableName} could not be ${what}: ${e.name}${e.message && e.message !== e.name ? ` (${e.message.slice(0, 200)})` : ''}`,
    );
  }
}
