import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoLedgerStore, LedgerUnavailableError } from '../../lib/ledger/store.js';
import { stackDynamoDb } from '../helpers/dynamodb.js';
import { body, PROJECT_ID, plainFailure, recordFor } from '../helpers/factories.js';
import { type Harness, invoke, outcomesOf, sqsEvent, startHarness } from '../helpers/harness.js';

/**
 * Numbers a failure event may carry, through the real queue function and the
 * ledger on dynalite: whatever the ledger stores, it must read back, and one
 * item it cannot read must not hold the other records of the batch.
 */

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

describe('numbers the ledger stores', () => {
  it('a failure whose failed_at is in epoch nanoseconds neither becomes unreadable nor holds the records batched with it', async () => {
    // Prepare: an event without its task (so the ledger caches the looked-up chain), its time in nanoseconds
    const handler = await h.loadHandler('queue', { POWERTOOLS_LOG_LEVEL: 'INFO', WORKSPACE_IN_CALL_RETRIES: '0' });
    const { task_id: _, ...odd } = plainFailure({ failed_at: 1_732_900_000_000_000_000 });
    h.stack.simulator.seedRecords(PROJECT_ID, [recordFor({ ...odd, task_id: `task-of-${String(odd['record_id'])}` })]);
    await outcomesOf(() => invoke(handler, sqsEvent([body(odd)])));
    const healthy = plainFailure();
    h.stack.simulator.seedRecords(PROJECT_ID, [recordFor(healthy)]);

    // Act: the odd event comes back, with a healthy one in the same batch
    const outcomes = await outcomesOf(() => invoke(handler, sqsEvent([body(odd), body(healthy)])));

    // Assess
    const byRecord = new Map(outcomes.map((o) => [String(o['recordId']), o]));
    expect(byRecord.get(String(healthy['record_id']))).toMatchObject({ kind: 'retried' });
    // Held when its chain cannot be written, as with the DocumentClient: never because a stored chain cannot be read
    // back.
    expect(String(byRecord.get(String(odd['record_id']))?.['reason'])).not.toMatch(/^RangeError|could not be read/);
  });

  it('an item stored by another client with an integer beyond 2^53 fails its own read, as unavailable, and not the reads batched with it', async () => {
    // Prepare: the number as an operator's tool (or the DocumentClient, with a BigInt) may store it
    const client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: h.stack.dynamoEndpoint,
      credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
    });
    const store = new DynamoLedgerStore(stackDynamoDb(h.stack), h.stack.tableName);
    await client.send(
      new PutItemCommand({
        TableName: h.stack.tableName,
        Item: {
          pk: { S: 'p#record#odd' },
          state: { S: 'open' },
          attempts: { N: '0' },
          failed_at: { N: '1732900000000000000' },
        },
      }),
    );
    const neighbour = { pk: 'p#record#neighbour', state: 'open', attempts: 0, rev: 1 };
    await store.write(neighbour, undefined);

    // Act: both read in one turn, so in one BatchGetItem
    const [odd, next] = await Promise.allSettled([store.read('p#record#odd'), store.read(neighbour.pk)]);

    // Assess
    expect(next).toEqual({ status: 'fulfilled', value: neighbour });
    expect(odd.status).toBe('rejected');
    expect((odd as PromiseRejectedResult).reason).toBeInstanceOf(LedgerUnavailableError);
  });
});
