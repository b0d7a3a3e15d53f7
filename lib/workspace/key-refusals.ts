/**
 * The fleet's memory of refused key fingerprints, in the ledger table: one item
 * `pk = key#<key fingerprint>` (a sha256 fingerprint, lib/workspace/key-gate.ts: never the
 * key) with `refused_until` (epoch ms), `key_version`, `refused_at` and
 * `expires_at` (the table's TTL). Every container reads it before its first
 * call with a key fingerprint in an invocation, so a key Workspace refused in one
 * container is not signed with by the others until the cool-down ends or the
 * secret holds a new version (docs/key-safety.md).
 */

import { fromAttribute, toAttributes } from '../platform/attribute-values.js';
import type { DynamoDb } from '../platform/dynamodb-client.js';
import type { SharedRefusals } from './key-gate.js';

/** The ledger table's name, and the clock. */
export interface KeyRefusalStoreOptions {
  readonly tableName: string;
  readonly now?: () => number;
}

/** A refusal item outlives its cool-down by a day, then DynamoDB's TTL removes it. */
const KEEP_AFTER_COOLDOWN_SECONDS = 86_400;

/** The key of a key fingerprint's refusal item. */
export function refusalKey(fingerprint: string): string {
  return `key#${fingerprint}`;
}

/**
 * The fleet's refusals in the ledger table, one item per key fingerprint (`refusalKey`), read before a fingerprint's
 * first call in an invocation.
 */
export class KeyRefusalStore implements SharedRefusals {
  private readonly now: () => number;

  constructor(
    private readonly db: DynamoDb,
    private readonly options: KeyRefusalStoreOptions,
  ) {
    this.now = options.now ?? (() => Date.now());
  }

  async refusedUntil(fingerprint: string): Promise<number> {
    // Strongly consistent: a refusal written a moment ago by another container must be seen.
    const result = await this.db.send('GetItem', {
      TableName: this.options.tableName,
      Key: { pk: { S: refusalKey(fingerprint) } },
      ConsistentRead: true,
    });
    const stored = result.Item?.['refused_until'];
    const until = stored?.N === undefined ? undefined : fromAttribute(stored, 'refused_until');
    return Number.isFinite(until) ? (until as number) : 0;
  }

  /** Records a refusal; a later `refused_until` already there is kept (a cool-down is never shortened). */
  async record(fingerprint: string, refusedUntil: number): Promise<void> {
    try {
      await this.db.send('UpdateItem', {
        TableName: this.options.tableName,
        Key: { pk: { S: refusalKey(fingerprint) } },
        UpdateExpression: 'SET refused_until = :until, key_version = :version, refused_at = :now, expires_at = :ttl',
        ConditionExpression: 'attribute_not_exists(refused_until) OR refused_until < :until',
        ExpressionAttributeValues: toAttributes({
          ':until': refusedUntil,
          ':version': fingerprint,
          ':now': this.now(),
          ':ttl': Math.ceil(refusedUntil / 1000) + KEEP_AFTER_COOLDOWN_SECONDS,
        }),
      });
    } catch (error) {
      // By AWS's error code (lib/platform/aws-json.ts): a later refusal already recorded is kept.
      if ((error as Error).name === 'ConditionalCheckFailedException') return;
      throw error;
    }
  }
}
