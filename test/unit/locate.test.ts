import { afterEach, describe, expect, it, vi } from 'vitest';
import { AttemptLedger } from '../../lib/ledger/attempt-ledger.js';
import { type RunFacts, recordKey } from '../../lib/ledger/chain.js';
import type { RecordNow } from '../../lib/ledger/locate.js';
import { MemoryLedgerStore } from '../model/memory-ledger-store.js';

/**
 * Where a failure event's run belongs (lib/ledger/locate.ts), on the
 * in-memory store that keeps DynamoLedgerStore's contract: which keys lead to
 * a chain, when Workspace is asked (the lookup), and what locating writes (a
 * pointer, a new chain) or, in a dry run, does not. The clock is injected.
 */

const T0 = Date.parse('2026-11-29T12:00:00Z');
const EXPIRES = Math.floor(T0 / 1000) + 30 * 86_400;
const root: RunFacts = { projectId: 'p', recordId: 'r0', taskId: 't0', resourceId: 'd0', scriptId: 's0' };
/** The retry's run in its new task (after the claim). */
const retryRun: RunFacts = { ...root, recordId: 'r1', taskId: 't1', startedAt: T0 + 5_000 };

function setup() {
  const store = new MemoryLedgerStore();
  const ledger = new AttemptLedger(store, {
    leaseMs: 60_000,
    ttlDays: 30,
    now: () => T0,
    sleep: async () => undefined,
  });
  return { store, ledger };
}

/** A lookup that answers `now` and counts its calls. */
function lookupOf(now: RecordNow) {
  const lookup = vi.fn(async () => now);
  return lookup;
}

const never = () => lookupOf({ projectId: 'p', recordId: 'never' });

/** r0's chain, retried once into task t1. */
async function retriedChain(ledger: AttemptLedger) {
  const located = await ledger.locate(root, never());
  const claim = (await ledger.claim(located, undefined, 'retry'))!;
  await ledger.settleRetried(claim, { taskId: 't1', via: 'answer' });
}

afterEach(() => vi.restoreAllMocks());

describe('a run whose keys lead to its chain', () => {
  it("is the retry's run through its task's link, without asking Workspace", async () => {
    const { ledger } = setup();
    await retriedChain(ledger);
    const lookup = never();
    const located = await ledger.locate(retryRun, lookup);
    expect(located).toMatchObject({ chainKey: 'p#record#r0', generation: 1, run: retryRun });
    expect(located.chain).toMatchObject({ pk: 'p#record#r0', state: 'retried' });
    expect(lookup).not.toHaveBeenCalled();
  });

  it('is the root run through its own chain', async () => {
    const { ledger } = setup();
    await retriedChain(ledger);
    expect(await ledger.locate(root, never())).toMatchObject({ chainKey: 'p#record#r0', generation: 0 });
  });
});

describe('a run named by its record only', () => {
  const bare: RunFacts = { projectId: 'p', recordId: 'r1' };

  it('is completed by one lookup, and its record then points at its chain', async () => {
    const { store, ledger } = setup();
    await retriedChain(ledger);
    const lookup = lookupOf({ ...retryRun, failed: true });
    const located = await ledger.locate(bare, lookup);
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(located).toMatchObject({ chainKey: 'p#record#r0', generation: 1, run: { ...retryRun } });
    expect(located.run).not.toHaveProperty('failed');
    expect(store.items.get('p#record#r1')).toEqual({
      pk: 'p#record#r1',
      link_to: 'p#record#r0',
      generation: 1,
      rev: 0,
      expires_at: EXPIRES,
    });
  });

  it('writes no pointer in a dry run', async () => {
    const { store, ledger } = setup();
    await retriedChain(ledger);
    const located = await ledger.locate(bare, lookupOf({ ...retryRun, failed: true }), { cache: false });
    expect(located).toMatchObject({ chainKey: 'p#record#r0', generation: 1 });
    expect(store.items.has('p#record#r1')).toBe(false);
  });

  it("writes no pointer for the chain's own root record", async () => {
    const { store, ledger } = setup();
    await retriedChain(ledger);
    const before = store.items.get('p#record#r0');
    const located = await ledger.locate({ projectId: 'p', recordId: 'r0' }, lookupOf({ ...root, failed: true }));
    expect(located).toMatchObject({ chainKey: 'p#record#r0', generation: 0 });
    expect(store.items.get('p#record#r0')).toEqual(before);
  });

  it('that no chain claims starts its own chain, written now with what the lookup found', async () => {
    const { store, ledger } = setup();
    const lookup = lookupOf({ ...root, recordId: 'r7', taskId: 't7', failed: true });
    const located = await ledger.locate({ projectId: 'p', recordId: 'r7' }, lookup);
    expect(located).toMatchObject({ chainKey: 'p#record#r7', generation: 0 });
    expect(located.chain).toMatchObject({ state: 'open', rev: 1, resource_id: 'd0', script_id: 's0', tasks: ['t7'] });
    expect(store.items.get('p#record#r7')).toEqual({ ...located.chain, expires_at: EXPIRES });
  });

  it('that no chain claims writes nothing in a dry run', async () => {
    const { store, ledger } = setup();
    const located = await ledger.locate(
      { projectId: 'p', recordId: 'r7' },
      lookupOf({ ...root, recordId: 'r7', taskId: 't7', failed: true }),
      { cache: false },
    );
    expect(located).toEqual({
      chainKey: 'p#record#r7',
      chain: undefined,
      generation: 0,
      run: { ...root, recordId: 'r7', taskId: 't7' },
    });
    expect(store.items.size).toBe(0);
  });
});

