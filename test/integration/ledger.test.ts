import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttemptLedger } from '../../lib/ledger/attempt-ledger.js';
import { recordKey } from '../../lib/ledger/chain.js';
import { DynamoLedgerStore, type Keyed, type LedgerStore } from '../../lib/ledger/store.js';
import { captureStdout } from '../../local/log-capture.js';
import { bent, counted, stackDynamoDb, throttled } from '../helpers/dynamodb.js';
import { inSns } from '../helpers/envelopes.js';
import { body, PROJECT_ID, plainFailure, recordFor } from '../helpers/factories.js';
import { type Harness, invoke, outcomesOf, sqsEvent, startHarness } from '../helpers/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

/** A ledger on the stack's table whose DynamoDB calls are counted by operation. */
function countedLedger(now = Date.now): { ledger: AttemptLedger; calls: Map<string, number> } {
  const { db, calls } = counted(stackDynamoDb(h.stack));
  const ledger = new AttemptLedger(new DynamoLedgerStore(db, h.stack.tableName), {
    leaseMs: 60_000,
    ttlDays: 30,
    now,
    sleep: async () => undefined,
  });
  return { ledger, calls };
}

const runOf = (recordId: string, taskId = `task-of-${recordId}`) => ({
  projectId: PROJECT_ID,
  recordId,
  taskId,
  resourceId: `desk-of-${recordId}`,
  scriptId: 'script-1',
});

