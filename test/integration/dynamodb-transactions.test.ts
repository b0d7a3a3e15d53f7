import { crc32 } from 'node:zlib';
import {
  type AttributeValue,
  BatchGetItemCommand,
  DeleteItemCommand,
  DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  IdempotentParameterMismatchException,
  PutItemCommand,
  ResourceNotFoundException,
  TransactionCanceledException,
  TransactionConflictException,
  TransactionInProgressException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  type TransactWriteItemsCommandInput,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import aws4 from 'aws4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { rejectionOf } from '../helpers/rejection.js';

/**
 * TransactWriteItems on the local stack's DynamoDB endpoint, spoken to by the AWS SDK's own client: validation,
 * all or nothing, the client token, conflicts with other writers, and what readers see.
 */

let stack: LocalStack;
let ddb: DynamoDBClient;
let now = 1_000_000;

beforeAll(async () => {
  stack = await startLocalStack({ name: `tx-${process.pid}`, dynamoClock: () => now });
  ddb = new DynamoDBClient({
    region: stack.env.AWS_REGION,
    endpoint: stack.dynamoEndpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
});
afterAll(async () => {
  ddb.destroy();
  await stack.stop();
});

const s = (value: string): AttributeValue => ({ S: value });
const n = (value: number): AttributeValue => ({ N: String(value) });

function transact(items: TransactWriteItem[], extra: Partial<TransactWriteItemsCommandInput> = {}) {
  return ddb.send(new TransactWriteItemsCommand({ TransactItems: items, ...extra }));
}

async function put(item: Record<string, AttributeValue>): Promise<void> {
  await ddb.send(new PutItemCommand({ TableName: stack.tableName, Item: item }));
}

async function get(pk: string): Promise<Record<string, AttributeValue> | undefined> {
  const { Item } = await ddb.send(
    new GetItemCommand({ TableName: stack.tableName, Key: { pk: s(pk) }, ConsistentRead: true }),
  );
  return Item;
}

const putOf = (item: Record<string, AttributeValue>): TransactWriteItem => ({
  Put: { TableName: stack.tableName, Item: item },
});

const addOne = (pk: string): TransactWriteItem => ({
  Update: {
    TableName: stack.tableName,
    Key: { pk: s(pk) },
    UpdateExpression: 'ADD hits :one',
    ExpressionAttributeValues: { ':one': n(1) },
  },
});

/** The message of a ValidationException the SDK threw for `promise`. */
async function validationMessage(promise: Promise<unknown>): Promise<string> {
  const err = await rejectionOf(promise, DynamoDBServiceException);
  expect(err.name).toBe('ValidationException');
  return err.message;
}

describe('validation', () => {
  it('refuses an empty TransactItems and one of over 100 entries with the length constraint', async () => {
    expect(await validationMessage(transact([]))).toContain(
      "at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
    const many = Array.from({ length: 101 }, (_, i) => putOf({ pk: s(`v-many-${i}`) }));
    expect(await validationMessage(transact(many))).toContain(
      "at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100",
    );
    expect(await get('v-many-0')).toBeUndefined();
  });

  it('refuses an entry with no operation and an entry with two', async () => {
    expect(await validationMessage(transact([{}]))).toBe(
      'TransactItems can only contain one of Check, Put, Update or Delete',
    );
    const two = { ...putOf({ pk: s('v-two') }), Delete: { TableName: stack.tableName, Key: { pk: s('v-two') } } };
    expect(await validationMessage(transact([two]))).toBe(
      'TransactItems can only contain one of Check, Put, Update or Delete',
    );
  });

  it('refuses two operations on one item', async () => {
    const message = await validationMessage(transact([putOf({ pk: s('v-same'), a: n(1) }), addOne('v-same')]));
    expect(message).toBe('Transaction request cannot include multiple operations on one item');
    expect(await get('v-same')).toBeUndefined();
  });

  it('answers ResourceNotFoundException for a table that does not exist', async () => {
    const missing = { Put: { TableName: 'no-such-table', Item: { pk: s('v-missing') } } };
    await rejectionOf(transact([putOf({ pk: s('v-missing') }), missing]), ResourceNotFoundException);
    expect(await get('v-missing')).toBeUndefined();
  });

  it('reports expression and item errors as the single-item operation does', async () => {
    const badCondition = { TableName: stack.tableName, Item: { pk: s('v-expr') }, ConditionExpression: 'size(' };
    const single = await validationMessage(ddb.send(new PutItemCommand(badCondition)));
    expect(single).toMatch(/^Invalid ConditionExpression: /);
    expect(await validationMessage(transact([{ Put: badCondition }]))).toBe(single);

    const keyless = { TableName: stack.tableName, Item: { other: s('x') } };
    const singleKeyless = await validationMessage(ddb.send(new PutItemCommand(keyless)));
    expect(await validationMessage(transact([{ Put: keyless }]))).toBe(singleKeyless);

    const badUpdate = { TableName: stack.tableName, Key: { pk: s('v-expr') }, UpdateExpression: 'SET a = :missing' };
    const singleUpdate = await validationMessage(ddb.send(new UpdateItemCommand(badUpdate)));
    expect(singleUpdate).toMatch(/^Invalid UpdateExpression: /);
    expect(await validationMessage(transact([{ Update: badUpdate }]))).toBe(singleUpdate);
  });
});

describe('all or nothing', () => {
  it('writes nothing when the second of three conditions fails, and lists every reason in order', async () => {
    await put({ pk: s('a-1'), status: s('old') });
    await put({ pk: s('a-2'), status: s('done') });
    await put({ pk: s('a-3'), status: s('old') });
    const err = await rejectionOf(
      transact([
        {
          Put: {
            TableName: stack.tableName,
            Item: { pk: s('a-1'), status: s('new') },
            ConditionExpression: 'attribute_exists(pk)',
          },
        },
        {
          Update: {
            TableName: stack.tableName,
            Key: { pk: s('a-2') },
            UpdateExpression: 'SET #s = :new',
            ConditionExpression: '#s = :old',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':new': s('new'), ':old': s('old') },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        {
          Delete: {
            TableName: stack.tableName,
            Key: { pk: s('a-3') },
            ConditionExpression: 'attribute_exists(pk)',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
      ]),
      TransactionCanceledException,
    );
    expect(err.message).toBe(
      'Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, None]',
    );
    expect(err.CancellationReasons).toEqual([
      { Code: 'None' },
      {
        Code: 'ConditionalCheckFailed',
        Message: 'The conditional request failed',
        Item: { pk: s('a-2'), status: s('done') },
      },
      { Code: 'None' },
    ]);
    expect(await get('a-1')).toEqual({ pk: s('a-1'), status: s('old') });
    expect(await get('a-2')).toEqual({ pk: s('a-2'), status: s('done') });
    expect(await get('a-3')).toEqual({ pk: s('a-3'), status: s('old') });
  });

  it('reports every failing condition, with the item only where ALL_OLD was asked and the item exists', async () => {
    await put({ pk: s('f-1'), v: n(1) });
    await put({ pk: s('f-2'), v: n(2) });
    const absent = (pk: string, returnOld: boolean): TransactWriteItem => ({
      ConditionCheck: {
        TableName: stack.tableName,
        Key: { pk: s(pk) },
        ConditionExpression: 'attribute_not_exists(pk)',
        ...(returnOld ? { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } : {}),
      },
    });
    const err = await rejectionOf(
      transact([absent('f-1', false), absent('f-2', true), absent('f-none', true)]),
      TransactionCanceledException,
    );
    const failed = { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' };
    expect(err.CancellationReasons).toEqual([failed, { ...failed, Item: { pk: s('f-2'), v: n(2) } }, { Code: 'None' }]);
    expect(err.message).toContain('[ConditionalCheckFailed, ConditionalCheckFailed, None]');
  });

  it('applies a Put, an Update (list_append, if_not_exists, arithmetic, REMOVE), a Delete and a ConditionCheck', async () => {
    await put({ pk: s('ok-update'), log: { L: [s('one')] }, count: n(5), gone: s('x') });
    await put({ pk: s('ok-delete'), v: n(1) });
    await put({ pk: s('ok-check'), ready: { BOOL: true } });
    const answer = await transact([
      putOf({ pk: s('ok-put'), v: n(7) }),
      {
        Update: {
          TableName: stack.tableName,
          Key: { pk: s('ok-update') },
          UpdateExpression:
            'SET #log = list_append(#log, :more), first_seen = if_not_exists(first_seen, :t), #c = #c + :two REMOVE gone',
          ExpressionAttributeNames: { '#log': 'log', '#c': 'count' },
          ExpressionAttributeValues: { ':more': { L: [s('two')] }, ':t': n(42), ':two': n(2) },
        },
      },
      {
        Delete: {
          TableName: stack.tableName,
          Key: { pk: s('ok-delete') },
          ConditionExpression: 'v = :one',
          ExpressionAttributeValues: { ':one': n(1) },
        },
      },
      {
        ConditionCheck: {
          TableName: stack.tableName,
          Key: { pk: s('ok-check') },
          ConditionExpression: 'ready = :yes',
          ExpressionAttributeValues: { ':yes': { BOOL: true } },
        },
      },
    ]);
    expect(answer.$metadata.httpStatusCode).toBe(200);
    expect(await get('ok-put')).toEqual({ pk: s('ok-put'), v: n(7) });
    expect(await get('ok-update')).toEqual({
      pk: s('ok-update'),
      log: { L: [s('one'), s('two')] },
      count: n(7),
      first_seen: n(42),
    });
    expect(await get('ok-delete')).toBeUndefined();
    expect(await get('ok-check')).toEqual({ pk: s('ok-check'), ready: { BOOL: true } });
  });

  it('leaves everything unapplied when an update would make an item too large', async () => {
    await put({ pk: s('big-1'), blob: s('x'.repeat(300_000)) });
    const message = await validationMessage(
      transact([
        putOf({ pk: s('big-0'), v: n(1) }),
        {
          Update: {
            TableName: stack.tableName,
            Key: { pk: s('big-1') },
            UpdateExpression: 'SET more = :more',
            ExpressionAttributeValues: { ':more': s('y'.repeat(150_000)) },
          },
        },
      ]),
    );
    expect(message).toBe('Item size to update has exceeded the maximum allowed size');
    expect(await get('big-0')).toBeUndefined();
    expect((await get('big-1'))?.more).toBeUndefined();
  });

  it('answers ConsumedCapacity as twice the write units of the items written', async () => {
    const answer = await transact([putOf({ pk: s('cap-1') }), putOf({ pk: s('cap-2'), big: s('z'.repeat(1500)) })], {
      ReturnConsumedCapacity: 'TOTAL',
    });
    expect(answer.ConsumedCapacity).toEqual([{ TableName: stack.tableName, CapacityUnits: 2 * 1 + 2 * 2 }]);
  });
});

describe('client request token', () => {
  it('answers a replay within 10 minutes without applying it again', async () => {
    const token = 'replay-token';
    await transact([addOne('tok-1')], { ClientRequestToken: token });
    now += 9 * 60 * 1000;
    const replay = await transact([addOne('tok-1')], { ClientRequestToken: token });
    expect(replay.$metadata.httpStatusCode).toBe(200);
    expect((await get('tok-1'))?.hits).toEqual(n(1));
  });

  it('refuses the same token with different parameters', async () => {
    await transact([addOne('tok-2')], { ClientRequestToken: 'mismatch-token' });
    await rejectionOf(
      transact([addOne('tok-other')], { ClientRequestToken: 'mismatch-token' }),
      IdempotentParameterMismatchException,
    );
    expect(await get('tok-other')).toBeUndefined();
  });

  it('refuses the same token while the first transaction is still in progress', async () => {
    const pause = stack.dynamoTransactions.pauseNextTransaction();
    const first = transact([addOne('tok-3')], { ClientRequestToken: 'progress-token' });
    await pause.reached;
    await rejectionOf(
      transact([addOne('tok-3')], { ClientRequestToken: 'progress-token' }),
      TransactionInProgressException,
    );
    pause.resume();
    await first;
    expect((await get('tok-3'))?.hits).toEqual(n(1));
  });

  it('forgets a token 10 minutes after its transaction completed', async () => {
    await transact([addOne('tok-4')], { ClientRequestToken: 'expiry-token' });
    now += 10 * 60 * 1000;
    await transact([addOne('tok-4')], { ClientRequestToken: 'expiry-token' });
    expect((await get('tok-4'))?.hits).toEqual(n(2));
  });
});

describe('conflicts', () => {
  it('refuses single-item writes of an item a paused transaction holds, and lets others through', async () => {
    await put({ pk: s('c-held'), v: n(0) });
    const pause = stack.dynamoTransactions.pauseNextTransaction();
    const held = transact([putOf({ pk: s('c-held'), v: n(1) })]);
    await pause.reached;
    const key = { pk: s('c-held') };
    const putErr = await rejectionOf(put({ pk: s('c-held'), v: n(9) }), TransactionConflictException);
    expect(putErr.message).toBe('Transaction is ongoing for the item');
    await rejectionOf(
      ddb.send(
        new UpdateItemCommand({
          TableName: stack.tableName,
          Key: key,
          UpdateExpression: 'SET v = :v',
          ExpressionAttributeValues: { ':v': n(9) },
        }),
      ),
      TransactionConflictException,
    );
    await rejectionOf(
      ddb.send(new DeleteItemCommand({ TableName: stack.tableName, Key: key })),
      TransactionConflictException,
    );
    await put({ pk: s('c-free'), v: n(3) });
    expect(await get('c-held')).toEqual({ pk: s('c-held'), v: n(0) });
    pause.resume();
    await held;
    expect(await get('c-held')).toEqual({ pk: s('c-held'), v: n(1) });
    expect(await get('c-free')).toEqual({ pk: s('c-free'), v: n(3) });
    await put({ pk: s('c-held'), v: n(2) });
    expect(await get('c-held')).toEqual({ pk: s('c-held'), v: n(2) });
  });

  it('cancels a transaction touching an item a paused transaction holds, on that entry', async () => {
    const pause = stack.dynamoTransactions.pauseNextTransaction();
    const held = transact([putOf({ pk: s('c2-held'), v: n(1) })]);
    await pause.reached;
    const err = await rejectionOf(
      transact([putOf({ pk: s('c2-other'), v: n(2) }), putOf({ pk: s('c2-held'), v: n(2) })]),
      TransactionCanceledException,
    );
    expect(err.CancellationReasons).toEqual([
      { Code: 'None' },
      { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' },
    ]);
    expect(err.message).toContain('[None, TransactionConflict]');
    pause.resume();
    await held;
    expect(await get('c2-other')).toBeUndefined();
    expect(await get('c2-held')).toEqual({ pk: s('c2-held'), v: n(1) });
  });

  it('cancels a transaction that arrives while a single-item write of one of its items is in progress', async () => {
    const pause = stack.dynamoTransactions.pauseNextWrite();
    const write = put({ pk: s('c3-written'), v: n(1) });
    await pause.reached;
    const err = await rejectionOf(
      transact([putOf({ pk: s('c3-written'), v: n(2) }), putOf({ pk: s('c3-other'), v: n(2) })]),
      TransactionCanceledException,
    );
    expect(err.CancellationReasons).toEqual([
      { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' },
      { Code: 'None' },
    ]);
    pause.resume();
    await write;
    expect(await get('c3-written')).toEqual({ pk: s('c3-written'), v: n(1) });
    expect(await get('c3-other')).toBeUndefined();
    await transact([putOf({ pk: s('c3-written'), v: n(3) })]);
    expect(await get('c3-written')).toEqual({ pk: s('c3-written'), v: n(3) });
  });

  it('cancels scheduled transactions by count, after skipping, on the first entry whose key matches', async () => {
    stack.dynamoTransactions.conflictTransactions({ count: 2, skip: 1, onKey: (pk) => pk.startsWith('hook-hit') });
    const run = (i: number, keys: string[]) => transact(keys.map((k) => putOf({ pk: s(`${k}-${i}`) })));
    await run(1, ['hook-miss', 'hook-hit']);
    const second = await rejectionOf(run(2, ['hook-miss', 'hook-hit', 'hook-hit-too']), TransactionCanceledException);
    expect(second.CancellationReasons?.map((r) => r.Code)).toEqual(['None', 'TransactionConflict', 'None']);
    await run(3, ['hook-miss']);
    const fourth = await rejectionOf(run(4, ['hook-hit']), TransactionCanceledException);
    expect(fourth.CancellationReasons).toEqual([
      { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' },
    ]);
    await run(5, ['hook-hit']);
    expect(await get('hook-hit-1')).toBeDefined();
    expect(await get('hook-miss-2')).toBeUndefined();
    expect(await get('hook-hit-too-2')).toBeUndefined();
    expect(await get('hook-miss-3')).toBeDefined();
    expect(await get('hook-hit-4')).toBeUndefined();
    expect(await get('hook-hit-5')).toBeDefined();
  });

  it('counts the conflicts it answers: writes refused, transactions raced, transactions scheduled', async () => {
    const before = { ...stack.dynamoTransactions.conflictsAnswered };
    const pause = stack.dynamoTransactions.pauseNextTransaction();
    const held = transact([putOf({ pk: s('count-held') })]);
    await pause.reached;
    await rejectionOf(put({ pk: s('count-held'), v: n(1) }), TransactionConflictException);
    await rejectionOf(transact([putOf({ pk: s('count-held'), v: n(2) })]), TransactionCanceledException);
    pause.resume();
    await held;
    stack.dynamoTransactions.conflictTransactions({ count: 1 });
    await rejectionOf(transact([putOf({ pk: s('count-scheduled') })]), TransactionCanceledException);
    expect(stack.dynamoTransactions.conflictsAnswered).toEqual({
      writes: before.writes + 1,
      transactions: before.transactions + 1,
      scheduled: before.scheduled + 1,
    });
  });

  it('cancels the next transaction on its first entry when the schedule names no key', async () => {
    stack.dynamoTransactions.conflictTransactions({ count: 1 });
    const err = await rejectionOf(
      transact([putOf({ pk: s('hook-any-1') }), putOf({ pk: s('hook-any-2') })]),
      TransactionCanceledException,
    );
    expect(err.CancellationReasons?.map((r) => r.Code)).toEqual(['TransactionConflict', 'None']);
    expect(await get('hook-any-2')).toBeUndefined();
  });
});

describe('readers', () => {
  it('never see half a transaction', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `r-${i}`);
    const all = (version: number) => transact(keys.map((pk) => putOf({ pk: s(pk), version: n(version) })));
    await all(0);
    let writing = true;
    const writer = (async () => {
      for (let version = 1; version <= 10; version++) await all(version);
      writing = false;
    })();
    // A batch read sees one moment; reads one after another in the entries' order must never go back: once one
    // item shows a transaction's write, every later read shows it (or a later one's) too.
    const batches: string[][] = [];
    const sequences: number[][] = [];
    const batchReader = async () => {
      while (writing) {
        const { Responses } = await ddb.send(
          new BatchGetItemCommand({ RequestItems: { [stack.tableName]: { Keys: keys.map((pk) => ({ pk: s(pk) })) } } }),
        );
        batches.push((Responses?.[stack.tableName] ?? []).map((item) => item.version?.N ?? 'none'));
      }
    };
    const sequentialReader = async () => {
      while (writing) {
        const versions: number[] = [];
        for (const pk of keys) versions.push(Number((await get(pk))?.version?.N));
        sequences.push(versions);
      }
    };
    await Promise.all([writer, batchReader(), sequentialReader(), sequentialReader()]);
    expect(batches.length).toBeGreaterThan(0);
    for (const versions of batches) {
      expect(versions).toHaveLength(keys.length);
      expect(new Set(versions).size).toBe(1);
    }
    expect(sequences.length).toBeGreaterThan(0);
    for (const versions of sequences) expect(versions).toEqual([...versions].sort((a, b) => a - b));
  });

  it('see nothing of a transaction that holds its items but has not written them', async () => {
    await put({ pk: s('r-held'), v: n(0) });
    const pause = stack.dynamoTransactions.pauseNextTransaction();
    const held = transact([putOf({ pk: s('r-held'), v: n(1) }), putOf({ pk: s('r-new'), v: n(1) })]);
    await pause.reached;
    expect(await get('r-held')).toEqual({ pk: s('r-held'), v: n(0) });
    expect(await get('r-new')).toBeUndefined();
    pause.resume();
    await held;
    expect(await get('r-new')).toEqual({ pk: s('r-new'), v: n(1) });
  });
});

describe('the wire', () => {
  /** A signed DynamoDB JSON 1.0 call of `operation`, answered as it came off the wire. */
  async function raw(operation: string, body: string, signed = true) {
    const url = new URL(stack.dynamoEndpoint);
    const request = {
      host: url.host,
      path: '/',
      method: 'POST',
      service: 'dynamodb',
      region: stack.env.AWS_REGION,
      headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': `DynamoDB_20120810.${operation}` },
      body,
    };
    const headers = signed
      ? (aws4.sign(request, { accessKeyId: 'local', secretAccessKey: 'local' }).headers as Record<string, string>)
      : request.headers;
    const response = await fetch(stack.dynamoEndpoint, { method: 'POST', headers, body });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, json: JSON.parse(text || '{}') };
  }

  it("answers with dynalite's headers and DynamoDB's error bodies", async () => {
    await put({ pk: s('w-1'), v: n(1) });
    const body = JSON.stringify({
      TransactItems: [
        {
          ConditionCheck: {
            TableName: stack.tableName,
            Key: { pk: s('w-1') },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      ],
    });
    const canceled = await raw('TransactWriteItems', body);
    expect(canceled.status).toBe(400);
    expect(canceled.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(canceled.headers.get('x-amzn-requestid')).toMatch(/^[A-Z0-9=]{52}$/);
    expect(canceled.headers.get('x-amz-crc32')).toBe(String(crc32(canceled.text)));
    expect(canceled.json).toEqual({
      __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
      Message: 'Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed]',
      CancellationReasons: [{ Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' }],
    });

    const done = await raw(
      'TransactWriteItems',
      JSON.stringify({ TransactItems: [{ Put: { TableName: stack.tableName, Item: { pk: s('w-2') } } }] }),
    );
    expect(done.status).toBe(200);
    expect(done.json).toEqual({});
    expect(done.headers.get('x-amz-crc32')).toBe(String(crc32(done.text)));

    const invalid = await raw('TransactWriteItems', JSON.stringify({ TransactItems: [] }));
    expect(invalid.json.__type).toBe('com.amazon.coral.validate#ValidationException');
    expect(invalid.json.message).toContain('Member must have length greater than or equal to 1');

    expect((await raw('TransactWriteItems', '{')).json).toEqual({
      __type: 'com.amazon.coral.service#SerializationException',
    });
    expect((await raw('TransactWriteItems', body, false)).json.__type).toBe(
      'com.amazon.coral.service#MissingAuthenticationTokenException',
    );
  });

  it("answers a single-item write of a held item with TransactionConflictException in dynalite's shape", async () => {
    const pause = stack.dynamoTransactions.pauseNextTransaction();
    const held = transact([putOf({ pk: s('w-held') })]);
    await pause.reached;
    const conflict = await raw('PutItem', JSON.stringify({ TableName: stack.tableName, Item: { pk: s('w-held') } }));
    pause.resume();
    await held;
    expect(conflict.status).toBe(400);
    expect(conflict.json).toEqual({
      __type: 'com.amazonaws.dynamodb.v20120810#TransactionConflictException',
      message: 'Transaction is ongoing for the item',
    });
    expect(conflict.headers.get('x-amz-crc32')).toBe(String(crc32(conflict.text)));
  });
});

describe('counting', () => {
  it('counts TransactWriteItems by name with the other operations', async () => {
    const before = stack.dynamoCalls.get('TransactWriteItems') ?? 0;
    await transact([putOf({ pk: s('count-1') })]);
    await rejectionOf(transact([{}]), DynamoDBServiceException);
    expect(stack.dynamoCalls.get('TransactWriteItems')).toBe(before + 2);
  });
});
