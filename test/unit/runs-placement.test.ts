import { describe, expect, it } from 'vitest';
import { type Chain, newChain, type RunEntry, type RunFacts } from '../../lib/ledger/chain.js';
import { mayRunInPlace, placeRun, runsOf, runsOfRecord, withoutRun, withRun } from '../../lib/ledger/runs.js';

/**
 * The edges of placing a run in its chain (lib/ledger/runs.ts): the exact
 * instants a retry's run may start at, which of a record's runs in place a
 * start names, and what a chain without recorded runs is read as.
 */

const T0 = Date.parse('2026-11-29T12:00:00Z');
const at = (seconds: number) => T0 + seconds * 1000;
const SKEW = { skewMs: 120_000 };

function chain(runs: RunEntry[] | undefined, extra: Partial<Chain> = {}): Chain {
  const base = newChain({ projectId: 'p', recordId: 'r1', taskId: 't1', resourceId: 'd1', scriptId: 's1' }, T0);
  return { ...base, state: 'retried', attempts: (runs?.length ?? 1) - 1, runs, ...extra };
}

const run = (recordId: string, taskId: string | undefined, startedAt?: number, more: Partial<RunFacts> = {}) => ({
  projectId: 'p',
  recordId,
  taskId,
  resourceId: 'd1',
  scriptId: 's1',
  startedAt,
  ...more,
});

const original: RunEntry = { g: 0, record: 'r1', task: 't1', start: at(0), end: at(10) };
const lost: RunEntry = { g: 1, claimed_at: at(200) };

describe("a retry's run starts after the run it retried ended and after its claim, less the skew", () => {
  it('not at the instant the retried run ended, but the millisecond after', () => {
    const c = chain([original, { g: 1, claimed_at: at(0) }]);
    expect(placeRun(c, run('r9', 't9', at(10)), SKEW)).toEqual({ kind: 'not-ours' });
    expect(placeRun(c, run('r9', 't9', at(10) + 1), SKEW)).toEqual({ kind: 'run', generation: 1 });
  });

  it('after the end of the run it retried, not of an earlier one', () => {
    const c = chain([
      original,
      { g: 1, claimed_at: at(20), task: 't2', record: 'r2', start: at(50), end: at(150) },
      { g: 2, claimed_at: at(200) },
    ]);
    expect(placeRun(c, run('r9', 't9', at(100)), SKEW)).toEqual({ kind: 'not-ours' });
    expect(placeRun(c, run('r9', 't9', at(151)), SKEW)).toEqual({ kind: 'run', generation: 2 });
  });

  it('at the claim less the skew exactly, not a millisecond before', () => {
    const c = chain([original, lost]);
    expect(placeRun(c, run('r9', 't9', at(80)), SKEW)).toEqual({ kind: 'run', generation: 1 });
    expect(placeRun(c, run('r9', 't9', at(80) - 1), SKEW)).toEqual({ kind: 'not-ours' });
  });

  it('any time, for a run whose start is not known or a retry whose claim time is not kept', () => {
    expect(placeRun(chain([original, lost]), run('r9', 't9'), SKEW)).toEqual({ kind: 'run', generation: 1 });
    const noClaimTime = chain([{ ...original, end: undefined }, { g: 1 }]);
    expect(placeRun(noClaimTime, run('r9', 't9', at(-100)), SKEW)).toEqual({ kind: 'run', generation: 1 });
  });
});