describe('the ledger store on DynamoDB (dynalite)', () => {
  it('reads every item a batch asks for in the same turn with one BatchGetItem', async () => {
    const { ledger, calls } = countedLedger();
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => ledger.locate(runOf(`batched-${i}`), async () => runOf(`batched-${i}`))),
    );
    expect(calls.get('BatchGetItem')).toBe(1);
  });

  it('a claim conditional on a revision another delivery already moved is refused, and locating again sees the winner', async () => {
    const { ledger } = countedLedger();
    const run = runOf('contended');
    const seen = await ledger.locate(run, async () => run);
    const [a, b] = await Promise.all([ledger.claim(seen, undefined, 'retry'), ledger.claim(seen, undefined, 'retry')]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
    const again = await ledger.locate(run, async () => run);
    expect(again.chain).toMatchObject({ state: 'claimed', attempts: 1, rev: 1 });
  });

  it("a retry's answer naming a task another chain already links leaves that link as it is", async () => {
    // Prepare: chain A was retried into task shared-answer; chain B's retry answers the same task id.
    const { ledger } = countedLedger();
    const [a, b] = [runOf('link-owner'), runOf('link-latecomer')];
    const claimA = (await ledger.claim(await ledger.locate(a, async () => a), undefined, 'retry'))!;
    await ledger.settleRetried(claimA, { taskId: 'shared-answer', via: 'answer' });
    const claimB = (await ledger.claim(await ledger.locate(b, async () => b), undefined, 'retry'))!;
    // Act
    const settled = await ledger.settleRetried(claimB, { taskId: 'shared-answer', via: 'answer' });
    // Assess: B is retried, and the task still leads to A.
    expect(settled.outcome).toBe('settled');
    expect(await ledger.get(`${PROJECT_ID}#task#shared-answer`)).toMatchObject({
      link_to: recordKey(PROJECT_ID, 'link-owner'),
    });
  });

  it("a retry's answer naming the retried run's own task writes no link (that task id also means its other desktops' runs)", async () => {
    const { ledger } = countedLedger();
    const run = runOf('own-task-answer', 'task-of-many-desktops');
    const claim = (await ledger.claim(await ledger.locate(run, async () => run), undefined, 'retry'))!;
    await ledger.settleRetried(claim, { taskId: 'task-of-many-desktops', via: 'answer' });
    expect(await ledger.get(`${PROJECT_ID}#task#task-of-many-desktops`)).toBeUndefined();
  });

  it('a holder whose claim was taken over after its lease reports lease-lost, never its own success', async () => {
    let now = Date.now();
    const { ledger } = countedLedger(() => now);
    const run = runOf('taken-over');
    const claim = (await ledger.claim(await ledger.locate(run, async () => run), undefined, 'retry'))!;
    now += 61_000;
    const later = await ledger.locate(run, async () => run);
    await ledger.claim(later, later.chain!.rev, 'retry');
    const settled = await ledger.settleRetried(claim, { taskId: 'new-task', via: 'answer' });
    expect(settled.outcome).toBe('lease-lost');
  });

  it('settling the same accepted retry twice is recorded once (the write is idempotent for its holder)', async () => {
    const { ledger } = countedLedger();
    const run = runOf('settled-twice');
    const claim = (await ledger.claim(await ledger.locate(run, async () => run), undefined, 'retry'))!;
    expect((await ledger.settleRetried(claim, { taskId: 'nt', via: 'answer' })).outcome).toBe('settled');
    expect((await ledger.settleRetried(claim, { taskId: 'nt', via: 'answer' })).outcome).toBe('settled');
    expect(await ledger.get(recordKey(PROJECT_ID, 'settled-twice'))).toMatchObject({
      state: 'retried',
      attempts: 1,
      new_task_id: 'nt',
    });
  });

  it('a record-only event is looked up once: the next event for the record needs no lookup', async () => {
    const { ledger } = countedLedger();
    let lookups = 0;
    const lookup = async () => {
      lookups++;
      return runOf('looked-up');
    };
    await ledger.locate({ projectId: PROJECT_ID, recordId: 'looked-up' }, lookup);
    const second = await ledger.locate({ projectId: PROJECT_ID, recordId: 'looked-up' }, lookup);
    expect(lookups).toBe(1);
    expect(second.chain).toMatchObject({
      resource_id: 'desk-of-looked-up',
      script_id: 'script-1',
      tasks: ['task-of-looked-up'],
    });
  });

  it('items written through the DocumentClient (earlier versions, ops tooling) read back the same through the store, and the other way round', async () => {
    // Prepare
    const client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: h.stack.dynamoEndpoint,
      credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
    });
    const documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    const store = new DynamoLedgerStore(stackDynamoDb(h.stack), h.stack.tableName);
    const item = {
      state: 'retried',
      attempts: 1,
      rev: 3,
      tasks: ['t0', 't1'],
      history: [{ attempt: 1, at: '2026-11-29T22:00:00.000Z', outcome: 'retried', task_id: 't1' }],
      forced: false,
      lease_until: 1_764_460_000_123,
    };

    // Act
    await documents.send(
      new PutCommand({ TableName: h.stack.tableName, Item: { pk: 'compat#written-by-documents', ...item } }),
    );
    await store.put({ pk: 'compat#written-by-store', ...item, reason: undefined } as Keyed);
    const readByStore = await store.read('compat#written-by-documents');
    const readByDocuments = (
      await documents.send(
        new GetCommand({ TableName: h.stack.tableName, Key: { pk: 'compat#written-by-store' }, ConsistentRead: true }),
      )
    ).Item;

    // Assess
    expect(readByStore).toEqual({ pk: 'compat#written-by-documents', ...item });
    expect(readByDocuments).toEqual({ pk: 'compat#written-by-store', ...item });
  });
});

