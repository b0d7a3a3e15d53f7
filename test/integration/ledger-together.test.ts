import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttemptLedger } from '../../lib/ledger/attempt-ledger.js';
import { memberKey, pendingKey, recordKey, taskKey } from '../../lib/ledger/chain.js';
import { DynamoLedgerStore, LedgerUnavailableError, MARKER_KEPT, MARKER_RECENT } from '../../lib/ledger/store.js';
import { dynamoDbClient } from '../../lib/platform/dynamodb-client.js';
import { type HttpTransport, keepAliveTransport, TransportError } from '../../lib/platform/keep-alive-http.js';
import { counted, stackDynamoDb } from '../helpers/dynamodb.js';
import { PROJECT_ID } from '../helpers/factories.js';
import { type Harness, startHarness } from '../helpers/harness.js';

/**
 * Writes that go together (docs/ledger-protocol.md, "Writes that go
 * together"): a retry's claim with its pending marker and member item, an
 * outcome with its link, each in one TransactWriteItems, on the stack's
 * DynamoDB, which answers transactions, their cancellations and their
 * conflicts as DynamoDB does. Waits between rounds are recorded, not slept.
 */

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

/** An attempt ledger on the stack, its calls counted and its waits recorded (none slept unless `sleep` says). */
function ledgerOnStack(sleep?: (ms: number) => Promise<void>) {
  const { db, calls } = counted(stackDynamoDb(h.stack));
  const waits: number[] = [];
  const store = new DynamoLedgerStore(db, h.stack.tableName, {
    sleep: async (ms) => {
      waits.push(ms);
      await sleep?.(ms);
    },
    random: () => 0.5,
  });
  const ledger = new AttemptLedger(store, { leaseMs: 60_000, ttlDays: 30, sleep: async () => undefined });
  return { store, ledger, calls, waits };
}

let runs = 0;
/** A failed run of its own task, on a desktop of its own unless `desktop` is given, of script `s1`. */
function freshRun(desktop?: string) {
  const recordId = `together-${++runs}`;
  return {
    projectId: PROJECT_ID,
    recordId,
    taskId: `task-of-${recordId}`,
    resourceId: desktop ?? `desk-of-${recordId}`,
    scriptId: 's1',
  };
}

/** `run` located in `ledger` (the event names everything: no lookup). */
const locatedIn = (ledger: AttemptLedger, run: ReturnType<typeof freshRun>) => ledger.locate(run, async () => run);

const markerKeyOf = (run: ReturnType<typeof freshRun>) => pendingKey(run.projectId, run.resourceId, run.scriptId);