describe('a complete event no chain claims', () => {
  it('needs no lookup, and its chain is written by its first claim', async () => {
    const { store, ledger } = setup();
    const lookup = never();
    expect(await ledger.locate(root, lookup)).toEqual({
      chainKey: 'p#record#r0',
      chain: undefined,
      generation: 0,
      run: root,
    });
    expect(lookup).not.toHaveBeenCalled();
    expect(store.items.size).toBe(0);
  });

  it("is its record's root chain even when its desktop is given otherwise", async () => {
    const { ledger } = setup();
    await retriedChain(ledger);
    const located = await ledger.locate({ ...root, resourceId: 'd9' }, never());
    expect(located).toMatchObject({ chainKey: 'p#record#r0', generation: 0, chain: { pk: 'p#record#r0' } });
  });

  it("replaces a pointer whose chain no longer claims the run, at the pointer's next revision", async () => {
    const { store, ledger } = setup();
    store.items.set('p#record#r3', { pk: 'p#record#r3', link_to: 'p#record#gone', generation: 1, rev: 3 });
    const run = { ...root, recordId: 'r3', taskId: 't3' };
    const located = await ledger.locate(run, never());
    expect(located.chain).toMatchObject({ pk: 'p#record#r3', rev: 4, state: 'open' });
    expect(store.items.get('p#record#r3')).toMatchObject({ rev: 4, state: 'open', expires_at: EXPIRES });
  });

  it('leaves a pointer in place in a dry run', async () => {
    const { store, ledger } = setup();
    const pointer = { pk: 'p#record#r3', link_to: 'p#record#gone', generation: 1, rev: 3 };
    store.items.set(pointer.pk, pointer);
    const located = await ledger.locate({ ...root, recordId: 'r3', taskId: 't3' }, never(), { cache: false });
    expect(located.chain).toBeUndefined();
    expect(store.items.get(pointer.pk)).toEqual(pointer);
  });

  it('leaves a pointer written without a revision to its chain', async () => {
    const { store, ledger } = setup();
    const pointer = { pk: 'p#record#r3', link_to: 'p#record#gone', generation: 1 };
    store.items.set(pointer.pk, pointer);
    const located = await ledger.locate({ ...root, recordId: 'r3', taskId: 't3' }, never());
    expect(located).toMatchObject({ chainKey: 'p#record#r3', chain: undefined, generation: 0 });
    expect(store.items.get(pointer.pk)).toEqual(pointer);
  });

  it('is located again from fresh reads when the pointer changed meanwhile', async () => {
    const { store, ledger } = setup();
    store.items.set('p#record#r3', { pk: 'p#record#r3', link_to: 'p#record#gone', generation: 1, rev: 3 });
    const write = vi.spyOn(store, 'write');
    write.mockImplementationOnce(async () => {
      store.items.set('p#record#r3', { pk: 'p#record#r3', link_to: 'p#record#gone', generation: 1, rev: 5 });
      return 'conflict';
    });
    const located = await ledger.locate({ ...root, recordId: 'r3', taskId: 't3' }, never());
    expect(located.chain).toMatchObject({ rev: 6 });
    expect(write).toHaveBeenLastCalledWith(expect.objectContaining({ rev: 6 }), 5);
  });
  it("is located again from the event's own facts when its chain was written meanwhile: Workspace is asked again", async () => {
    // The record's current run when first asked, and when asked again (another delivery retried it in place meanwhile).
    const { store, ledger } = setup();
    const lookup = vi
      .fn<() => Promise<RecordNow>>()
      .mockResolvedValueOnce({ ...root, recordId: 'r7', taskId: 't7', startedAt: T0 - 60_000, failed: true })
      .mockResolvedValueOnce({ ...root, recordId: 'r7', taskId: 't7', startedAt: T0 - 5_000, failed: false });
    // Meanwhile another delivery wrote the chain and retried the record, answered with its own task: it may have run
    // again in place.
    const first: RunFacts = { ...root, recordId: 'r7', taskId: 't7', startedAt: T0 - 60_000 };
    vi.spyOn(store, 'write').mockImplementationOnce(async () => {
      const claim = (await ledger.claim(await ledger.locate(first, never()), undefined, 'retry'))!;
      await ledger.settleRetried(claim, { taskId: 't7', via: 'answer' });
      return 'conflict';
    });
    const located = await ledger.locate({ projectId: 'p', recordId: 'r7' }, lookup);
    // Not the first answer's run taken as the event's start: the record's current run, which has not failed.
    expect(lookup).toHaveBeenCalledTimes(2);
    expect(located).toMatchObject({ chainKey: 'p#record#r7', generation: 0 });
  });
});

