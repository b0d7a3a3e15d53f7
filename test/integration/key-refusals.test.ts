import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyFingerprintOf } from '../../lib/workspace/key-gate.js';
import { KeyRefusalStore } from '../../lib/workspace/key-refusals.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { stackDynamoDb } from '../helpers/dynamodb.js';

let stack: LocalStack;
/** Another client on the same table, to read and write what the store did not. */
let db: DynamoDBDocumentClient;
const NOW = 1_800_000_000_000;

beforeAll(async () => {
  stack = await startLocalStack({ name: `key-refusals-${process.pid}` });
  db = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      region: 'us-east-1',
      endpoint: stack.dynamoEndpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  );
});
afterAll(async () => {
  db.destroy();
  await stack.stop();
});

const store = () => new KeyRefusalStore(stackDynamoDb(stack), { tableName: stack.tableName, now: () => NOW });
const key = { ak: 'AKREFUSALSTORE', sk: 'refusal-store-secret-key-value' };

describe('key refusals in the ledger table', () => {
  it('knows no refusal of a key fingerprint it has never seen', async () => {
    expect(await store().refusedUntil('never-seen')).toBe(0);
  });

  it('keeps a refusal as a key# item with its end, the key fingerprint and a TTL, and never the key', async () => {
    const version = keyFingerprintOf(key);

    await store().record(version, NOW + 300_000);

    expect(await store().refusedUntil(version)).toBe(NOW + 300_000);
    const { Item } = await db.send(new GetCommand({ TableName: stack.tableName, Key: { pk: `key#${version}` } }));
    expect(Item).toEqual({
      pk: `key#${version}`,
      refused_until: NOW + 300_000,
      key_version: version,
      refused_at: NOW,
      expires_at: (NOW + 300_000) / 1000 + 86_400,
    });
    expect(JSON.stringify(Item)).not.toContain(key.ak);
    expect(JSON.stringify(Item)).not.toContain(key.sk);
  });

  it('never shortens a cool-down another container recorded, and extends a shorter one', async () => {
    const version = keyFingerprintOf({ ...key, sk: 'second' });
    await store().record(version, NOW + 500_000);

    await store().record(version, NOW + 300_000);
    expect(await store().refusedUntil(version)).toBe(NOW + 500_000);

    await store().record(version, NOW + 600_000);
    expect(await store().refusedUntil(version)).toBe(NOW + 600_000);
  });

  it('says what went wrong when the table is unreachable', async () => {
    const missing = new KeyRefusalStore(stackDynamoDb(stack), { tableName: 'no-such-table' });
    await expect(missing.refusedUntil('v')).rejects.toThrow(/ResourceNotFound|not found/i);
    await expect(missing.record('v', NOW)).rejects.toThrow(/ResourceNotFound|not found/i);
  });
});

describe('key refusals that are not numbers', () => {
  it('count as no refusal: an item without refused_until, or with a value that is not a number', async () => {
    await db.send(
      new PutCommand({ TableName: stack.tableName, Item: { pk: 'key#no-until', key_version: 'no-until' } }),
    );
    await db.send(
      new PutCommand({ TableName: stack.tableName, Item: { pk: 'key#text-until', refused_until: '1900000000000' } }),
    );

    expect(await store().refusedUntil('no-until')).toBe(0);
    expect(await store().refusedUntil('text-until')).toBe(0);
  });
});
