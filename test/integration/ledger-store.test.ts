import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoLedgerStore, LedgerUnavailableError, MARKER_KEPT, MARKER_RECENT } from '../../lib/ledger/store.js';
import { type Bend, bent, counted, stackDynamoDb, throttled } from '../helpers/dynamodb.js';
import { PROJECT_ID } from '../helpers/factories.js';
import { type Harness, startHarness } from '../helpers/harness.js';

/**
 * How the store puts unconditional items (lib/ledger/store.ts): every put of
 * one turn of the event loop in one BatchWriteItem, each put resolved only
 * once its item is written. On the stack's dynalite, with the calls counted
 * and, where a case needs it, DynamoDB's answer bent by a middleware.
 */

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

/** A store whose calls are counted as they leave it; with `bend`, its BatchWriteItems are answered through it. */
function countedStore(bend?: Bend<'BatchWriteItem'>): { store: DynamoLedgerStore; calls: Map<string, number> } {
  const db = stackDynamoDb(h.stack);
  const { db: counting, calls } = counted(bend ? bent(db, 'BatchWriteItem', bend) : db);
  return { store: new DynamoLedgerStore(counting, h.stack.tableName), calls };
}

/** A pending marker of key `pk` naming `chain`. */
const markerOf = (pk: string, chain: string) => ({ pk, link_to: chain, generation: 1, expires_at: 2_000_000_000 });

const runOf = (recordId: string) => ({
  projectId: PROJECT_ID,
  recordId,
  taskId: `task-of-${recordId}`,
  resourceId: `desk-of-${recordId}`,
  scriptId: 'script-1',
});

describe('unconditional puts share a round trip', () => {
  it('a pending marker keeps every chain that claimed on its desktop and script, the newest first, also when claims race, and the newest 16 when full', async () => {
    // Prepare
    const { store } = countedStore();
    const pk = 'marker-of-desk-and-script';
    // Act: three claims at once, then enough to fill it, then one more.
    await Promise.all(['a', 'b', 'c'].map((chain) => store.putMarker(markerOf(pk, chain))));
    const racing = (await store.read(pk))?.['recent'] as string[];
    const later = Array.from({ length: MARKER_RECENT - 3 }, (_, i) => `later-${i}`);
    for (const chain of later) await store.putMarker(markerOf(pk, chain));
    const full = (await store.read(pk))?.['recent'] as string[];
    await store.putMarker(markerOf(pk, 'last'));
    // Assess
    expect([...racing].sort()).toEqual(['a', 'b', 'c']);
    expect(full).toHaveLength(MARKER_RECENT);
    expect(await store.read(pk)).toMatchObject({
      link_to: 'last',
      recent: ['last', ...later.reverse().slice(0, MARKER_KEPT - 1)],
    });
  });

  it('a chain that claims again and again never pushes another off its marker: a full marker keeps each chain once', async () => {
    // Prepare: chain a claims once; chain b then claims far more often than the marker holds entries.
    const { store } = countedStore();
    const pk = 'marker-of-a-busy-desk';
    await store.putMarker(markerOf(pk, 'a'));
    // Act
    for (let i = 0; i < 2 * MARKER_RECENT + 3; i++) await store.putMarker(markerOf(pk, 'b'));
    // Assess
    expect((await store.read(pk))?.['recent']).toEqual(expect.arrayContaining(['a', 'b']));
  });

  it('a claim that lands while a full marker is pruned keeps its entry: the prune computed before it is refused and made again', async () => {
    // Prepare: a full marker; the prune's write waits until another container's claim has landed.
    const pk = 'marker-pruned-under-a-claim';
    const plain = new DynamoLedgerStore(stackDynamoDb(h.stack), h.stack.tableName);
    for (let i = 0; i < MARKER_RECENT; i++) await plain.putMarker(markerOf(pk, `old-${i}`));
    let raced = false;
    const db = bent(stackDynamoDb(h.stack), 'PutItem', async (input, send) => {
      if (!raced && input.Item?.['pk']?.S === pk) {
        raced = true;
        await plain.putMarker(markerOf(pk, 'racer'));
      }
      return send(input);
    });
    const store = new DynamoLedgerStore(db, h.stack.tableName);
    // Act
    await store.putMarker(markerOf(pk, 'mine'));
    // Assess: both claims are on the marker, the newest first.
    expect(raced).toBe(true);
    expect(((await plain.read(pk))?.['recent'] as string[]).slice(0, 2)).toEqual(['mine', 'racer']);
  });

  it('two puts of one key in one turn go in separate calls (a batch may not name a key twice) and both land', async () => {
    const { store, calls } = countedStore();
    await Promise.all([
      store.put({ pk: 'twice', n: 1 } as never),
      store.put({ pk: 'twice', n: 2 } as never),
      store.put({ pk: 'once' }),
    ]);
    expect(Object.fromEntries(calls)).toEqual({ BatchWriteItem: 1, PutItem: 1 });
    expect([1, 2]).toContain((await store.read('twice'))?.['n']);
  });

  it('items DynamoDB leaves unprocessed are put again one by one before their puts resolve', async () => {
    // Prepare: DynamoDB writes only the first item of each batch
    const { store, calls } = countedStore(async (input, send) => {
      const [first, ...rest] = input.RequestItems[h.stack.tableName]!;
      const output = await send({ RequestItems: { [h.stack.tableName]: [first!] } });
      return { ...output, UnprocessedItems: { [h.stack.tableName]: rest } };
    });
    const items = Array.from({ length: 4 }, (_, i) => ({ pk: `unprocessed-${i}`, link_to: 'chain', generation: 1 }));

    // Act
    const failed = await store.putAll(items);

    // Assess
    expect(failed).toEqual([]);
    expect(Object.fromEntries(calls)).toEqual({ BatchWriteItem: 1, PutItem: 3 });
    for (const item of items) expect(await store.read(item.pk)).toEqual(item);
  });

  it('a batch DynamoDB refuses fails every put in it, as unavailable, and putAll names each key', async () => {
    const { store } = countedStore(async () => {
      throw throttled();
    });
    const puts = [store.put({ pk: 'refused-a' }), store.put({ pk: 'refused-b' })];
    for (const put of puts) await expect(put).rejects.toBeInstanceOf(LedgerUnavailableError);
    expect(await store.putAll([{ pk: 'refused-c' }, { pk: 'refused-d' }])).toEqual(['refused-c', 'refused-d']);
  });
});