describe('a record the chain has not seen', () => {
  it('is not ours once the newest retry knows its run', () => {
    const known = chain([original, { g: 1, claimed_at: at(20), task: 't2', record: 'r2' }]);
    expect(placeRun(known, run('r9', 't2', at(30)), SKEW)).toEqual({ kind: 'not-ours' });
  });

  it("is not ours without its task once Workspace's current run was asked", () => {
    expect(placeRun(chain([original, lost]), run('r9', undefined, at(300)), SKEW, { failed: true })).toEqual({
      kind: 'not-ours',
    });
  });

  it("may be a lost retry's run in a task the chain already had, unless Workspace answers with new tasks", () => {
    expect(placeRun(chain([original, lost]), run('r9', 't1', at(300)), SKEW)).toEqual({ kind: 'run', generation: 1 });
    expect(placeRun(chain([original, { ...lost, fresh_task: true }]), run('r9', 't1', at(300)), SKEW)).toEqual({
      kind: 'not-ours',
    });
    expect(placeRun(chain([original, { ...lost, fresh_task: true }]), run('r9', 't9', at(300)), SKEW)).toEqual({
      kind: 'run',
      generation: 1,
    });
  });

  it('is placed on a chain that knows neither desktop nor script', () => {
    const bare = { ...chain([original, lost]), resource_id: undefined, script_id: undefined };
    expect(placeRun(bare, run('r9', 't9', at(300), { resourceId: 'dx', scriptId: 'sx' }), SKEW)).toEqual({
      kind: 'run',
      generation: 1,
    });
    expect(placeRun(chain([original, lost]), run('r9', 't9', at(300), { resourceId: undefined }), SKEW)).toEqual({
      kind: 'run',
      generation: 1,
    });
  });
});

describe('the runs of a record run again in place, told apart by their starts', () => {
  const inPlace = chain([
    original,
    { g: 1, task: 't1', claimed_at: at(20), start: at(21) },
    { g: 2, task: 't1', claimed_at: at(40), start: at(41) },
  ]);

  it.each([
    [at(0), 0],
    [at(21), 1],
    [at(30), 1],
    [at(41), 2],
    [at(50), 2],
    [at(-5), 0],
  ])('a run that started at %i is generation %i', (start, generation) => {
    expect(placeRun(inPlace, run('r1', 't1', start), SKEW)).toEqual({ kind: 'run', generation });
  });

  it('a run whose start is not kept is after the starts before it, whatever the starts after it', () => {
    const mixed = chain([original, { g: 1, task: 't1' }, { g: 2, task: 't1', start: at(41) }]);
    expect(placeRun(mixed, run('r1', 't1', at(21)), SKEW)).toEqual({ kind: 'run', generation: 1 });
  });

  it('runs whose starts are not kept follow the latest start or end known before them', () => {
    const unknownStarts = chain([original, { g: 1, task: 't1' }, { g: 2, task: 't1' }]);
    expect(placeRun(unknownStarts, run('r1', 't1', at(21)), SKEW)).toEqual({ kind: 'run', generation: 2 });
    expect(placeRun(unknownStarts, run('r1', 't1', at(-5)), SKEW)).toEqual({ kind: 'run', generation: 0 });
    const noStart = chain([
      { ...original, start: undefined },
      { g: 1, task: 't1' },
    ]);
    // The first run's start is not kept but its end is: a run of the record that started before that end is it.
    expect(placeRun(noStart, run('r1', 't1', at(5)), SKEW)).toEqual({ kind: 'run', generation: 0 });
    expect(placeRun(noStart, run('r1', 't1', at(11)), SKEW)).toEqual({ kind: 'run', generation: 1 });
    const nothingKept = chain([
      { ...original, start: undefined, end: undefined },
      { g: 1, task: 't1' },
    ]);
    expect(placeRun(nothingKept, run('r1', 't1', at(5)), SKEW)).toEqual({ kind: 'run', generation: 1 });
  });

  it("the first run stays the first even when the record's current run did not fail", () => {
    expect(placeRun(inPlace, run('r1', 't1', at(0)), SKEW, { failed: false })).toEqual({ kind: 'run', generation: 0 });
    expect(placeRun(inPlace, run('r1', 't1', at(41)), SKEW, { failed: true })).toEqual({ kind: 'run', generation: 2 });
  });

  it('a record that ran once needs no start to be placed', () => {
    expect(placeRun(chain([original]), run('r1', 't1'), SKEW)).toEqual({ kind: 'run', generation: 0 });
  });
});