describe("reads made ahead of a record's turn", () => {
  it('a run located from reads made before another delivery claimed it is marked so; its claim is refused and a fresh location sees that claim', async () => {
    // Prepare: this delivery's reads are made ahead; then another delivery claims the run.
    const { ledger, calls } = countedLedger();
    const other = countedLedger().ledger;
    const run = runOf('overtaken-after-read-ahead');
    const ahead = ledger.readAhead(run);
    await ahead.read(recordKey(PROJECT_ID, run.recordId));
    const reads = calls.get('BatchGetItem');
    const theirs = await other.locate(run, async () => run);
    expect(await other.claim(theirs, undefined, 'retry')).toBeDefined();
    // Act
    const located = await ledger.locate(run, async () => run, { cache: true, ahead });
    const readsToLocate = calls.get('BatchGetItem')! - reads!;
    const claim = await ledger.claim(located, located.chain?.rev, 'retry');
    const again = await ledger.locate(run, async () => run);
    // Assess: located from the reads made ahead (no read of its own, marked so), refused, and a fresh location sees
    // the other claim.
    expect(located.chain).toBeUndefined();
    expect(located.ahead).toBe(true);
    expect(again.ahead).toBeUndefined();
    expect(readsToLocate).toBe(0);
    expect(claim).toBeUndefined();
    expect(again.chain).toMatchObject({ state: 'claimed', attempts: 1, rev: 1 });
  });

  it('reads made ahead that found a pointer another delivery has since replaced: the run is located again from fresh reads', async () => {
    // Prepare: the record's item is a pointer to a chain that does not place its run; reads are made ahead;
    // then another delivery writes the record's own chain over the pointer.
    const { ledger } = countedLedger();
    const run = { ...runOf('pointer-replaced-after-read-ahead'), startedAt: Date.parse('2026-11-29T12:00:00Z') };
    const own = recordKey(PROJECT_ID, run.recordId);
    await ledger.store.put({ pk: own, link_to: recordKey(PROJECT_ID, 'gone'), generation: 0, rev: 0 } as Keyed);
    const ahead = ledger.readAhead(run);
    await ahead.read(own);
    const theirs = await countedLedger().ledger.locate(run, async () => run);
    expect(theirs.chain).toMatchObject({ pk: own, rev: 1 });
    // Act: the write computed from the stale pointer is refused, and the run located again.
    const located = await Promise.race([
      ledger.locate(run, async () => run, { cache: true, ahead }),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('located again from the same stale reads, without end')), 5_000),
      ),
    ]);
    // Assess: the chain the other delivery wrote.
    expect(located.chain).toMatchObject({ pk: own, rev: 1 });
  });

  it('a lost answer resolved from a chain that changed since writes neither its outcome nor its link', async () => {
    // Prepare: a retry claim; the holder settles it (task settled-first) after another delivery read the claim.
    const { ledger } = countedLedger();
    const run = runOf('resolved-from-old-read');
    const claim = (await ledger.claim(await ledger.locate(run, async () => run), undefined, 'retry'))!;
    await ledger.settleRetried(claim, { taskId: 'settled-first', via: 'answer' });
    // Act: the other delivery, from the claim it read, resolves the lost answer with a run it found in another task.
    const written = await ledger.resolveLanded(claim.chain, {
      taskId: 'found-from-old-read',
      via: 'lookup',
      run: { recordId: 'someone-elses-run' },
    });
    // Assess: refused, and the task it found does not lead to this chain.
    expect(written).toBe(false);
    expect(await ledger.get(`${PROJECT_ID}#task#found-from-old-read`)).toBeUndefined();
    expect(await ledger.get(`${PROJECT_ID}#task#settled-first`)).toMatchObject({
      link_to: recordKey(PROJECT_ID, run.recordId),
    });
  });

  it("a lookup's pointer never overwrites an item another delivery wrote for the record meanwhile", async () => {
    // Prepare: chain A retried into task pointer-task; its retry's run (record pointer-newcomer) is reported without
    // its task, so it is looked up and found through A's link. Just before the pointer is written, another delivery
    // writes the record's own item.
    const { ledger } = countedLedger();
    const owner = runOf('pointer-owner');
    const claim = (await ledger.claim(await ledger.locate(owner, async () => owner), undefined, 'retry'))!;
    await ledger.settleRetried(claim, { taskId: 'pointer-task', via: 'answer' });
    const own = recordKey(PROJECT_ID, 'pointer-newcomer');
    const theirs = { pk: own, link_to: recordKey(PROJECT_ID, 'elsewhere'), generation: 0, rev: 5 } as Keyed;
    const inner = new DynamoLedgerStore(stackDynamoDb(h.stack), h.stack.tableName);
    const writeTheirsFirst = async (item: Keyed) => {
      if (item.pk === own && 'link_to' in item) await inner.write(theirs, undefined);
    };
    const store: LedgerStore = Object.assign(Object.create(inner) as DynamoLedgerStore, {
      write: async (item: Keyed, rev: number | undefined) => (await writeTheirsFirst(item), inner.write(item, rev)),
      put: async (item: Keyed) => (await writeTheirsFirst(item), inner.put(item)),
    });
    const racing = new AttemptLedger(store, { leaseMs: 60_000, ttlDays: 30, sleep: async () => undefined });
    const facts = { ...runOf('pointer-newcomer', 'pointer-task'), resourceId: owner.resourceId };
    // Act
    const located = await racing.locate({ projectId: PROJECT_ID, recordId: 'pointer-newcomer' }, async () => facts);
    // Assess: placed in A's chain, and the other delivery's item is as it wrote it.
    expect(located.chainKey).toBe(recordKey(PROJECT_ID, 'pointer-owner'));
    expect(await ledger.get(own)).toMatchObject({ link_to: recordKey(PROJECT_ID, 'elsewhere'), rev: 5 });
  });

  it('a read made ahead that failed is made again when the run is located', async () => {
    // Prepare: the first BatchGetItem, the one of the reads made ahead, is throttled.
    let throttledOnce: () => void = () => undefined;
    const readsFailed = new Promise<void>((resolve) => (throttledOnce = resolve));
    let calls = 0;
    const db = bent(stackDynamoDb(h.stack), 'BatchGetItem', async (input, send) => {
      if (++calls > 1) return send(input);
      throttledOnce();
      throw throttled();
    });
    const ledger = new AttemptLedger(new DynamoLedgerStore(db, h.stack.tableName), {
      leaseMs: 60_000,
      ttlDays: 30,
      sleep: async () => undefined,
    });
    const run = runOf('read-ahead-throttled');
    const ahead = ledger.readAhead(run);
    await readsFailed;
    // Act
    const located = await ledger.locate(run, async () => run, { cache: true, ahead });
    // Assess: located, from a second BatchGetItem.
    expect(located).toMatchObject({ chainKey: recordKey(PROJECT_ID, run.recordId), chain: undefined, generation: 0 });
    expect(calls).toBe(2);
  });
});

