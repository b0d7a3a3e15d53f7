import { BatchGetItemCommand, BatchWriteItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { fromAttributes, toAttributes, type Attributes } from '../platform/attribute-values.js';

/**
 * The ledger table as the protocol needs it: strongly consistent reads
 * (batched: every read asked for in the same turn of the event loop goes in
 * one BatchGetItem), whole-item writes conditional on the revision they were
 * computed from, and unconditional puts for facts that never change (links).
 * Single-item conditional writes only, so it runs on DynamoDB and dynalite.
 * On the low-level client with attribute values built here
 * (lib/platform/attribute-values.ts): the DocumentClient's marshalling
 * middleware cost CPU on every call for the same result.
 */

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
}

const MAX_BATCH_GET = 100;
const MAX_BATCH_WRITE = 25;

export class DynamoLedgerStore implements LedgerStore {
  private pending = new Map<string, Array<{ resolve: (item: Item | undefined) => void; reject: (error: unknown) => void }>>();
  private scheduled = false;

  constructor(
    private readonly db: DynamoDBClient,
    readonly tableName: string,
  ) {}

  read(pk: string): Promise<Item | undefined> {
    return new Promise((resolve, reject) => {
      const waiters = this.pending.get(pk) ?? [];
      waiters.push({ resolve, reject });
      this.pending.set(pk, waiters);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  async write(item: Keyed, expectedRev: number | undefined): Promise<'written' | 'conflict'> {
    const condition = expectedRev === undefined ? { ConditionExpression: 'attribute_not_exists(pk)' } : { ConditionExpression: 'rev = :rev', ExpressionAttributeValues: { ':rev': { N: String(expectedRev) } } };
    try {
      await this.db.send(new PutItemCommand({ TableName: this.tableName, Item: toAttributes(item), ...condition }));
      return 'written';
    } catch (error) {
      // By name: the error class may come from another copy of the SDK than the one imported here.
      if ((error as Error).name === 'ConditionalCheckFailedException') return 'conflict';
      throw this.unavailable('written', error);
    }
  }

  async put(item: Keyed): Promise<void> {
    try {
      await this.db.send(new PutItemCommand({ TableName: this.tableName, Item: toAttributes(item) }));
    } catch (error) {
      throw this.unavailable('written', error);
    }
  }

  async putAll(items: ReadonlyArray<Keyed>): Promise<string[]> {
    const failed: string[] = [];
    const chunks: Array<ReadonlyArray<Keyed>> = [];
    for (let i = 0; i < items.length; i += MAX_BATCH_WRITE) chunks.push(items.slice(i, i + MAX_BATCH_WRITE));
    await Promise.all(
      chunks.map(async (chunk) => {
        try {
          const result = await this.db.send(new BatchWriteItemCommand({ RequestItems: { [this.tableName]: chunk.map((item) => ({ PutRequest: { Item: toAttributes(item) } })) } }));
          // Whatever DynamoDB left unprocessed is written one by one.
          const left = (result.UnprocessedItems?.[this.tableName] ?? []).map((r) => fromAttributes(r.PutRequest?.Item ?? {}) as Keyed);
          await Promise.all(left.map((item) => this.put(item).catch(() => failed.push(item.pk))));
        } catch {
          failed.push(...chunk.map((i) => i.pk));
        }
      }),
    );
    return failed;
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    this.scheduled = false;
    const keys = [...batch.keys()];
    for (let i = 0; i < keys.length; i += MAX_BATCH_GET) {
      const chunk = keys.slice(i, i + MAX_BATCH_GET);
      try {
        const found = await this.batchGet(chunk);
        for (const key of chunk) for (const waiter of batch.get(key)!) waiter.resolve(found.get(key));
      } catch (error) {
        for (const key of chunk) for (const waiter of batch.get(key)!) waiter.reject(error);
      }
    }
  }

  /** One BatchGetItem (strongly consistent); keys DynamoDB leaves unprocessed are asked for again. */
  private async batchGet(keys: readonly string[]): Promise<Map<string, Item>> {
    const found = new Map<string, Item>();
    let ask: Attributes[] = keys.map((pk) => ({ pk: { S: pk } }));
    for (let round = 0; ask.length > 0; round++) {
      if (round === 5) throw new LedgerUnavailableError(`ledger ${this.tableName} could not be read: keys left unprocessed 5 times`);
      let result;
      try {
        result = await this.db.send(new BatchGetItemCommand({ RequestItems: { [this.tableName]: { Keys: ask, ConsistentRead: true } } }));
      } catch (error) {
        throw this.unavailable('read', error);
      }
      for (const attributes of result.Responses?.[this.tableName] ?? []) {
        const item = fromAttributes(attributes);
        found.set(String(item['pk']), item);
      }
      ask = result.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
    }
    return found;
  }

  private unavailable(what: 'read' | 'written', error: unknown): LedgerUnavailableError {
    const e = error as Error;
    return new LedgerUnavailableError(`ledger ${this.tableName} could not be ${what}: ${e.name}${e.message && e.message !== e.name ? ` (${e.message.slice(0, 200)})` : ''}`);
  }
}