describe("a record's runs", () => {
  it('by what the chain knows only: a retry whose answer named no task ran nothing in place', () => {
    const entries: RunEntry[] = [original, { g: 1 }, { g: 2 }];
    expect(runsOfRecord(entries, 'r1', true).map((e) => e.g)).toEqual([0]);
    expect(runsOfRecord(entries, 'r1').map((e) => e.g)).toEqual([0, 1, 2]);
    const answered: RunEntry[] = [original, { g: 1, task: 't1' }, { g: 2 }];
    expect(runsOfRecord(answered, 'r1', true).map((e) => e.g)).toEqual([0, 1]);
  });

  it('skip no generation: a gap ends them', () => {
    const entries: RunEntry[] = [original, { g: 2, task: 't1' }];
    expect(runsOfRecord(entries, 'r1').map((e) => e.g)).toEqual([0]);
  });

  it('after a root run whose task is not known, a retry answered with a task ran a new record, not this one', () => {
    const entries: RunEntry[] = [
      { ...original, task: undefined },
      { g: 1, task: 't1' },
    ];
    expect(runsOfRecord(entries, 'r1').map((e) => e.g)).toEqual([0]);
    expect(runsOfRecord(entries, 'r1', true).map((e) => e.g)).toEqual([0]);
  });

  it('by what the chain knows only: nothing in place after a root run and a retry that both name no task', () => {
    const entries: RunEntry[] = [{ ...original, task: undefined }, { g: 1 }];
    expect(runsOfRecord(entries, 'r1', true).map((e) => e.g)).toEqual([0]);
    expect(runsOfRecord(entries, 'r1').map((e) => e.g)).toEqual([0, 1]);
  });

  it("leave out a retry's run known to be of another record", () => {
    const entries: RunEntry[] = [original, { g: 1, task: 't1', record: 'r2' }];
    expect(runsOfRecord(entries, 'r1').map((e) => e.g)).toEqual([0]);
  });

  it('include the entries of the record itself, wherever they are', () => {
    const entries: RunEntry[] = [original, { g: 1, task: 't2', record: 'r2' }, { g: 2, task: 't3', record: 'r1' }];
    expect(runsOfRecord(entries, 'r1').map((e) => e.g)).toEqual([0, 2]);
    expect(runsOfRecord(entries, 'r2').map((e) => e.g)).toEqual([1]);
  });

  it('may run in place while no retry answered another task and none was claimed for a new one', () => {
    expect(mayRunInPlace([original])).toBe(true);
    expect(mayRunInPlace([original, { g: 1 }, { g: 2, task: 't9' }])).toBe(true);
    expect(mayRunInPlace([original, { g: 1, task: 't1' }])).toBe(true);
    expect(mayRunInPlace([original, { g: 1, task: 't2' }])).toBe(false);
    expect(mayRunInPlace([original, { g: 1, fresh_task: false }])).toBe(true);
    expect(mayRunInPlace([{ ...original, fresh_task: true }])).toBe(false);
  });
});

describe('a chain written before runs were kept', () => {
  it('is read as one run per retry, each in the task it was answered with, the handled run with its record', () => {
    const legacy = chain(undefined, {
      attempts: 2,
      tasks: ['t1', 't2', 't3'],
      current_record: 'r3',
      last_attempt_at: at(40),
    });
    expect(runsOf(legacy)).toEqual([
      { g: 0, record: 'r1', task: 't1' },
      { g: 1, task: 't2' },
      { g: 2, task: 't3', claimed_at: at(40), record: 'r3' },
    ]);
  });

  it('with a give-up claimed, the handled run is the newest', () => {
    const legacy = chain(undefined, {
      state: 'claimed',
      intent: 'give-up',
      attempts: 1,
      tasks: ['t1', 't2'],
      current_record: 'r2',
    });
    expect(runsOf(legacy)).toEqual([
      { g: 0, record: 'r1', task: 't1' },
      { g: 1, task: 't2', claimed_at: undefined, record: 'r2' },
    ]);
  });

  it('that made no retry keeps its root record', () => {
    const legacy = chain(undefined, { state: 'open', attempts: 0, tasks: [], current_record: 'r1' });
    expect(runsOf(legacy)).toEqual([{ g: 0, record: 'r1', task: undefined }]);
  });
});

describe('keeping what is known of a run', () => {
  it('adds a run not yet known, in generation order', () => {
    expect(withRun([original], 1, { recordId: 'r2', taskId: 't2', startedAt: at(21), endedAt: at(30) })).toEqual([
      original,
      { g: 1, record: 'r2', task: 't2', start: at(21), end: at(30) },
    ]);
  });

  it('removes only the run named', () => {
    expect(withoutRun([original, lost], 1)).toEqual([original]);
    expect(withoutRun([original, lost], 2)).toEqual([original, lost]);
  });
});