describe("DynamoDB's request limits", () => {
  it('sixty puts asked in one turn go in BatchWriteItems of at most 25 items (its limit), and all land', async () => {
    // Prepare
    const { store, calls } = countedStore();
    const keys = Array.from({ length: 60 }, (_, i) => `limit-put-${i}`);

    // Act
    const failed = await store.putAll(keys.map((pk) => ({ pk })));

    // Assess
    expect(failed).toEqual([]);
    expect(Object.fromEntries(calls)).toEqual({ BatchWriteItem: 3 });
    const read = await Promise.all(keys.map((pk) => store.read(pk)));
    expect(read.every((item, i) => item?.['pk'] === keys[i])).toBe(true);
  });

  it('150 reads asked in one turn go in BatchGetItems of at most 100 keys (its limit), each answered with its own item', async () => {
    // Prepare: every third key exists
    const { store, calls } = countedStore();
    const keys = Array.from({ length: 150 }, (_, i) => `limit-read-${i}`);
    await store.putAll(keys.filter((_, i) => i % 3 === 0).map((pk) => ({ pk, n: Number(pk.split('-').pop()) })));
    calls.clear();

    // Act
    const read = await Promise.all(keys.map((pk) => store.read(pk)));

    // Assess
    expect(Object.fromEntries(calls)).toEqual({ BatchGetItem: 2 });
    expect(read.map((item, i) => (i % 3 === 0 ? item?.['n'] === i : item === undefined)).every(Boolean)).toBe(true);
  });
});

/**
 * A store whose calls of `operation` are answered by `bend` (given the real call), everything else as dynalite does.
 */
function storeAnswering<O extends 'PutItem' | 'BatchGetItem'>(operation: O, bend: Bend<O>): DynamoLedgerStore {
  return new DynamoLedgerStore(bent(stackDynamoDb(h.stack), operation, bend), h.stack.tableName);
}

describe('failures the store must not mistake', () => {
  it('a conditional write that fails for another reason than its condition is unavailable, never a conflict', async () => {
    // Prepare: DynamoDB throttles the write
    const store = storeAnswering('PutItem', async () => {
      throw throttled();
    });

    // Act + Assess
    await expect(store.write({ pk: 'throttled-claim' }, undefined)).rejects.toBeInstanceOf(LedgerUnavailableError);
  });

  it('keys BatchGetItem leaves unprocessed are asked for again, and a read that never completes fails as unavailable after 5 rounds', async () => {
    // Prepare: one store whose first answer leaves the key unprocessed, one whose every answer does
    const once = { rounds: 0 };
    const always = { rounds: 0 };
    const leaveUnprocessed =
      (counter: { rounds: number }, times: number): Bend<'BatchGetItem'> =>
      async (input, send) => {
        if (++counter.rounds > times) return send(input);
        return {
          Responses: { [h.stack.tableName]: [] },
          UnprocessedKeys: { [h.stack.tableName]: input.RequestItems[h.stack.tableName]! },
        };
      };
    await new DynamoLedgerStore(stackDynamoDb(h.stack), h.stack.tableName).put({
      pk: 'unprocessed-read',
      n: 1,
    } as never);

    // Act
    const read = await storeAnswering('BatchGetItem', leaveUnprocessed(once, 1)).read('unprocessed-read');
    const never = storeAnswering('BatchGetItem', leaveUnprocessed(always, Infinity)).read('unprocessed-read');

    // Assess
    expect(read).toMatchObject({ pk: 'unprocessed-read', n: 1 });
    expect(once.rounds).toBe(2);
    await expect(never).rejects.toBeInstanceOf(LedgerUnavailableError);
    expect(always.rounds).toBe(5);
  });
});