describe('a record that may have run again in place, named without its start', () => {
  it("asks Workspace for the record's current run, and places it by that run's start", async () => {
    const { ledger } = setup();
    const located = await ledger.locate(root, never());
    const claim = (await ledger.claim(located, undefined, 'retry'))!;
    // Workspace answered the retry with the record's own task: it may have run r0 again in place.
    await ledger.settleRetried(claim, { taskId: 't0', via: 'answer' });
    const again = lookupOf({ ...root, startedAt: T0 + 9_000, failed: true });
    expect(await ledger.locate(root, again)).toMatchObject({ generation: 1, run: { startedAt: T0 + 9_000 } });
    expect(again).toHaveBeenCalledTimes(1);
    const notFailed = lookupOf({ ...root, startedAt: T0 + 9_000, failed: false });
    expect(await ledger.locate(root, notFailed)).toMatchObject({ generation: 0 });
    const noWord = lookupOf({ ...root, startedAt: T0 + 9_000 });
    expect(await ledger.locate(root, noWord)).toMatchObject({ generation: 1 });
  });
});

describe('reads made ahead', () => {
  it("are used by the run's first placement instead of reading again", async () => {
    const { store, ledger } = setup();
    await retriedChain(ledger);
    const read = vi.spyOn(store, 'read');
    const ahead = ledger.readAhead(retryRun);
    await new Promise((resolve) => setImmediate(resolve));
    const readAhead = read.mock.calls.map(([pk]) => pk).sort();
    expect(readAhead).toEqual(['p#pending#d0#s0', 'p#record#r0', 'p#record#r1', 'p#run#t1#d0#s0', 'p#task#t1']);
    const located = await ledger.locate(retryRun, never(), { cache: true, ahead });
    expect(located).toMatchObject({ chainKey: 'p#record#r0', generation: 1 });
    expect(read).toHaveBeenCalledTimes(readAhead.length);
  });

  it('a read that failed ahead is made again when used', async () => {
    const { store, ledger } = setup();
    await retriedChain(ledger);
    store.arm('read', 5);
    const ahead = ledger.readAhead(retryRun);
    await new Promise((resolve) => setImmediate(resolve));
    store.disarm();
    expect(await ledger.locate(retryRun, never(), { cache: true, ahead })).toMatchObject({
      chainKey: recordKey('p', 'r0'),
      generation: 1,
    });
  });
});

describe('an event that lacks one of its task, desktop or script', () => {
  it.each([
    ['its task', { taskId: undefined }],
    ['its desktop', { resourceId: undefined }],
    ['its script', { scriptId: undefined }],
  ] as const)(
    'without %s, a run no chain knows is completed by one lookup, and its chain keeps what the lookup found',
    async (_, missing) => {
      // Prepare
      const { ledger, store } = setup();
      const full: RunFacts = { ...root, recordId: 'r7', taskId: 't7', startedAt: T0 - 5_000 };
      const lookup = lookupOf(full);
      // Act
      const located = await ledger.locate({ ...full, ...missing }, lookup);
      // Assess
      expect(lookup).toHaveBeenCalledTimes(1);
      expect(located).toMatchObject({ chainKey: recordKey('p', 'r7'), generation: 0 });
      expect(store.items.get(recordKey('p', 'r7'))).toMatchObject({
        resource_id: 'd0',
        script_id: 's0',
        tasks: ['t7'],
      });
    },
  );

  it('a complete event that no chain places starts its own chain without asking Workspace', async () => {
    const { ledger } = setup();
    const lookup = never();
    const located = await ledger.locate({ ...root, recordId: 'r8', taskId: 't8', startedAt: T0 - 5_000 }, lookup);
    expect(located).toMatchObject({ chainKey: recordKey('p', 'r8'), generation: 0 });
    expect(lookup).not.toHaveBeenCalled();
  });
});
