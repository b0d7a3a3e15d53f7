import { describe, expect, it } from 'vitest';
import { AttemptLedger } from '../../lib/ledger/attempt-ledger.js';
import { type Chain, newChain, type RunEntry, type RunFacts } from '../../lib/ledger/chain.js';
import { MemoryLedgerStore } from '../model/memory-ledger-store.js';

/**
 * Whose run is it, for the lookup of a retry whose answer was lost
 * (AttemptLedger.claimedElsewhere, lib/ledger/locate.ts ownedElsewhere): a run
 * another chain knows is its, a run tied to a record or task of a chain, and
 * the order in which chains with a lost answer on one desktop and script
 * take a run none of them knows. Chains are written by hand to the
 * in-memory store; the pending marker of their desktop and script names them all.
 */

const T0 = Date.parse('2026-11-29T12:00:00Z');
const at = (seconds: number) => T0 + seconds * 1000;

function chainOf(record: string, runs: RunEntry[], extra: Partial<Chain> = {}): Chain {
  const base = newChain(
    { projectId: 'p', recordId: record, taskId: `t-${record}`, resourceId: 'd', scriptId: 's' },
    T0,
  );
  return { ...base, state: 'unknown', intent: 'retry', attempts: runs.length - 1, runs, ...extra };
}

/** A chain of `record` whose retry, claimed at `claimedAt`, lost its answer. */
const lostAt = (record: string, claimedAt: number, extra: Partial<Chain> = {}): Chain =>
  chainOf(
    record,
    [
      { g: 0, record, task: `t-${record}`, start: at(0), end: at(10) },
      { g: 1, claimed_at: claimedAt },
    ],
    { claimed_at: claimedAt, ...extra },
  );

const runOf = (recordId: string, taskId: string, startedAt: number): RunFacts => ({
  projectId: 'p',
  recordId,
  taskId,
  resourceId: 'd',
  scriptId: 's',
  startedAt,
});

/** Asks, for `self`, which of `runs` another of `others` owns. */
async function elsewhere(self: Chain, others: Chain[], runs: RunFacts[]): Promise<string[]> {
  const store = new MemoryLedgerStore();
  for (const chain of [self, ...others]) store.items.set(chain.pk, { ...chain });
  store.items.set('p#pending#d#s', {
    pk: 'p#pending#d#s',
    link_to: self.pk,
    generation: 1,
    recent: [self.pk, ...others.map((c) => c.pk)],
  });
  const ledger = new AttemptLedger(store, { leaseMs: 60_000, ttlDays: 30, skewMs: 120_000, now: () => at(1_000) });
  return [...(await ledger.claimedElsewhere(self, runs))];
}

describe('a run another chain owns', () => {
  it('is one that chain places by what it knows (a run in the task its answer named)', async () => {
    const self = lostAt('rs', at(20));
    const other = chainOf(
      'ra',
      [
        { g: 0, record: 'ra', task: 't-ra', start: at(0), end: at(10) },
        { g: 1, claimed_at: at(20), task: 'tn' },
      ],
      { state: 'retried', intent: undefined },
    );
    expect(await elsewhere(self, [other], [runOf('rn', 'tn', at(30)), runOf('rx', 'tx', at(30))])).toEqual(['rn']);
  });

  it("is never one of the asking chain's own records or tasks, unless another chain knows it", async () => {
    const self = lostAt('rs', at(20));
    const other = lostAt('ra', at(25), { state: 'unknown' });
    // rs run again in place: the asking chain's own record; another pending chain would take it otherwise.
    expect(await elsewhere(self, [other], [runOf('rs', 't-rs', at(30))])).toEqual([]);
    // A new record in the asking chain's task.
    expect(await elsewhere(self, [other], [runOf('rn', 't-rs', at(30))])).toEqual([]);
  });

  it('is one in a task or of a record another chain already had', async () => {
    const self = lostAt('rs', at(20));
    const other = lostAt('ra', at(500), { state: 'claimed' });
    expect(await elsewhere(self, [other], [runOf('rn', 't-ra', at(30))])).toEqual(['rn']);
  });

  it('is not one a chain that settled its retry could only guess', async () => {
    const self = lostAt('rs', at(20), { state: 'claimed' });
    const settled = lostAt('ra', at(15), { state: 'open', intent: undefined });
    expect(await elsewhere(self, [settled], [runOf('rn', 'tn', at(30))])).toEqual([]);
  });
});

describe('a run none knows, that two chains with a lost answer could each take', () => {
  it('goes first to a chain that surely called (its answer lost) over one whose holder may have died first', async () => {
    const run = runOf('rn', 'tn', at(30));
    const called = (record: string) => lostAt(record, at(20), { state: 'unknown' });
    const claimed = (record: string) => lostAt(record, at(20), { state: 'claimed' });
    expect(await elsewhere(claimed('rs'), [called('ra')], [run])).toEqual(['rn']);
    expect(await elsewhere(called('rs'), [claimed('ra')], [run])).toEqual([]);
  });

  it('then to a chain that claimed before the run started over one that claimed after', async () => {
    const run = runOf('rn', 'tn', at(100));
    expect(await elsewhere(lostAt('rs', at(101)), [lostAt('ra', at(100))], [run])).toEqual(['rn']);
    expect(await elsewhere(lostAt('rs', at(100)), [lostAt('ra', at(101))], [run])).toEqual([]);
  });

  it('then, of those that claimed before it started, to the last to claim', async () => {
    const run = runOf('rn', 'tn', at(100));
    expect(await elsewhere(lostAt('rs', at(20)), [lostAt('ra', at(50))], [run])).toEqual(['rn']);
    expect(await elsewhere(lostAt('rs', at(50)), [lostAt('ra', at(20))], [run])).toEqual([]);
  });

  it('and of those that claimed after it started (inside the skew), to the first to claim', async () => {
    const run = runOf('rn', 'tn', at(100));
    expect(await elsewhere(lostAt('rs', at(150)), [lostAt('ra', at(120))], [run])).toEqual(['rn']);
    expect(await elsewhere(lostAt('rs', at(120)), [lostAt('ra', at(150))], [run])).toEqual([]);
  });

  it('and between chains that claimed at the same instant, by key', async () => {
    const run = runOf('rn', 'tn', at(100));
    expect(await elsewhere(lostAt('rb', at(50)), [lostAt('ra', at(50))], [run])).toEqual(['rn']);
    expect(await elsewhere(lostAt('ra', at(50)), [lostAt('rb', at(50))], [run])).toEqual([]);
  });

  it('a run whose start is not known goes by the other orders, as if both claimed before it', async () => {
    const run = { ...runOf('rn', 'tn', 0), startedAt: undefined };
    expect(await elsewhere(lostAt('rs', at(20)), [lostAt('ra', at(50))], [run])).toEqual(['rn']);
    expect(await elsewhere(lostAt('rs', at(50)), [lostAt('ra', at(20))], [run])).toEqual([]);
  });

  it('a chain without its claim time counts as claimed at 0', async () => {
    const run = runOf('rn', 'tn', at(100));
    const { claimed_at: _, ...noTime } = lostAt('ra', at(50));
    expect(await elsewhere(lostAt('rs', at(20)), [noTime as Chain], [run])).toEqual([]);
  });

  it('is not taken from the asking chain by one that could not have started it', async () => {
    // The other chain's retry was claimed long after the run started (beyond the skew): not its run.
    const run = runOf('rn', 'tn', at(100));
    expect(await elsewhere(lostAt('rs', at(150)), [lostAt('ra', at(400))], [run])).toEqual([]);
  });
});
