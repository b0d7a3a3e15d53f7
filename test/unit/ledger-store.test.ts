import { describe, expect, it } from 'vitest';
import {
  DynamoLedgerStore,
  type Keyed,
  LedgerUnavailableError,
  MARKER_KEPT,
  MARKER_RECENT,
} from '../../lib/ledger/store.js';
import { type Attributes, fromAttributes, toAttributes } from '../../lib/platform/attribute-values.js';
import { AwsServiceError } from '../../lib/platform/aws-json.js';
import type { DynamoDb, DynamoDbOperation, DynamoDbOperations } from '../../lib/platform/dynamodb-client.js';

/**
 * The ledger store's requests (lib/ledger/store.ts) as DynamoDB receives
 * them, on a table kept in a map: the condition of each write, which reads
 * and puts share a call, and how each failure DynamoDB answers is told to the
 * caller. The integration tests run the same store on dynalite.
 */

const TABLE = 'ledger';

type Call = { [O in DynamoDbOperation]: { op: O; input: DynamoDbOperations[O]['input'] } }[DynamoDbOperation];
type Answer = (call: Call) => unknown;

/** A table in a map that answers PutItem (with its two conditions), BatchGetItem and BatchWriteItem, calls recorded. */
function table(answer?: Answer, options?: ConstructorParameters<typeof DynamoLedgerStore>[2]) {
  const items = new Map<string, Attributes>();
  const calls: Call[] = [];
  const db: DynamoDb = {
    send: async (op, input) => {
      const call = { op, input } as Call;
      calls.push(call);
      const bent = answer?.(call);
      if (bent !== undefined) return (await bent) as never;
      switch (call.op) {
        case 'PutItem': {
          const pk = call.input.Item['pk']!.S!;
          const current = items.get(pk);
          const condition = call.input.ConditionExpression;
          const refused =
            (condition === 'attribute_not_exists(pk)' && current !== undefined) ||
            (condition === 'rev = :rev' && current?.['rev']?.N !== call.input.ExpressionAttributeValues?.[':rev']?.N);
          if (refused) throw new AwsServiceError('ConditionalCheckFailedException', 'refused', 400, false);
          items.set(pk, call.input.Item);
          return {} as never;
        }
        case 'BatchGetItem': {
          const keys = call.input.RequestItems[TABLE]!.Keys.map((k) => k['pk']!.S!);
          return { Responses: { [TABLE]: keys.flatMap((k) => (items.has(k) ? [items.get(k)!] : [])) } } as never;
        }
        case 'BatchWriteItem': {
          for (const r of call.input.RequestItems[TABLE]!) items.set(r.PutRequest.Item['pk']!.S!, r.PutRequest.Item);
          return {} as never;
        }
        default:
          throw new Error(`unexpected ${call.op}`);
      }
    },
  };
  const store = new DynamoLedgerStore(db, TABLE, options);
  const ops = () => calls.map((c) => c.op);
  const item = (pk: string) => {
    const found = items.get(pk);
    return found && fromAttributes(found);
  };
  return { store, calls, ops, items, item };
}

/** An item with more than its key, as the ledger writes them. */
const keyed = (item: { pk: string } & Record<string, unknown>): Keyed => item;

const failing = (name: string, message = 'it failed') => new AwsServiceError(name, message, 500, true);

