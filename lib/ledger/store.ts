/**
 * The ledger table as the protocol needs it: strongly consistent reads,
 * whole-item writes conditional on the revision they were computed from, and
 * unconditional puts for facts that never change (links, pending markers).
 * Single-item conditional writes only, so it runs on DynamoDB and dynalite.
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

import { type Attributes, fromAttributes, toAttributes } from '../platform/attribute-values.js';
import type { DynamoDb } from '../platform/dynamodb-client.js';

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
}

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

/** A full marker's list with `linkTo` put first: each chain once, the newest MARKER_KEPT. */
export function prunedRecent(linkTo: string, recent: readonly unknown[]): string[] {
  const keys = [linkTo, ...recent.filter((key): key is string => typeof key === 'string')];
  return [...new Set(keys)].slice(0, MARKER_KEPT);
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

  constructor(
    private readonly db: DynamoDb,
    readonly tableName: string,
  ) {}

  read(pk: string): Promise<Item | undefined> {
    return new Promise((resolve, reject) => {
      const waiters = this.reads.get(pk) ?? [];
      waiters.push({ resolve, reject });
      this.reads.set(pk, waiters);
      this.schedule();
    });
  }

  async write(item: Keyed, expectedRev: number | undefined): Promise<'written' | 'conflict'> {
    const condition =
      expectedRev === undefined
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : { ConditionExpression: 'rev = :rev', ExpressionAttributeValues: { ':rev': { N: String(expectedRev) } } };
    return this.conditional(() =>
      this.db.send('PutItem', { TableName: this.tableName, Item: toAttributes(item), ...condition }),
    );
  }

  /** Sends a conditional write: 'conflict' when DynamoDB refused its condition, the ledger unavailable otherwise. */
  private async conditional(send: () => Promise<unknown>): Promise<'written' | 'conflict'> {
    try {
      await send();
      return 'written';
    } catch (error) {
      // By AWS's error code (lib/platform/aws-json.ts): only a refused condition is a conflict.
      if ((error as Error).name === 'ConditionalCheckFailedException') return 'conflict';
      throw this.unavailable('written', error);
    }
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
  private async appendToMarker(marker: Marker): Promise<'written' | 'conflict'> {
    const values = toAttributes({
      ':to': marker.link_to,
      ':g': marker.generation,
      ':ttl': marker.expires_at,
      ':one': [marker.link_to],
      ':none': [],
      ':max': MARKER_RECENT,
      ':zero': 0,
      ':inc': 1,
    });
    // `rev` counts the list's changes, so a prune computed from one read is refused if an entry came in since.
    const update =
      'SET link_to = :to, generation = :g, expires_at = :ttl, recent = list_append(:one, if_not_exists(recent, :none)), rev = if_not_exists(rev, :zero) + :inc';
    return this.conditional(() =>
      this.db.send('UpdateItem', {
        TableName: this.tableName,
        Key: { pk: { S: marker.pk } },
        UpdateExpression: update,
        ConditionExpression: 'attribute_not_exists(recent) OR size(recent) < :max',
        ExpressionAttributeValues: values,
      }),
    );
  }

  /** Rewrites a full marker as `prunedRecent` of what it holds, unless its list changed since it was read. */
  private async pruneMarker(marker: Marker): Promise<'written' | 'conflict'> {
    const current = await this.read(marker.pk);
    const recent = Array.isArray(current?.['recent']) ? (current['recent'] as unknown[]) : [];
    const rev = typeof current?.['rev'] === 'number' ? current['rev'] : undefined;
    const item = { ...marker, recent: prunedRecent(marker.link_to, recent), rev: (rev ?? 0) + 1 } as Keyed;
    const condition =
      rev === undefined
        ? { ConditionExpression: 'attribute_not_exists(rev)' }
        : { ConditionExpression: 'rev = :rev', ExpressionAttributeValues: toAttributes({ ':rev': rev }) };
    return this.conditional(() =>
      this.db.send('PutItem', { TableName: this.tableName, Item: toAttributes(item), ...condition }),
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
