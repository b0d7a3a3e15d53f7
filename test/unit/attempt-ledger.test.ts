import { afterEach, describe, expect, it, vi } from 'vitest';
import { AttemptLedger } from '../../lib/ledger/attempt-ledger.js';
import { type Chain, type RunFacts, recordKey } from '../../lib/ledger/chain.js';
import type { Located } from '../../lib/ledger/locate.js';
import { type Item, type Keyed, LedgerUnavailableError } from '../../lib/ledger/store.js';
import { logger } from '../../lib/platform/observability.js';
import { MemoryLedgerStore } from '../model/memory-ledger-store.js';

/**
 * The attempt ledger's writes (lib/ledger/attempt-ledger.ts) on the in-memory
 * store that keeps DynamoLedgerStore's contract: what each write leaves in the
 * table, with which revision, key and expiry, and what a write that finds
 * another revision answers. The clock is injected; waits are recorded, never slept.
 */

const T0 = Date.parse('2026-11-29T12:00:00Z');
const TTL_DAYS = 30;
const EXPIRES = Math.floor(T0 / 1000) + TTL_DAYS * 86_400;
const run: RunFacts = { projectId: 'p', recordId: 'r0', taskId: 't0', resourceId: 'd0', scriptId: 's0' };

function setup(now = () => T0) {
  const store = new MemoryLedgerStore();
  const waits: number[] = [];
  const ledger = new AttemptLedger(store, {
    leaseMs: 60_000,
    ttlDays: TTL_DAYS,
    now,
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  return { store, ledger, waits };
}

const located = (facts: RunFacts = run, chain?: Chain): Located => ({
  chainKey: recordKey(facts.projectId, facts.recordId),
  chain,
  generation: 0,
  run: facts,
});

afterEach(() => vi.restoreAllMocks());

describe('claims', () => {
  it('a retry claim writes the chain with its expiry, a pending marker and its membership of the task', async () => {
    const { store, ledger } = setup();
    const claim = await ledger.claim(located(), undefined, 'retry', { freshTask: true });
    expect(claim?.chain).toMatchObject({ state: 'claimed', intent: 'retry', attempts: 1, rev: 1, expires_at: EXPIRES });
    expect(claim?.chain.runs?.at(-1)).toMatchObject({ g: 1, fresh_task: true });
    expect(store.items.get('p#record#r0')).toEqual(claim?.chain);
    expect(store.items.get('p#pending#d0#s0')).toEqual({
      pk: 'p#pending#d0#s0',
      link_to: 'p#record#r0',
      generation: 1,
      expires_at: EXPIRES,
      recent: ['p#record#r0'],
    });
    expect(store.items.get('p#run#t0#d0#s0')).toEqual({
      pk: 'p#run#t0#d0#s0',
      link_to: 'p#record#r0',
      generation: 1,
      expires_at: EXPIRES,
    });
  });

  it('a give-up claim writes the chain only, with the decision time it is given', async () => {
    const { store, ledger } = setup();
    const claim = await ledger.claim(located(), undefined, 'give-up', { decidedAt: 5 });
    expect(claim?.chain).toMatchObject({ state: 'claimed', intent: 'give-up', attempts: 0, decided_at: 5 });
    expect([...store.items.keys()]).toEqual(['p#record#r0']);
  });

  it('no marker without a desktop and script, no membership without a task', async () => {
    const { store, ledger } = setup();
    await ledger.claim(located({ projectId: 'p', recordId: 'r1', taskId: 't1', resourceId: 'd1' }), undefined, 'retry');
    await ledger.claim(located({ projectId: 'p', recordId: 'r2', taskId: 't2', scriptId: 's2' }), undefined, 'retry');
    await ledger.claim(
      located({ projectId: 'p', recordId: 'r3', resourceId: 'd3', scriptId: 's3' }),
      undefined,
      'retry',
    );
    expect([...store.items.keys()].sort()).toEqual(['p#pending#d3#s3', 'p#record#r1', 'p#record#r2', 'p#record#r3']);
  });

  it('a claim from a revision another delivery moved is refused', async () => {
    const { ledger } = setup();
    await ledger.claim(located(), undefined, 'retry');
    expect(await ledger.claim(located(), undefined, 'retry')).toBeUndefined();
  });

  it('claims from the chain it is given (base) over the one located, at the revision expected', async () => {
    const { store, ledger } = setup();
    const first = await ledger.claim(located(), undefined, 'give-up');
    const base = { ...first!.chain, state: 'open' as const, attempts: 3 };
    const second = await ledger.claim(located(run, first!.chain), 1, 'retry', { base });
    expect(second?.chain).toMatchObject({ attempts: 4, rev: 2 });
    expect(store.items.get('p#record#r0')).toMatchObject({ attempts: 4, rev: 2 });
  });

  it('reads an item by its key, and finds none where nothing was written', async () => {
    const { ledger } = setup();
    expect(await ledger.get(located().chainKey)).toBeUndefined();
    await ledger.claim(located(), undefined, 'retry');
    expect(await ledger.get(located().chainKey)).toMatchObject({ rev: 1, state: 'claimed' });
  });

  it('knows its lease', () => {
    expect(setup().ledger.leaseMs).toBe(60_000);
  });
});

describe('settling a retry', () => {
  it('records the new task and links it to the chain, stamped', async () => {
    const { store, ledger } = setup();
    const claim = (await ledger.claim(located(), undefined, 'retry'))!;
    expect(await ledger.settleRetried(claim, { taskId: 't1', via: 'answer' })).toEqual({ outcome: 'settled' });
    expect(store.items.get('p#record#r0')).toMatchObject({ state: 'retried', rev: 2, new_task_id: 't1' });
    expect(store.items.get('p#task#t1')).toEqual({
      pk: 'p#task#t1',
      link_to: 'p#record#r0',
      generation: 1,
      expires_at: EXPIRES,
    });
  });

  it("links no task of an earlier run (the retried run's own task means its other desktops' runs too)", async () => {
    const { store, ledger } = setup();
    const claim = (await ledger.claim(located(), undefined, 'retry'))!;
    await ledger.settleRetried(claim, { taskId: 't0', via: 'answer' });
    expect(store.items.has('p#task#t0')).toBe(false);
    expect(store.items.get('p#record#r0')).toMatchObject({ state: 'retried', new_task_id: 't0' });
  });

  it('a write that finds another revision is settled only if the chain already holds this outcome', async () => {
    const { store, ledger } = setup();
    const claim = (await ledger.claim(located(), undefined, 'retry'))!;
    await ledger.settleRetried(claim, { taskId: 't1', via: 'answer' });
    // The same outcome written by this delivery's earlier try (its answer lost): settled.
    expect(await ledger.settleRetried(claim, { taskId: 't1', via: 'answer' })).toEqual({ outcome: 'settled' });
    // Another task under the same revision: another delivery's.
    expect(await ledger.settleRetried(claim, { taskId: 't9', via: 'answer' })).toEqual({ outcome: 'lease-lost' });
    // The chain moved on since: not ours either.
    store.items.set('p#record#r0', { ...store.items.get('p#record#r0')!, rev: 7 });
    expect(await ledger.settleRetried(claim, { taskId: 't1', via: 'answer' })).toEqual({ outcome: 'lease-lost' });
    store.items.set('p#record#r0', { pk: 'p#record#r0', link_to: 'x', rev: 2, new_task_id: 't1' });
    expect(await ledger.settleRetried(claim, { taskId: 't1', via: 'answer' })).toEqual({ outcome: 'lease-lost' });
  });

  it('tries three times while the table is unavailable, waiting 200 ms then 400 ms, then gives up', async () => {
    const { store, ledger, waits } = setup();
    const claim = (await ledger.claim(located(), undefined, 'retry'))!;
    // Each try writes the chain and its link together, in one call: two tries fail.
    store.arm('write', 2);
    expect(await ledger.settleRetried(claim, { taskId: 't1', via: 'answer' })).toEqual({ outcome: 'settled' });
    expect(waits).toEqual([200, 400]);
    store.disarm();

    const again = setup();
    const other = (await again.ledger.claim(located(), undefined, 'retry'))!;
    again.store.arm('write', 3);
    await expect(again.ledger.settleRetried(other, { taskId: 't1', via: 'answer' })).rejects.toBeInstanceOf(
      LedgerUnavailableError,
    );
    expect(again.waits).toEqual([200, 400]);
  });

  it('does not try again after an error that is not the table being unavailable', async () => {
    const { store, ledger, waits } = setup();
    const claim = (await ledger.claim(located(), undefined, 'retry'))!;
    vi.spyOn(store, 'writeTogether').mockRejectedValueOnce(new TypeError('bad item'));
    await expect(ledger.settleRetried(claim, { taskId: 't1', via: 'answer' })).rejects.toThrow('bad item');
    expect(waits).toEqual([]);
  });

  it('a lost retry found landed is written with its link, and refused at another revision without its link', async () => {
    const { store, ledger } = setup();
    const claim = (await ledger.claim(located(), undefined, 'retry'))!;
    expect(await ledger.resolveLanded(claim.chain, { taskId: 't1', via: 'lookup' })).toBe(true);
    expect(store.items.get('p#record#r0')).toMatchObject({ state: 'retried', new_task_id: 't1', expires_at: EXPIRES });
    expect(store.items.get('p#task#t1')).toMatchObject({ link_to: 'p#record#r0' });
    expect(await ledger.resolveLanded(claim.chain, { taskId: 't2', via: 'lookup' })).toBe(false);
    expect(store.items.has('p#task#t2')).toBe(false);
  });
});

describe('other ways a claim ends', () => {
  it('an unknown outcome is written with the desktop and script a lookup found, and marked for its desktop and script', async () => {
    const { store, ledger } = setup();
    const bare: RunFacts = { projectId: 'p', recordId: 'r5', taskId: 't5' };
    const claim = (await ledger.claim(located(bare), undefined, 'retry'))!;
    await ledger.markUnknown(claim, { reason: 'TIMEOUT' }, { ...bare, resourceId: 'd5', scriptId: 's5' });
    expect(store.items.get('p#record#r5')).toMatchObject({
      state: 'unknown',
      rev: 2,
      resource_id: 'd5',
      script_id: 's5',
      expires_at: EXPIRES,
    });
    expect(store.items.get('p#pending#d5#s5')).toMatchObject({ link_to: 'p#record#r5', generation: 1 });
  });

  it('an unknown outcome without facts keeps the chain as claimed', async () => {
    const { store, ledger } = setup();
    const claim = (await ledger.claim(located(), undefined, 'retry'))!;
    await ledger.markUnknown(claim, { reason: 'TIMEOUT' });
    expect(store.items.get('p#record#r0')).toMatchObject({ state: 'unknown', rev: 2, resource_id: 'd0' });
  });

  it('a released retry is not counted', async () => {
    const { store, ledger } = setup();
    const claim = (await ledger.claim(located(), undefined, 'retry'))!;
    await ledger.release(claim, { reason: '503' });
    expect(store.items.get('p#record#r0')).toMatchObject({ state: 'open', attempts: 0, rev: 2, expires_at: EXPIRES });
  });

  it('a dead letter after a retry claim gives the attempt back; after a give-up claim there is none', async () => {
    const { store, ledger } = setup();
    const retry = (await ledger.claim(located(), undefined, 'retry'))!;
    await ledger.settleDeadLettered(retry, { reason: 'refused', decidedAt: 3 });
    expect(store.items.get('p#record#r0')).toMatchObject({ state: 'dead-lettered', attempts: 0, dead_lettered_at: 3 });

    const other = { ...run, recordId: 'r1' };
    const giveUp = (await ledger.claim(located(other), undefined, 'give-up'))!;
    const counted = { chain: { ...giveUp.chain, attempts: 2 } };
    store.items.set('p#record#r1', counted.chain as unknown as Item);
    await ledger.settleDeadLettered(counted, { reason: 'max', decidedAt: 4, forcedBy: 'ops' });
    expect(store.items.get('p#record#r1')).toMatchObject({ state: 'dead-lettered', attempts: 2, expires_at: EXPIRES });
  });
});

describe('a run waiting for its desktop', () => {
  const wait = { g: 0, desktop: 'd0', state: 'SHUTOFF' };

  it('is written from the located chain, or a new one, and refused at another revision when no start was sent', async () => {
    const { store, ledger } = setup();
    expect(await ledger.recordDesktopWait(located(), undefined, wait)).toBe(true);
    expect(store.items.get('p#record#r0')).toMatchObject({ rev: 1, desktop_wait: { since: T0 }, expires_at: EXPIRES });
    const write = vi.spyOn(store, 'write');
    expect(await ledger.recordDesktopWait(located(), undefined, wait)).toBe(false);
    expect(write).toHaveBeenCalledTimes(1);
  });

  it('a start that was sent is laid over the chain read again', async () => {
    const { store, ledger } = setup();
    await ledger.recordDesktopWait(located(), undefined, wait);
    expect(await ledger.recordDesktopWait(located(), undefined, { ...wait, started: { jobId: 'j' } })).toBe(true);
    expect(store.items.get('p#record#r0')).toMatchObject({ rev: 2, desktop_wait: { since: T0, woken_at: T0 } });
  });

  it('from the chain it is given (base)', async () => {
    const { store, ledger } = setup();
    const claim = (await ledger.claim(located(), undefined, 'give-up'))!;
    expect(await ledger.recordDesktopWait(located(), 1, wait, { ...claim.chain, attempts: 4 })).toBe(true);
    expect(store.items.get('p#record#r0')).toMatchObject({ attempts: 4, rev: 2 });
  });

  it('a start is not laid over a chain that moved to another run, or that already records a start', async () => {
    const { store, ledger } = setup();
    const claim = (await ledger.claim(located(), undefined, 'retry'))!;
    await ledger.settleRetried(claim, { taskId: 't1', via: 'answer' });
    expect(await ledger.recordDesktopWait(located(), undefined, { ...wait, started: {} })).toBe(false);
    expect(store.items.get('p#record#r0')).not.toHaveProperty('desktop_wait');

    const again = setup();
    await again.ledger.recordDesktopWait(located(), undefined, { ...wait, started: {} });
    const before = again.store.items.get('p#record#r0');
    expect(await again.ledger.recordDesktopWait(located(), undefined, { ...wait, started: {} })).toBe(false);
    expect(again.store.items.get('p#record#r0')).toEqual(before);
  });

  it('a start sent for a run whose wait recorded no start yet is laid over it', async () => {
    const { store, ledger } = setup();
    await ledger.recordDesktopWait(located(), undefined, { ...wait, g: 0 });
    expect(await ledger.recordDesktopWait(located(), undefined, { ...wait, started: {} })).toBe(true);
    expect(store.items.get('p#record#r0')).toMatchObject({ desktop_wait: { g: 0, woken_at: T0 } });
  });

  it('is not laid over an item that is not a chain', async () => {
    const { store, ledger } = setup();
    store.items.set('p#record#r0', { pk: 'p#record#r0', link_to: 'p#record#x', rev: 0 });
    expect(await ledger.recordDesktopWait(located(), undefined, { ...wait, started: {} })).toBe(false);
  });

  it('tries a start three times at most', async () => {
    const { store, ledger } = setup();
    await ledger.recordDesktopWait(located(), undefined, wait);
    const write = vi.spyOn(store, 'write').mockResolvedValue('conflict');
    expect(await ledger.recordDesktopWait(located(), undefined, { ...wait, started: {} })).toBe(false);
    expect(write).toHaveBeenCalledTimes(3);
  });
});

describe("a desktop's one start per window", () => {
  const by = { chain: 'p#record#r0', g: 0 };

  it('is taken when none is held, and held until its window ends', async () => {
    let now = T0;
    const { store, ledger } = setup(() => now);
    const first = await ledger.claimDesktopStart('p', 'd0', by, 30_000);
    expect(first).toEqual({
      taken: {
        pk: 'p#desktop#d0',
        started_by: 'p#record#r0',
        g: 0,
        at: T0,
        until: T0 + 30_000,
        rev: 1,
        expires_at: EXPIRES,
      },
    });
    now = T0 + 29_999;
    expect(await ledger.claimDesktopStart('p', 'd0', { chain: 'other', g: 0 }, 30_000)).toEqual({
      held: store.items.get('p#desktop#d0'),
    });
    now = T0 + 30_000;
    const next = await ledger.claimDesktopStart('p', 'd0', { chain: 'other', g: 1 }, 30_000);
    expect(next).toMatchObject({ taken: { started_by: 'other', g: 1, rev: 2, until: T0 + 60_000 } });
  });

  it('taken over an item without a revision as the first', async () => {
    const { store, ledger } = setup();
    store.items.set('p#desktop#d0', { pk: 'p#desktop#d0', rev: 'x' });
    const write = vi.spyOn(store, 'write');
    await ledger.claimDesktopStart('p', 'd0', by, 30_000);
    expect(write).toHaveBeenCalledWith(expect.objectContaining({ rev: 1 }), undefined);
  });

  it('a start another delivery took first is held, or nothing when what it wrote is not a start', async () => {
    const { store, ledger } = setup();
    const won = { pk: 'p#desktop#d0', started_by: 'winner', g: 0, at: T0, until: T0 + 1, rev: 1 };
    vi.spyOn(store, 'write').mockImplementationOnce(async (item: Keyed) => {
      store.items.set(item.pk, won);
      return 'conflict';
    });
    expect(await ledger.claimDesktopStart('p', 'd0', by, 30_000)).toEqual({ held: won });
    store.items.clear();
    vi.spyOn(store, 'write').mockResolvedValueOnce('conflict');
    expect(await ledger.claimDesktopStart('p', 'd0', by, 30_000)).toEqual({ held: undefined });
  });

  it('given back, it ends now at the next revision', async () => {
    let now = T0;
    const { store, ledger } = setup(() => now);
    const first = await ledger.claimDesktopStart('p', 'd0', by, 30_000);
    now = T0 + 1_000;
    await ledger.releaseDesktopStart((first as { taken: never }).taken);
    expect(store.items.get('p#desktop#d0')).toMatchObject({ until: T0 + 1_000, rev: 2, started_by: 'p#record#r0' });
  });
});

describe('links', () => {
  it('relinks the retry a chain received, and nothing for a chain without one', async () => {
    const { ledger } = setup();
    const claim = (await ledger.claim(located(), undefined, 'retry'))!;
    expect(ledger.relinkOf(claim.chain)).toBeUndefined();
    expect(ledger.relinkOf({ ...claim.chain, new_task_id: 't1' })).toEqual({
      pk: 'p#task#t1',
      link_to: 'p#record#r0',
      generation: 1,
      expires_at: EXPIRES,
    });
  });

  it('writes each link once, keeps a link of another chain, and answers the ones that failed', async () => {
    const { store, ledger } = setup();
    const warn = vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
    store.items.set('p#task#taken', { pk: 'p#task#taken', link_to: 'p#record#other', generation: 1 });
    store.items.set('p#task#mine', { pk: 'p#task#mine', link_to: 'p#record#r0', generation: 1 });
    const link = (task: string) => ({ pk: `p#task#${task}`, link_to: 'p#record#r0', generation: 1 });
    const write = vi.spyOn(store, 'write');
    expect(await ledger.writeLinks([link('a'), link('a'), link('taken'), link('mine')])).toEqual([]);
    expect(write).toHaveBeenCalledTimes(3);
    expect(store.items.get('p#task#a')).toEqual(link('a'));
    expect(store.items.get('p#task#taken')).toMatchObject({ link_to: 'p#record#other' });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith('a retry answered a task another chain already links: its link is kept', {
      task: 'p#task#taken',
      chain: 'p#record#r0',
      linkedTo: 'p#record#other',
    });
    store.arm('write', 1);
    expect(await ledger.writeLinks([link('b'), link('c')])).toEqual(['p#task#b']);
  });
});

describe('readings and plain items', () => {
  it('remembers which readings of a retry an answer showed, for the project', async () => {
    const { store, ledger } = setup();
    await ledger.noteReading('p', 'same-task');
    expect(store.items.get('p#reading#same-task')).toEqual({ pk: 'p#reading#same-task', seen_at: T0 });
    expect(await ledger.readingsSeen('p', ['new-task', 'same-task'])).toEqual(['same-task']);
    expect(await ledger.readingsSeen('q', ['new-task', 'same-task'])).toEqual([]);
  });

  it('puts a plain item with its expiry and reads it back', async () => {
    const { ledger } = setup();
    await ledger.put({ pk: 'sweep#1', cursor: 'c' });
    expect(await ledger.get('sweep#1')).toEqual({ pk: 'sweep#1', cursor: 'c', expires_at: EXPIRES });
  });

  it('the expiry counts whole seconds from now', async () => {
    const { store, ledger } = setup(() => T0 + 999);
    await ledger.put({ pk: 'x' });
    expect(store.items.get('x')).toEqual({ pk: 'x', expires_at: EXPIRES });
  });
});