describe("a retry's claim", () => {
  it('writes its chain, its pending marker and its member item in one TransactWriteItems, ten claims in ten calls', async () => {
    // Prepare
    const { store, ledger, calls } = ledgerOnStack();
    const fresh = Array.from({ length: 10 }, () => freshRun());
    const located = await Promise.all(fresh.map((run) => locatedIn(ledger, run)));
    calls.clear();

    // Act
    const claims = await Promise.all(located.map((l) => ledger.claim(l, undefined, 'retry')));

    // Assess
    expect(claims.every(Boolean)).toBe(true);
    expect(Object.fromEntries(calls)).toEqual({ TransactWriteItems: 10 });
    for (const run of fresh) {
      const chain = recordKey(run.projectId, run.recordId);
      expect(await store.read(chain)).toMatchObject({ state: 'claimed', attempts: 1 });
      expect(await store.read(markerKeyOf(run))).toMatchObject({ link_to: chain, recent: [chain] });
      expect(await store.read(memberKey(run.projectId, run.taskId, run.resourceId, run.scriptId))).toMatchObject({
        link_to: chain,
      });
    }
  });

  it('refused at its revision, writes nothing: no pending marker and no member item name a claim that did not land', async () => {
    // Prepare: another delivery wrote the chain first
    const { store, ledger } = ledgerOnStack();
    const run = freshRun();
    const located = await locatedIn(ledger, run);
    await store.write({ pk: recordKey(run.projectId, run.recordId), rev: 1 } as never, undefined);

    // Act
    const claim = await ledger.claim(located, undefined, 'retry');

    // Assess
    expect(claim).toBeUndefined();
    expect(await store.read(markerKeyOf(run))).toBeUndefined();
    expect(await store.read(memberKey(run.projectId, run.taskId, run.resourceId, run.scriptId))).toBeUndefined();
  });

  it('on a full pending marker, writes the pruned list in the one call it sends again, without reading the marker', async () => {
    // Prepare: MARKER_RECENT claims of other chains on one desktop and script fill its marker
    const { store, ledger, calls } = ledgerOnStack();
    const run = freshRun();
    for (let i = 0; i < MARKER_RECENT; i++)
      await store.putMarker({
        pk: markerKeyOf(run),
        link_to: `earlier-${i}`,
        generation: 1,
        expires_at: 2_000_000_000,
      });
    const located = await locatedIn(ledger, run);
    const before = await store.read(markerKeyOf(run));
    calls.clear();

    // Act
    const claim = await ledger.claim(located, undefined, 'retry');

    // Assess
    expect(claim).toBeDefined();
    expect(Object.fromEntries(calls)).toEqual({ TransactWriteItems: 2 });
    const marker = await store.read(markerKeyOf(run));
    expect(marker?.['recent']).toEqual([
      recordKey(run.projectId, run.recordId),
      ...(before?.['recent'] as string[]).slice(0, MARKER_KEPT - 1),
    ]);
    expect(marker?.['rev']).toBe((before?.['rev'] as number) + 1);
  });

  it('that meets another transaction on one of its items is sent again after a full-jitter wait, and lands', async () => {
    // Prepare: the next two transactions meet another on the pending marker
    const { store, ledger, calls, waits } = ledgerOnStack();
    const run = freshRun();
    const located = await locatedIn(ledger, run);
    h.stack.dynamoTransactions.conflictTransactions({ count: 2, onKey: (pk) => pk === markerKeyOf(run) });
    calls.clear();

    // Act
    const claim = await ledger.claim(located, undefined, 'retry');

    // Assess: half of 10 ms, then of 20 ms (random 0.5)
    expect(claim).toBeDefined();
    expect(Object.fromEntries(calls)).toEqual({ TransactWriteItems: 3 });
    expect(waits).toEqual([5, 10]);
    expect(await store.read(markerKeyOf(run))).toMatchObject({ recent: [recordKey(run.projectId, run.recordId)] });
  });

  it('that keeps meeting other transactions fails as the ledger unavailable after 8 rounds, with nothing written', async () => {
    // Prepare
    const { store, ledger, waits } = ledgerOnStack();
    const run = freshRun();
    const located = await locatedIn(ledger, run);
    h.stack.dynamoTransactions.conflictTransactions({ count: 8, onKey: (pk) => pk === markerKeyOf(run) });

    // Act
    const claim = ledger.claim(located, undefined, 'retry');

    // Assess
    await expect(claim).rejects.toBeInstanceOf(LedgerUnavailableError);
    await expect(claim).rejects.toThrow(/kept meeting other writes/);
    expect(waits).toHaveLength(7);
    expect(await store.read(recordKey(run.projectId, run.recordId))).toBeUndefined();
    expect(await store.read(markerKeyOf(run))).toBeUndefined();
  });

  it('is applied once when its answer is lost: the transport sends it again with the same token', async () => {
    // Prepare: the first TransactWriteItems reaches DynamoDB, and its answer is lost on the way back
    let lost = 0;
    const losing: HttpTransport = async (request) => {
      const answer = await keepAliveTransport(request);
      if (String(request.headers['x-amz-target']).endsWith('TransactWriteItems') && lost++ === 0)
        throw new TransportError('network', 'connection reset after the request was sent');
      return answer;
    };
    const db = dynamoDbClient({ env: h.stack.env, transport: losing, sleep: async () => undefined });
    const ledger = new AttemptLedger(new DynamoLedgerStore(db, h.stack.tableName), { leaseMs: 60_000, ttlDays: 30 });
    const run = freshRun();
    const located = await locatedIn(ledger, run);

    // Act
    const claim = await ledger.claim(located, undefined, 'retry');

    // Assess: the second try was answered as the first would have been; the chain was written once
    expect(lost).toBe(2);
    expect(claim?.chain).toMatchObject({ state: 'claimed', rev: 1 });
    expect(await ledger.get(recordKey(run.projectId, run.recordId))).toMatchObject({ state: 'claimed', rev: 1 });
  });
});

describe('claims racing on one pending marker', () => {
  it('ten at once, on one desktop and script: each lands whole or not at all, and the marker names every one that landed', async () => {
    // Prepare: ten failures of one script on one desktop, each of its own task (real races on the marker, not
    // scheduled ones: each claim is sent again as often as it meets another)
    const { store, ledger } = ledgerOnStack(async () => undefined);
    const desktop = `hot-desk-${runs}`;
    const fresh = Array.from({ length: 10 }, () => freshRun(desktop));
    const located = await Promise.all(fresh.map((run) => locatedIn(ledger, run)));

    // Act
    const claims = await Promise.allSettled(located.map((l) => ledger.claim(l, l.chain?.rev, 'retry')));

    // Assess: a claim that landed is on the marker with its chain; one that did not is unavailable, with nothing written
    const recent = (await store.read(markerKeyOf(fresh[0]!)))?.['recent'] as string[];
    for (const [i, run] of fresh.entries()) {
      const chain = recordKey(run.projectId, run.recordId);
      const claim = claims[i]!;
      if (claim.status === 'fulfilled' && claim.value) {
        expect(recent).toContain(chain);
        expect(await store.read(chain)).toMatchObject({ state: 'claimed' });
      } else {
        expect(claim.status === 'rejected' && claim.reason).toBeInstanceOf(LedgerUnavailableError);
        expect(recent).not.toContain(chain);
        expect(await store.read(chain)).toBeUndefined();
      }
    }
  });
});

