import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoLedgerStore, LedgerUnavailableError } from '../../lib/ledger/store.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * What one put of a turn may do to the others it shares a BatchWriteItem with
 * (lib/ledger/store.ts): each caller gets the answer for its own item, on the
 * stack's dynalite, with DynamoDB's answer bent where a case needs it.
 */

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

/** A store whose calls of `command` are answered by `bend` (given the real send) instead. */
function bentStore(command?: string, bend?: (input: Record<string, unknown>, send: () => Promise<unknown>) => Promise<unknown>): DynamoLedgerStore {
  const client = new DynamoDBClient({ region: 'us-east-1', endpoint: h.stack.dynamoEndpoint, credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (!bend || context.commandName !== command) return next(args);
      return { output: (await bend(args.input as Record<string, unknown>, async () => (await next(args)).output)) as never, response: {} };
    },
    { step: 'initialize' },
  );
  return new DynamoLedgerStore(client, h.stack.tableName);
}

const marker = (name: string) => ({ pk: `p#pending#${name}#script-1`, link_to: `p#record#${name}`, generation: 1, expires_at: 1_800_000_000 });

describe('a put shares its round trip, not its fate', () => {
  it('a pending marker put in the same turn as an item DynamoDB refuses (over 400 KB) is written, and only the refused put fails', async () => {
    // Prepare
    const store = bentStore();
    const huge = { pk: 'sweep#huge', note: 'x'.repeat(410 * 1024) };

    // Act
    const [mine, theirs] = await Promise.allSettled([store.put(marker('size')), store.put(huge)]);

    // Assess
    expect(theirs.status).toBe('rejected');
    expect(mine.status).toBe('fulfilled');
    expect(await store.read(marker('size').pk)).toEqual(marker('size'));
  });

  it('a pending marker put in the same turn as an item that cannot be marshalled (NaN) is written', async () => {
    const store = bentStore();
    const [mine, theirs] = await Promise.allSettled([store.put(marker('nan')), store.put({ pk: 'sweep#nan', next_offset: Number.NaN } as never)]);
    expect(theirs.status).toBe('rejected');
    expect(mine.status).toBe('fulfilled');
  });

  it('an unprocessed item whose own put then fails fails its caller only; the others resolve written', async () => {
    // Prepare: DynamoDB processes nothing of the batch, and the lone put of the second item is throttled
    const store = bentStore('BatchWriteItemCommand', async (input) => ({ UnprocessedItems: input['RequestItems'] }));
    const items = [marker('u0'), marker('u1'), marker('u2')];
    const client = (store as unknown as { db: DynamoDBClient }).db;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const item = (args.input as { Item?: { pk?: { S?: string } } }).Item;
        if (context.commandName === 'PutItemCommand' && item?.pk?.S === items[1]!.pk) throw Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' });
        return next(args);
      },
      { step: 'initialize', priority: 'high' },
    );

    // Act
    const settled = await Promise.allSettled(items.map((item) => store.put(item)));

    // Assess
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(LedgerUnavailableError);
    expect(await store.read(items[0]!.pk)).toEqual(items[0]);
    expect(await store.read(items[1]!.pk)).toBeUndefined();
  });
});
