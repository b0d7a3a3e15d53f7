import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoLedgerStore, LedgerUnavailableError } from '../../lib/ledger/store.js';
import { bent, stackDynamoDb, throttled } from '../helpers/dynamodb.js';
import { type Harness, startHarness } from '../helpers/harness.js';

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

const store = () => new DynamoLedgerStore(stackDynamoDb(h.stack), h.stack.tableName);

const marker = (name: string) => ({
  pk: `p#pending#${name}#script-1`,
  link_to: `p#record#${name}`,
  generation: 1,
  expires_at: 1_800_000_000,
});

describe('a put shares its round trip, not its fate', () => {
  it('a pending marker put in the same turn as an item DynamoDB refuses (over 400 KB) is written, and only the refused put fails', async () => {
    // Prepare
    const ledger = store();
    const huge = { pk: 'sweep#huge', note: 'x'.repeat(410 * 1024) };

    // Act
    const [mine, theirs] = await Promise.allSettled([ledger.put(marker('size')), ledger.put(huge)]);

    // Assess
    expect(theirs.status).toBe('rejected');
    expect(mine.status).toBe('fulfilled');
    expect(await ledger.read(marker('size').pk)).toEqual(marker('size'));
  });

  it('a pending marker put in the same turn as an item that cannot be marshalled (NaN) is written', async () => {
    const ledger = store();
    const [mine, theirs] = await Promise.allSettled([
      ledger.put(marker('nan')),
      ledger.put({ pk: 'sweep#nan', next_offset: Number.NaN } as never),
    ]);
    expect(theirs.status).toBe('rejected');
    expect(mine.status).toBe('fulfilled');
  });

  it('an unprocessed item whose own put then fails fails its caller only; the others resolve written', async () => {
    // Prepare: DynamoDB processes nothing of the batch, and the lone put of the second item is throttled
    const items = [marker('u0'), marker('u1'), marker('u2')];
    const unprocessed = bent(stackDynamoDb(h.stack), 'BatchWriteItem', async (input) => ({
      UnprocessedItems: input.RequestItems,
    }));
    const ledger = new DynamoLedgerStore(
      bent(unprocessed, 'PutItem', async (input, send) => {
        if (input.Item['pk']?.S === items[1]!.pk) throw throttled();
        return send(input);
      }),
      h.stack.tableName,
    );

    // Act
    const settled = await Promise.allSettled(items.map((item) => ledger.put(item)));

    // Assess
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(LedgerUnavailableError);
    expect(await ledger.read(items[0]!.pk)).toEqual(items[0]);
    expect(await ledger.read(items[1]!.pk)).toBeUndefined();
  });
});