describe('one retry per failure through the queue function', () => {
  it('the same failure delivered 5 times at once calls Workspace once; the other 4 wait and end as duplicates', async () => {
    const handler = await h.loadHandler('queue', { POWERTOOLS_LOG_LEVEL: 'INFO' });
    const failure = plainFailure();
    h.stack.simulator.seedRecords(PROJECT_ID, [recordFor(failure)]);
    const capture = captureStdout();
    try {
      await Promise.all(Array.from({ length: 5 }, () => invoke(handler, sqsEvent([body(failure)]))));
      // Copies that found the claim held were re-enqueued; delivered again after it, they are duplicates.
      await Promise.all(Array.from({ length: 4 }, () => invoke(handler, sqsEvent([body(failure)]))));
    } finally {
      capture.restore();
    }
    expect(h.stack.simulator.retryCount(String(failure['record_id']))).toBe(1);
    const kinds = capture.outcomes().map((o) => o['kind']);
    expect(kinds.filter((k) => k === 'retried')).toHaveLength(1);
    expect(kinds.slice(5)).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate']);
  });

  it('copies of one retried run in one batch all end as duplicates and leave the queue (their links are written once)', async () => {
    const handler = await h.loadHandler('queue');
    const failure = plainFailure();
    h.stack.simulator.seedRecords(PROJECT_ID, [recordFor(failure)]);
    await invoke(handler, sqsEvent([body(failure)]));
    const copies = await invoke(handler, sqsEvent([body(failure), body(failure), body(failure)]));
    expect(copies.batchItemFailures).toEqual([]);
    expect(h.stack.simulator.retryCount(String(failure['record_id']))).toBe(1);
  });

  it('copies of one failure in one batch are handled in turn: one retry, the others duplicates at once, nothing left waiting', async () => {
    const handler = await h.loadHandler('queue', { POWERTOOLS_LOG_LEVEL: 'INFO' });
    const failure = plainFailure();
    h.stack.simulator.seedRecords(PROJECT_ID, [recordFor(failure)]);
    const delayed = (await h.stack.depth(h.stack.queueUrl)).delayed;
    const outcomes = await outcomesOf(() =>
      invoke(handler, sqsEvent([body(failure), body(inSns(failure)), body(failure)])),
    );
    expect(outcomes.map((o) => o['kind'])).toEqual(['retried', 'duplicate', 'duplicate']);
    expect((await h.stack.depth(h.stack.queueUrl)).delayed).toBe(delayed);
  });
});