describe('a single-item write that meets a transaction', () => {
  it('is sent again once the transaction holding its item is done, and both land', async () => {
    // Prepare: a claim's transaction is held once it has its items
    const pause = h.stack.dynamoTransactions.pauseNextTransaction();
    const { ledger } = ledgerOnStack();
    const run = freshRun();
    const claiming = ledger.claim(await locatedIn(ledger, run), undefined, 'retry');
    await pause.reached;
    // A second store appends to the same pending marker; its wait lets the held transaction finish.
    const other = ledgerOnStack(async () => {
      pause.resume();
      await claiming;
    });

    // Act
    await other.store.putMarker({
      pk: markerKeyOf(run),
      link_to: 'another-chain',
      generation: 1,
      expires_at: 2_000_000_000,
    });

    // Assess
    expect(other.waits).toHaveLength(1);
    expect(await claiming).toBeDefined();
    expect((await other.store.read(markerKeyOf(run)))?.['recent']).toEqual([
      'another-chain',
      recordKey(run.projectId, run.recordId),
    ]);
  });
});

describe("an accepted retry's outcome", () => {
  /** A run claimed for a retry in a ledger on the stack. */
  async function claimed() {
    const on = ledgerOnStack();
    const run = freshRun();
    const claim = (await on.ledger.claim(await locatedIn(on.ledger, run), undefined, 'retry'))!;
    on.calls.clear();
    return { ...on, run, claim };
  }

  it('is written with its new task link in one TransactWriteItems', async () => {
    // Prepare
    const { store, ledger, calls, run, claim } = await claimed();

    // Act
    const settled = await ledger.settleRetried(claim, { taskId: `new-${run.recordId}`, via: 'answer' });

    // Assess
    expect(settled).toEqual({ outcome: 'settled' });
    expect(Object.fromEntries(calls)).toEqual({ TransactWriteItems: 1 });
    expect(await store.read(taskKey(run.projectId, `new-${run.recordId}`))).toMatchObject({
      link_to: recordKey(run.projectId, run.recordId),
      generation: 1,
    });
  });

  it('whose task another chain already links is written alone, and the link is left as it is', async () => {
    // Prepare
    const { store, ledger, calls, run, claim } = await claimed();
    const task = taskKey(run.projectId, `taken-${run.recordId}`);
    await store.write({ pk: task, link_to: 'another-chain', generation: 3 } as never, undefined);
    calls.clear();

    // Act
    const settled = await ledger.settleRetried(claim, { taskId: `taken-${run.recordId}`, via: 'answer' });

    // Assess: the set refused, the outcome alone, the link read to say whose it is
    expect(settled).toEqual({ outcome: 'settled' });
    expect(Object.fromEntries(calls)).toEqual({ TransactWriteItems: 1, PutItem: 1, BatchGetItem: 1 });
    expect(await store.read(recordKey(run.projectId, run.recordId))).toMatchObject({
      state: 'retried',
      new_task_id: `taken-${run.recordId}`,
    });
    expect(await store.read(task)).toMatchObject({ link_to: 'another-chain', generation: 3 });
  });

  it('found landed by a lookup, at a revision that moved on, writes neither the outcome nor the link', async () => {
    // Prepare: another delivery moved the chain on since it was read
    const { store, ledger, calls, run, claim } = await claimed();
    await store.write({ ...claim.chain, rev: claim.chain.rev + 1 } as never, claim.chain.rev);
    calls.clear();

    // Act
    const landed = await ledger.resolveLanded(claim.chain, { taskId: `late-${run.recordId}`, via: 'lookup' });

    // Assess: one call, not sent again alone
    expect(landed).toBe(false);
    expect(Object.fromEntries(calls)).toEqual({ TransactWriteItems: 1 });
    expect(await store.read(taskKey(run.projectId, `late-${run.recordId}`))).toBeUndefined();
    expect(await store.read(recordKey(run.projectId, run.recordId))).toMatchObject({ state: 'claimed' });
  });
});
