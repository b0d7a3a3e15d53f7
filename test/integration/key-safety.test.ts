import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyFingerprintOf } from '../../lib/workspace/key-gate.js';
import { body, failedRecord, PROJECT_ID, plainFailure } from '../helpers/factories.js';
import { type Harness, invoke, sqsEvent, startHarness } from '../helpers/harness.js';

/**
 * A revoked key at the default concurrency and above, in one container and in
 * two at once: Huawei locks a key after more than five refused signatures in a
 * row, so the whole fleet must stay far below that (docs/key-safety.md).
 */

let h: Harness;
let db: DynamoDBDocumentClient;
beforeAll(async () => {
  h = await startHarness();
  // Workspace's answers take 50 ms, so every record of a batch is in flight before the first 401 comes back.
  h.stack.simulator.faults = { latencyMs: 50 };
  db = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      region: 'us-east-1',
      endpoint: h.stack.dynamoEndpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  );
});
afterAll(async () => {
  db.destroy();
  await h.stop();
});

let keys = 0;
/** A secret holding a key Workspace does not know (revoked), under its own secret id. */
function revokedSecret(): { secretId: string; key: { ak: string; sk: string } } {
  const key = { ak: `AKREVOKED${++keys}X${process.pid}`, sk: `revoked-secret-${keys}` };
  const secretId = `${h.stack.secretId}-revoked-${keys}`;
  h.stack.secrets.putSecret(secretId, key);
  return { secretId, key };
}

function batch(size: number): string[] {
  return Array.from({ length: size }, () => {
    const failure = plainFailure();
    h.stack.simulator.seedRecords(PROJECT_ID, [failedRecord({ id: String(failure['record_id']) })]);
    return body(failure);
  });
}

/** Refused signatures the simulator counted for a key. */
const refused = (ak: string) => h.stack.simulator.authFailures.get(ak) ?? 0;

describe('a revoked key at any concurrency', () => {
  it('sends exactly one refused signature for a batch of 10 at the default MAX_CONCURRENCY, and the key is not locked', async () => {
    const { secretId, key } = revokedSecret();
    const handler = await h.loadHandler('queue', { CREDENTIALS_SECRET_ID: secretId, MAX_CONCURRENCY: undefined });
    const delayedBefore = (await h.stack.depth(h.stack.queueUrl)).delayed;

    const response = await invoke(handler, sqsEvent(batch(10)));

    expect(refused(key.ak)).toBe(1);
    expect(h.stack.simulator.isLocked(key.ak)).toBe(false);
    // Every record waits on the queue (re-enqueued with the cool-down's delay), none is lost.
    expect(response.batchItemFailures).toEqual([]);
    expect((await h.stack.depth(h.stack.queueUrl)).delayed - delayedBefore).toBe(10);
  });

  it('records the refusal in the ledger table under the key fingerprint, never the key', async () => {
    const { secretId, key } = revokedSecret();
    const handler = await h.loadHandler('queue', { CREDENTIALS_SECRET_ID: secretId });
    const before = Date.now();

    await invoke(handler, sqsEvent(batch(3)));

    const version = keyFingerprintOf(key);
    const { Item } = await db.send(
      new GetCommand({ TableName: h.stack.tableName, Key: { pk: `key#${version}` }, ConsistentRead: true }),
    );
    expect(Item?.['key_version']).toBe(version);
    expect(Item?.['refused_until']).toBeGreaterThanOrEqual(before + 300_000);
    expect(JSON.stringify(Item)).not.toContain(key.ak);
    expect(JSON.stringify(Item)).not.toContain(key.sk);
  });

  it('a second container does not sign with a key fingerprint the first one was refused', async () => {
    const { secretId, key } = revokedSecret();
    const first = await h.loadHandler('queue', { CREDENTIALS_SECRET_ID: secretId });
    const second = await h.loadHandler('queue', { CREDENTIALS_SECRET_ID: secretId });

    await invoke(first, sqsEvent(batch(10)));
    await invoke(second, sqsEvent(batch(10)));

    expect(refused(key.ak)).toBe(1);
  });

  it.each([10, 50])(
    'two containers at once at concurrency %i send at most two refused signatures together',
    async (concurrency) => {
      const { secretId, key } = revokedSecret();
      const env = { CREDENTIALS_SECRET_ID: secretId, MAX_CONCURRENCY: String(concurrency) };
      const containers = [await h.loadHandler('queue', env), await h.loadHandler('queue', env)];

      const responses = await Promise.all(containers.map((handler) => invoke(handler, sqsEvent(batch(concurrency)))));

      console.info(
        `refused signatures for one key fingerprint, two containers at concurrency ${concurrency}: ${refused(key.ak)}`,
      );
      expect(refused(key.ak)).toBeGreaterThanOrEqual(1);
      expect(refused(key.ak)).toBeLessThanOrEqual(2);
      expect(h.stack.simulator.isLocked(key.ak)).toBe(false);
      expect(responses.flatMap((r) => r.batchItemFailures)).toEqual([]);
    },
  );

  it('one container at concurrency 50 with a batch of 50 sends exactly one', async () => {
    const { secretId, key } = revokedSecret();
    const handler = await h.loadHandler('queue', { CREDENTIALS_SECRET_ID: secretId, MAX_CONCURRENCY: '50' });

    await invoke(handler, sqsEvent(batch(50)));

    expect(refused(key.ak)).toBe(1);
  });

  it('uses a fixed secret at once in a container that found the old version refused by the fleet', async () => {
    const { secretId, key } = revokedSecret();
    await invoke(await h.loadHandler('queue', { CREDENTIALS_SECRET_ID: secretId }), sqsEvent(batch(2)));
    // The operator fixes the secret; a container that still holds the old version reads the fleet's refusal, then the
    // secret again.
    const stale = await h.loadHandler('queue', { CREDENTIALS_SECRET_ID: secretId });
    const fixed = { ak: `${key.ak}FIXED`, sk: 'fixed-secret' };
    h.stack.simulator.addCredential(fixed);
    h.stack.secrets.putSecret(secretId, fixed);
    const records = batch(5);

    const response = await invoke(stale, sqsEvent(records));

    expect(response.batchItemFailures).toEqual([]);
    expect(refused(key.ak)).toBe(1);
    for (const r of records) expect(h.stack.simulator.retryCount(String(JSON.parse(r).record_id))).toBe(1);
  });
});