describe('conditional writes', () => {
  it("a chain's first write is conditional on its absence, a later one on the revision it was computed from", async () => {
    const { store, calls } = table();
    expect(await store.write(keyed({ pk: 'c', rev: 1 }), undefined)).toBe('written');
    expect(await store.write(keyed({ pk: 'c', rev: 2 }), 1)).toBe('written');
    expect(calls).toEqual([
      {
        op: 'PutItem',
        input: {
          TableName: TABLE,
          Item: toAttributes({ pk: 'c', rev: 1 }),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        op: 'PutItem',
        input: {
          TableName: TABLE,
          Item: toAttributes({ pk: 'c', rev: 2 }),
          ConditionExpression: 'rev = :rev',
          ExpressionAttributeValues: { ':rev': { N: '1' } },
        },
      },
    ]);
  });

  it('a refused condition is a conflict', async () => {
    const { store } = table();
    await store.write(keyed({ pk: 'c', rev: 1 }), undefined);
    expect(await store.write(keyed({ pk: 'c', rev: 1 }), undefined)).toBe('conflict');
    expect(await store.write(keyed({ pk: 'c', rev: 3 }), 2)).toBe('conflict');
  });

  it('any other failure is unavailable, named with its code and message', async () => {
    const { store } = table((call) =>
      call.op === 'PutItem' ? Promise.reject(failing('Throttled', 'slow')) : undefined,
    );
    const error = await store.write({ pk: 'c' }, undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LedgerUnavailableError);
    expect(error).toMatchObject({
      name: 'LedgerUnavailableError',
      message: 'ledger ledger could not be written: Throttled (slow)',
    });
  });

  it('names the code alone when the message says nothing more, and cuts a long message at 200 characters', async () => {
    const same = table((c) => (c.op === 'PutItem' ? Promise.reject(failing('Throttled', 'Throttled')) : undefined));
    await expect(same.store.write({ pk: 'c' }, undefined)).rejects.toThrow(
      /^ledger ledger could not be written: Throttled$/,
    );
    const empty = table((c) => (c.op === 'PutItem' ? Promise.reject(failing('Throttled', '')) : undefined));
    await expect(empty.store.write({ pk: 'c' }, undefined)).rejects.toThrow(
      /^ledger ledger could not be written: Throttled$/,
    );
    const long = table((c) => (c.op === 'PutItem' ? Promise.reject(failing('Big', 'x'.repeat(300))) : undefined));
    const error = (await long.store.write({ pk: 'c' }, undefined).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe(`ledger ledger could not be written: Big (${'x'.repeat(200)})`);
  });

  it('an error that already says the ledger is unavailable is passed on as it is', async () => {
    const original = new LedgerUnavailableError('down');
    const { store } = table((c) => (c.op === 'PutItem' ? Promise.reject(original) : undefined));
    await expect(store.write({ pk: 'c' }, undefined)).rejects.toBe(original);
  });
});

describe('reads', () => {
  it('of one turn go in one strongly consistent BatchGetItem, each key once, each caller answered', async () => {
    const { store, calls } = table();
    await store.write(keyed({ pk: 'a', n: 1 }), undefined);
    calls.length = 0;
    const [a, again, b] = await Promise.all([store.read('a'), store.read('a'), store.read('b')]);
    expect([a, again, b]).toEqual([{ pk: 'a', n: 1 }, { pk: 'a', n: 1 }, undefined]);
    expect(calls).toEqual([
      {
        op: 'BatchGetItem',
        input: { RequestItems: { [TABLE]: { Keys: [{ pk: { S: 'a' } }, { pk: { S: 'b' } }], ConsistentRead: true } } },
      },
    ]);
  });

  it('of different turns go in different calls', async () => {
    const { store, ops } = table();
    await store.read('a');
    await store.read('b');
    expect(ops()).toEqual(['BatchGetItem', 'BatchGetItem']);
  });

  it('go at most 100 keys a call', async () => {
    const { store, calls } = table();
    await Promise.all(Array.from({ length: 201 }, (_, i) => store.read(`k${i}`)));
    expect(calls.map((c) => (c.op === 'BatchGetItem' ? c.input.RequestItems[TABLE]!.Keys.length : 0))).toEqual([
      100, 100, 1,
    ]);
  });

  it('a failed call fails its own keys only, as unavailable', async () => {
    let first = true;
    const { store } = table((c) => {
      if (c.op !== 'BatchGetItem' || !first) return undefined;
      first = false;
      return Promise.reject(failing('InternalServerError', 'boom'));
    });
    const reads = Array.from({ length: 101 }, (_, i) => store.read(`k${i}`).catch((e: unknown) => e));
    const results = await Promise.all(reads);
    expect(results[0]).toBeInstanceOf(LedgerUnavailableError);
    expect((results[0] as Error).message).toBe('ledger ledger could not be read: InternalServerError (boom)');
    expect(results[99]).toBeInstanceOf(LedgerUnavailableError);
    expect(results[100]).toBeUndefined();
  });

  it('keys left unprocessed are asked for again, up to five rounds', async () => {
    let left = 2;
    const once = table((c) =>
      c.op === 'BatchGetItem' && left-- > 0
        ? { UnprocessedKeys: { [TABLE]: { Keys: c.input.RequestItems[TABLE]!.Keys } } }
        : undefined,
    );
    await once.store.write(keyed({ pk: 'a', n: 1 }), undefined);
    expect(await once.store.read('a')).toEqual({ pk: 'a', n: 1 });
    expect(once.ops().filter((o) => o === 'BatchGetItem')).toHaveLength(3);

    const never = table((c) =>
      c.op === 'BatchGetItem'
        ? { UnprocessedKeys: { [TABLE]: { Keys: c.input.RequestItems[TABLE]!.Keys } } }
        : undefined,
    );
    const error = (await never.store.read('a').catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(LedgerUnavailableError);
    expect(error.message).toBe('ledger ledger could not be read: keys left unprocessed 5 times');
    expect(never.ops()).toHaveLength(5);
  });

  it('an answer without responses is no item', async () => {
    const { store } = table((c) => (c.op === 'BatchGetItem' ? {} : undefined));
    expect(await store.read('a')).toBeUndefined();
  });

  it('an item that cannot be read fails its own key only', async () => {
    const { store, items } = table();
    items.set('big', { pk: { S: 'big' }, n: { N: '9007199254740993' } });
    items.set('ok', { pk: { S: 'ok' } });
    const [big, ok] = await Promise.all([store.read('big').catch((e: unknown) => e), store.read('ok')]);
    expect(big).toBeInstanceOf(LedgerUnavailableError);
    expect((big as Error).message).toMatch(/^ledger ledger could not be read: RangeError \(attribute n: /);
    expect(ok).toEqual({ pk: 'ok' });
  });
});

describe('unconditional puts', () => {
  it('one alone goes as a PutItem with no condition', async () => {
    const { store, calls } = table();
    await store.put({ pk: 'a' });
    expect(calls).toEqual([{ op: 'PutItem', input: { TableName: TABLE, Item: { pk: { S: 'a' } } } }]);
  });

  it('of one turn go in BatchWriteItems of at most 25, a key at most once in each', async () => {
    const { store, calls, item } = table();
    const puts = Array.from({ length: 26 }, (_, i) => store.put({ pk: `k${i}` }));
    puts.push(store.put(keyed({ pk: 'k0', again: true })));
    await Promise.all(puts);
    const sizes = calls.map((c) => (c.op === 'BatchWriteItem' ? c.input.RequestItems[TABLE]!.length : c.op));
    expect(sizes).toEqual([25, 2]);
    const second = calls[1]!;
    expect(
      second.op === 'BatchWriteItem' && second.input.RequestItems[TABLE]!.map((r) => r.PutRequest.Item['pk']!.S),
    ).toEqual(['k25', 'k0']);
    expect(item('k0')).toEqual({ pk: 'k0', again: true });
  });

  it('a key put twice in one turn goes in a later call, even beside other keys', async () => {
    const { store, calls } = table();
    await Promise.all([store.put({ pk: 'a' }), store.put({ pk: 'b' }), store.put(keyed({ pk: 'a', again: true }))]);
    expect(calls.map((c) => c.op)).toEqual(['BatchWriteItem', 'PutItem']);
    const first = calls[0]!;
    expect(
      first.op === 'BatchWriteItem' && first.input.RequestItems[TABLE]!.map((r) => r.PutRequest.Item['pk']!.S),
    ).toEqual(['a', 'b']);
  });

  it('items left unprocessed are put again one by one', async () => {
    const { store, ops, item } = table((c) =>
      c.op === 'BatchWriteItem'
        ? { UnprocessedItems: { [TABLE]: [{ PutRequest: { Item: { pk: { S: 'b' } } } }] } }
        : undefined,
    );
    await Promise.all([store.put({ pk: 'a' }), store.put({ pk: 'b' })]);
    expect(ops()).toEqual(['BatchWriteItem', 'PutItem']);
    expect(item('b')).toEqual({ pk: 'b' });
  });

  it('a batch DynamoDB refuses as invalid is put item by item, each answered for itself', async () => {
    const { store, ops } = table((c) => {
      if (c.op === 'BatchWriteItem') return Promise.reject(failing('ValidationException', 'too big'));
      if (c.op === 'PutItem' && c.input.Item['pk']!.S === 'bad')
        return Promise.reject(failing('ValidationException', 'too big'));
      return undefined;
    });
    expect(await store.putAll([{ pk: 'ok' }, { pk: 'bad' }])).toEqual(['bad']);
    expect(ops()).toEqual(['BatchWriteItem', 'PutItem', 'PutItem']);
  });

  it('a batch that fails otherwise fails every put in it, as unavailable', async () => {
    const { store, ops } = table((c) => (c.op === 'BatchWriteItem' ? Promise.reject(failing('Throttled')) : undefined));
    const results = await Promise.all([
      store.put({ pk: 'a' }).catch((e: unknown) => e),
      store.put({ pk: 'b' }).catch((e: unknown) => e),
    ]);
    for (const result of results) expect(result).toBeInstanceOf(LedgerUnavailableError);
    expect(ops()).toEqual(['BatchWriteItem']);
  });

  it('an item that cannot be stored fails its own put, before any call', async () => {
    const { store, ops } = table();
    const error = await store.put({ pk: 'nan', n: Number.NaN } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LedgerUnavailableError);
    expect((error as Error).message).toMatch(/^ledger ledger could not be written: TypeError \(attribute n: NaN/);
    expect(ops()).toEqual([]);
  });
});

describe('pending markers', () => {
  const marker = { pk: 'm', link_to: 'c1', generation: 2, expires_at: 99 };

  it('are one UpdateItem that puts the claimer first in its list while the list has room', async () => {
    const { store, calls } = table((c) => (c.op === 'UpdateItem' ? {} : undefined));
    await store.putMarker(marker);
    expect(calls).toEqual([
      {
        op: 'UpdateItem',
        input: {
          TableName: TABLE,
          Key: { pk: { S: 'm' } },
          UpdateExpression:
            'SET link_to = :to, generation = :g, expires_at = :ttl, recent = list_append(:one, if_not_exists(recent, :none)), rev = if_not_exists(rev, :zero) + :inc',
          ConditionExpression: 'attribute_not_exists(recent) OR size(recent) < :max',
          ExpressionAttributeValues: toAttributes({
            ':to': 'c1',
            ':g': 2,
            ':ttl': 99,
            ':one': ['c1'],
            ':none': [],
            ':max': MARKER_RECENT,
            ':zero': 0,
            ':inc': 1,
          }),
        },
      },
    ]);
    expect(MARKER_RECENT).toBe(32);
  });

  it('when full, keep the newest MARKER_KEPT chains, each once, the claimer first, conditional on the revision read', async () => {
    const { store, items, item, calls } = table((c) =>
      c.op === 'UpdateItem'
        ? Promise.reject(new AwsServiceError('ConditionalCheckFailedException', 'full', 400, false))
        : undefined,
    );
    const older = Array.from({ length: MARKER_RECENT - 4 }, (_, i) => `o${i}`);
    items.set('m', toAttributes({ pk: 'm', link_to: 'c9', rev: 7, recent: ['c9', 'c9', 'c1', 'c8', ...older] }));
    await store.putMarker(marker);
    expect(item('m')).toEqual({
      pk: 'm',
      link_to: 'c1',
      generation: 2,
      expires_at: 99,
      rev: 8,
      recent: ['c1', 'c9', 'c8', ...older].slice(0, MARKER_KEPT),
    });
    expect(calls.find((c) => c.op === 'PutItem')?.input).toMatchObject({
      ConditionExpression: 'rev = :rev',
      ExpressionAttributeValues: { ':rev': { N: '7' } },
    });
  });

  it('when full but unreadable as a list, start it again', async () => {
    const { store, items, item } = table((c) =>
      c.op === 'UpdateItem'
        ? Promise.reject(new AwsServiceError('ConditionalCheckFailedException', 'full', 400, false))
        : undefined,
    );
    items.set('m', toAttributes({ pk: 'm', recent: 'c9' }));
    await store.putMarker(marker);
    expect(item('m')).toMatchObject({ recent: ['c1'] });
  });

  it('that keep changing while they are pruned fail as unavailable after 5 rounds', async () => {
    const refused = () => Promise.reject(new AwsServiceError('ConditionalCheckFailedException', 'moved', 400, false));
    const { store, ops, items } = table((c) => (c.op === 'UpdateItem' || c.op === 'PutItem' ? refused() : undefined));
    items.set('m', toAttributes({ pk: 'm', recent: Array.from({ length: MARKER_RECENT }, (_, i) => `c${i}`), rev: 1 }));
    await expect(store.putMarker(marker)).rejects.toThrow(
      'ledger ledger could not be written: Error (pending marker m kept changing while it was pruned)',
    );
    expect(ops().filter((op) => op === 'UpdateItem')).toHaveLength(5);
  });

  it('any other failure is unavailable', async () => {
    const { store } = table((c) => (c.op === 'UpdateItem' ? Promise.reject(failing('Throttled', 'slow')) : undefined));
    await expect(store.putMarker(marker)).rejects.toThrow('ledger ledger could not be written: Throttled (slow)');
  });
});

/** DynamoDB's refusal of a transaction: one reason per write, in order (`None` where that write was not the cause). */
function cancelled(...reasons: Array<string | { Code: string; Item?: Attributes }>): AwsServiceError {
  const CancellationReasons = reasons.map((r) => (typeof r === 'string' ? { Code: r } : r));
  return new AwsServiceError('TransactionCanceledException', 'Transaction cancelled', 400, false, {
    CancellationReasons,
  });
}

/** Answers the calls of `op` in turn with `answers` (an error is thrown), the rest as the table does. */
function answering(op: DynamoDbOperation, ...answers: unknown[]): Answer {
  return (c) => {
    if (c.op !== op || answers.length === 0) return undefined;
    const next = answers.shift();
    return next instanceof Error ? Promise.reject(next) : next;
  };
}

describe('writes together', () => {
  const marker = { pk: 'm', link_to: 'c1', generation: 2, expires_at: 99 };
  const together = [
    { kind: 'write', item: keyed({ pk: 'c1', rev: 3 }), expectedRev: 2 },
    { kind: 'marker', marker },
    { kind: 'put', item: keyed({ pk: 'member' }) },
  ] as const;

  it('are one TransactWriteItems: the write at its revision, the put with no condition, the marker appended, each set with a token of its own', async () => {
    // Prepare
    const { store, calls } = table(answering('TransactWriteItems', {}, {}));

    // Act
    const refused = [await store.writeTogether(together), await store.writeTogether(together)];

    // Assess
    expect(refused).toEqual([[], []]);
    const [first, second] = calls.map((c) => c.input as DynamoDbOperations['TransactWriteItems']['input']);
    expect(first!.TransactItems).toEqual([
      {
        Put: {
          TableName: TABLE,
          Item: toAttributes({ pk: 'c1', rev: 3 }),
          ConditionExpression: 'rev = :rev',
          ExpressionAttributeValues: { ':rev': { N: '2' } },
        },
      },
      {
        Update: expect.objectContaining({
          TableName: TABLE,
          Key: { pk: { S: 'm' } },
          ConditionExpression: 'attribute_not_exists(recent) OR size(recent) < :max',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      },
      { Put: { TableName: TABLE, Item: toAttributes({ pk: 'member' }) } },
    ]);
    expect(first!.ClientRequestToken).toMatch(/^[0-9a-f-]{36}$/);
    expect(second!.ClientRequestToken).not.toBe(first!.ClientRequestToken);
  });

  it('a write refused at its revision answers its index, and the set is not sent again', async () => {
    const { store, ops } = table(answering('TransactWriteItems', cancelled('ConditionalCheckFailed', 'None', 'None')));
    expect(await store.writeTogether(together)).toEqual([0]);
    expect(ops()).toEqual(['TransactWriteItems']);
  });

  it('a write that must find its item absent is conditional on that', async () => {
    const { store, calls } = table(answering('TransactWriteItems', {}));
    await store.writeTogether([
      { kind: 'write', item: keyed({ pk: 'link' }), expectedRev: undefined },
      { kind: 'put', item: keyed({ pk: 'member' }) },
    ]);
    expect((calls[0]!.input as DynamoDbOperations['TransactWriteItems']['input']).TransactItems).toEqual([
      {
        Put: { TableName: TABLE, Item: toAttributes({ pk: 'link' }), ConditionExpression: 'attribute_not_exists(pk)' },
      },
      { Put: { TableName: TABLE, Item: toAttributes({ pk: 'member' }) } },
    ]);
  });

  it('of one conditional write alone are that write, a PutItem: no transaction, refused as its index', async () => {
    const { store, ops, items } = table();
    const alone = (rev: number | undefined) =>
      [{ kind: 'write', item: keyed({ pk: 'c9', rev: 1 }), expectedRev: rev }] as const;
    expect(await store.writeTogether(alone(undefined))).toEqual([]);
    expect(await store.writeTogether(alone(undefined))).toEqual([0]);
    expect(ops()).toEqual(['PutItem', 'PutItem']);
    expect(items.has('c9')).toBe(true);
  });

  it('a full marker is sent again as its pruned list at the revision it came back with, without a read', async () => {
    // Prepare: the marker comes back full, at revision 7
    const full = toAttributes({ pk: 'm', recent: Array.from({ length: MARKER_RECENT }, (_, i) => `old${i}`), rev: 7 });
    const waits: number[] = [];
    const { store, calls, ops } = table(
      answering('TransactWriteItems', cancelled('None', { Code: 'ConditionalCheckFailed', Item: full }, 'None'), {}),
      { sleep: async (ms) => void waits.push(ms) },
    );

    // Act
    const refused = await store.writeTogether(together);

    // Assess: sent again at once (nothing to wait for)
    expect(refused).toEqual([]);
    expect(ops()).toEqual(['TransactWriteItems', 'TransactWriteItems']);
    expect(waits).toEqual([]);
    const again = (calls[1]!.input as DynamoDbOperations['TransactWriteItems']['input']).TransactItems[1]!;
    expect(again).toEqual({
      Put: {
        TableName: TABLE,
        Item: toAttributes({
          ...marker,
          recent: ['c1', ...Array.from({ length: MARKER_KEPT - 1 }, (_, i) => `old${i}`)],
          rev: 8,
        }),
        ConditionExpression: 'rev = :rev',
        ExpressionAttributeValues: toAttributes({ ':rev': 7 }),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    });
  });

  it('a full marker that comes back without its item is read, and a marker pruned meanwhile is appended to again', async () => {
    // Prepare: refused without the item; the table holds the marker, pruned by another claim, with room
    const { store, calls, ops, items } = table(
      answering('TransactWriteItems', cancelled('None', 'ConditionalCheckFailed', 'None'), {}),
    );
    items.set('m', toAttributes({ pk: 'm', recent: ['c9'], rev: 4 }));

    // Act
    await store.writeTogether(together);

    // Assess
    expect(ops()).toEqual(['TransactWriteItems', 'BatchGetItem', 'TransactWriteItems']);
    expect((calls[2]!.input as DynamoDbOperations['TransactWriteItems']['input']).TransactItems[1]).toHaveProperty(
      'Update',
    );
  });

  it('a full marker written before markers had a revision is pruned on condition it still has none', async () => {
    const full = toAttributes({ pk: 'm', recent: Array.from({ length: MARKER_RECENT }, (_, i) => `old${i}`) });
    const { store, calls } = table(
      answering('TransactWriteItems', cancelled('None', { Code: 'ConditionalCheckFailed', Item: full }, 'None'), {}),
    );
    await store.writeTogether(together);
    const again = (calls[1]!.input as DynamoDbOperations['TransactWriteItems']['input']).TransactItems[1]!;
    expect(again).toMatchObject({ Put: { ConditionExpression: 'attribute_not_exists(rev)' } });
    expect(again).not.toHaveProperty('Put.ExpressionAttributeValues');
    expect(fromAttributes((again as { Put: { Item: Attributes } }).Put.Item)).toMatchObject({ rev: 1 });
  });

  it('a cancellation that gives fewer reasons than writes counts the missing ones as none', async () => {
    const { store, ops } = table(answering('TransactWriteItems', cancelled('TransactionConflict'), {}), {
      sleep: async () => undefined,
    });
    expect(await store.writeTogether(together)).toEqual([]);
    expect(ops()).toEqual(['TransactWriteItems', 'TransactWriteItems']);
  });

  it('throttled, waits with full jitter and sends the set again', async () => {
    const waits: number[] = [];
    const options = { sleep: async (ms: number) => void waits.push(ms), random: () => 0.5 };
    const { store, ops } = table(
      answering(
        'TransactWriteItems',
        cancelled('None', 'ThrottlingError', 'None'),
        cancelled('ProvisionedThroughputExceeded', 'None', 'None'),
        {},
      ),
      options,
    );
    expect(await store.writeTogether(together)).toEqual([]);
    expect(ops()).toHaveLength(3);
    expect(waits).toEqual([5, 10]);
  });

  it('meeting another transaction, waits with full jitter (at most 200 ms) and sends the set again, up to 8 rounds, then is unavailable', async () => {
    // Prepare
    const waits: number[] = [];
    const conflict = () => cancelled('None', 'TransactionConflict', 'None');
    const options = { sleep: async (ms: number) => void waits.push(ms), random: () => 0.5 };
    const once = table(answering('TransactWriteItems', conflict(), {}), options);
    const always = table(answering('TransactWriteItems', ...Array.from({ length: 8 }, conflict)), options);

    // Act + Assess
    expect(await once.store.writeTogether(together)).toEqual([]);
    expect(waits).toEqual([5]);
    waits.length = 0;
    await expect(always.store.writeTogether(together)).rejects.toThrow(
      'ledger ledger could not be written: Error (3 writes together kept meeting other writes)',
    );
    expect(always.ops()).toHaveLength(8);
    expect(waits).toEqual([5, 10, 20, 40, 80, 100, 100]);
  });

  it('cancelled for any other reason, or failing otherwise, is unavailable, named with the code', async () => {
    const invalid = table(answering('TransactWriteItems', cancelled('None', 'ValidationError', 'None')));
    await expect(invalid.store.writeTogether(together)).rejects.toThrow(
      'ledger ledger could not be written: ValidationError',
    );
    expect(invalid.ops()).toEqual(['TransactWriteItems']);
    const reasonsOfAnother = new AwsServiceError('InternalServerError', 'broken', 500, true, {
      CancellationReasons: [{ Code: 'TransactionConflict' }],
    });
    const internal = table(answering('TransactWriteItems', reasonsOfAnother));
    await expect(internal.store.writeTogether(together)).rejects.toThrow(
      'ledger ledger could not be written: InternalServerError (broken)',
    );
    expect(internal.ops()).toEqual(['TransactWriteItems']);
    const denied = table(answering('TransactWriteItems', failing('AccessDeniedException', 'no')));
    await expect(denied.store.writeTogether(together)).rejects.toThrow(
      'ledger ledger could not be written: AccessDeniedException (no)',
    );
    const unexplained = table(
      answering('TransactWriteItems', new AwsServiceError('TransactionCanceledException', 'cancelled', 400, false)),
    );
    await expect(unexplained.store.writeTogether(together)).rejects.toBeInstanceOf(LedgerUnavailableError);
  });

  it('an item that cannot be stored fails the set before any call', async () => {
    const { store, calls } = table();
    const bad = keyed({ pk: 'c1', n: Number.NaN });
    await expect(store.writeTogether([{ kind: 'put', item: bad }])).rejects.toBeInstanceOf(LedgerUnavailableError);
    expect(calls).toEqual([]);
  });
});

describe('a single-item write that meets a transaction', () => {
  it('is sent again after a full-jitter wait, up to 8 tries, then is unavailable', async () => {
    const waits: number[] = [];
    const options = { sleep: async (ms: number) => void waits.push(ms), random: () => 0.5 };
    const meeting = () => failing('TransactionConflictException', 'Transaction is ongoing for the item');
    const once = table(answering('PutItem', meeting()), options);
    expect(await once.store.write(keyed({ pk: 'c1', rev: 1 }), undefined)).toBe('written');
    expect(waits).toEqual([5]);
    const throttled = table(answering('PutItem', failing('ThrottlingException', 'slow')), options);
    await expect(throttled.store.write(keyed({ pk: 'c1', rev: 1 }), undefined)).rejects.toThrow('ThrottlingException');
    expect(throttled.ops()).toEqual(['PutItem']);
    const always = table(answering('PutItem', ...Array.from({ length: 8 }, meeting)), options);
    await expect(always.store.write(keyed({ pk: 'c1', rev: 1 }), undefined)).rejects.toThrow(
      'TransactionConflictException',
    );
    expect(always.ops()).toEqual(Array.from({ length: 8 }, () => 'PutItem'));
  });
});
