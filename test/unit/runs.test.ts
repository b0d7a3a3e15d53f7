import { describe, expect, it } from 'vitest';
import { type Chain, newChain, type RunEntry, type RunFacts } from '../../lib/ledger/chain.js';
import { mayRunInPlace, placeRun, runsOf, runsOfRecord, withRun } from '../../lib/ledger/runs.js';
import { claimed, released, retried } from '../../lib/ledger/transitions.js';

/** Where a run belongs in a chain, under each reading of Workspace's retry (docs/ledger-protocol.md, "Runs"). */

const P = 'p';
const T0 = Date.parse('2026-11-29T12:00:00Z');
const SKEW = { skewMs: 120_000 };
const at = (seconds: number) => T0 + seconds * 1000;

/** A chain of record r1 (task t1, desktop d1, script s1) with these runs. */
function chain(runs: RunEntry[], extra: Partial<Chain> = {}): Chain {
  const base = newChain({ projectId: P, recordId: 'r1', taskId: 't1', resourceId: 'd1', scriptId: 's1' }, T0);
  return { ...base, state: 'retried', attempts: runs.length - 1, runs, ...extra };
}

const run = (
  recordId: string,
  taskId: string | undefined,
  startedAt?: number,
  more: Partial<RunFacts> = {},
): RunFacts => ({ projectId: P, recordId, taskId, resourceId: 'd1', scriptId: 's1', startedAt, ...more });
const original: RunEntry = { g: 0, record: 'r1', task: 't1', start: at(0), end: at(10) };

describe('a chain retried once', () => {
  it.each([
    // [reading, the retry's entry, the run, where it belongs]
    ['new task: the original again', { g: 1, claimed_at: at(20), task: 't2' }, run('r1', 't1', at(0)), 0],
    ['new task: the original again, without its start', { g: 1, claimed_at: at(20), task: 't2' }, run('r1', 't1'), 0],
    [
      "new task: the retry's run, in the answered task",
      { g: 1, claimed_at: at(20), task: 't2' },
      run('r2', 't2', at(21)),
      1,
    ],
    ['original task: the original again', { g: 1, claimed_at: at(20), task: 't1' }, run('r1', 't1', at(0)), 0],
    [
      'original task: a new record in the answered task',
      { g: 1, claimed_at: at(20), task: 't1' },
      run('r2', 't1', at(21)),
      1,
    ],
    ['in place: the original run of the record', { g: 1, claimed_at: at(20), task: 't1' }, run('r1', 't1', at(0)), 0],
    ['in place: the record run again, later', { g: 1, claimed_at: at(20), task: 't1' }, run('r1', 't1', at(21)), 1],
    [
      'in place: the run again, its record learnt',
      { g: 1, claimed_at: at(20), task: 't1', record: 'r1', start: at(21) },
      run('r1', 't1', at(21)),
      1,
    ],
    [
      'lost answer: a new record of the desktop and script after the claim',
      { g: 1, claimed_at: at(20) },
      run('r9', 't9', at(21)),
      1,
    ],
    ['lost answer: the record run again in place', { g: 1, claimed_at: at(20) }, run('r1', 't1', at(21)), 1],
    ['lost answer: started inside the skew window', { g: 1, claimed_at: at(20) }, run('r9', 't9', at(15)), 1],
  ] as const)('%s', (_, retry, given, generation) => {
    expect(placeRun(chain([original, retry]), given, SKEW)).toEqual({ kind: 'run', generation });
  });

  it.each([
    ['another desktop', { g: 1, claimed_at: at(20), task: 't2' }, run('r2', 't2', at(21), { resourceId: 'd2' })],
    ['another script', { g: 1, claimed_at: at(20), task: 't2' }, run('r2', 't2', at(21), { scriptId: 's2' })],
    [
      'a new record in a task the answer did not name',
      { g: 1, claimed_at: at(20), task: 't2' },
      run('r3', 't3', at(21)),
    ],
    ['a new record that started before the retried run ended', { g: 1, claimed_at: at(20) }, run('r9', 't9', at(10))],
    [
      'a new record that started before the claim, less the skew',
      { g: 1, claimed_at: at(200) },
      run('r9', 't9', at(60)),
    ],
    [
      'a new record in an earlier task, when Workspace answers with new tasks',
      { g: 1, claimed_at: at(20), fresh_task: true },
      run('r9', 't1', at(21)),
    ],
    ['a new record when no retry was made', undefined, run('r9', 't1', at(21))],
  ] as const)('is not ours: %s', (_, retry, given) => {
    expect(placeRun(chain(retry ? [original, retry] : [original]), given, SKEW)).toEqual({ kind: 'not-ours' });
  });
});

describe('a chain whose first run was reported without its start', () => {
  it('the record listed at a start before that run ended is that run, not the retry run in place (an answer lost)', () => {
    // Prepare: the event gave the run's end but not its start; the retry's answer was lost.
    const noStart: RunEntry = { g: 0, record: 'r1', task: 't1', end: at(10) };
    const lost = chain([noStart, { g: 1, claimed_at: at(20) }], { state: 'unknown' });
    // Act: Workspace lists the record at its original start, inside the claim's skew window.
    const placed = placeRun(lost, run('r1', 't1', at(5)), SKEW);
    // Assess
    expect(placed).toEqual({ kind: 'run', generation: 0 });
  });

  it('the record listed at a start after that run ended is the retry run in place', () => {
    const noStart: RunEntry = { g: 0, record: 'r1', task: 't1', end: at(10) };
    const lost = chain([noStart, { g: 1, claimed_at: at(20) }], { state: 'unknown' });
    expect(placeRun(lost, run('r1', 't1', at(21)), SKEW)).toEqual({ kind: 'run', generation: 1 });
  });
});

describe('a record that may have run again in place, named without its start', () => {
  const inPlace = chain([original, { g: 1, claimed_at: at(20), task: 't1' }]);

  it("asks Workspace for the record's current run", () => {
    expect(placeRun(inPlace, run('r1', 't1'), SKEW)).toEqual({ kind: 'ask' });
  });

  it('is the run again when that run failed', () => {
    expect(placeRun(inPlace, run('r1', 't1', at(21)), SKEW, { failed: true })).toEqual({ kind: 'run', generation: 1 });
  });

  it('is the run before it when that run did not fail (still running, or succeeded)', () => {
    expect(placeRun(inPlace, run('r1', 't1', at(21)), SKEW, { failed: false })).toEqual({ kind: 'run', generation: 0 });
  });

  it('needs no question once a retry answered with a new task', () => {
    expect(placeRun(chain([original, { g: 1, claimed_at: at(20), task: 't2' }]), run('r1', 't1'), SKEW)).toEqual({
      kind: 'run',
      generation: 0,
    });
  });

  it('asks about a record the chain has not seen when the event lacks its task', () => {
    expect(placeRun(chain([original, { g: 1, claimed_at: at(20) }]), run('r9', undefined), SKEW)).toEqual({
      kind: 'ask',
    });
  });
});

describe("the record's runs", () => {
  it('follow retries that may have run it again in place, and stop at one that answered another task', () => {
    const entries: RunEntry[] = [
      original,
      { g: 1, task: 't1', record: 'r1' },
      { g: 2, task: 't1' },
      { g: 3, task: 't7' },
    ];
    expect(runsOfRecord(entries, 'r1').map((e) => e.g)).toEqual([0, 1]);
    expect(mayRunInPlace(entries)).toBe(false);
    expect(mayRunInPlace(entries.slice(0, 3))).toBe(true);
  });

  it('are read from a chain written before runs were kept as the reading it was built for: one new task per retry', () => {
    const legacy: Chain = {
      ...chain([]),
      runs: undefined,
      attempts: 1,
      tasks: ['t1', 't2'],
      current_record: 'r2',
      last_attempt_at: at(20),
    };
    expect(runsOf(legacy)).toEqual([
      { g: 0, record: 'r1', task: 't1' },
      { g: 1, task: 't2', claimed_at: at(20), record: 'r2' },
    ]);
  });
});

describe("placing by what a chain knows (knownOnly: whose run is it, for another chain's lookup)", () => {
  const known = { ...SKEW, knownOnly: true };

  it('places nothing new for a retry whose answer was lost', () => {
    expect(placeRun(chain([original, { g: 1, claimed_at: at(20) }]), run('r9', 't9', at(21)), known)).toEqual({
      kind: 'not-ours',
    });
  });

  it("takes a record run again in place for the retry only once its answer named the record's task", () => {
    expect(placeRun(chain([original, { g: 1, claimed_at: at(20) }]), run('r1', 't1', at(21)), known)).toEqual({
      kind: 'run',
      generation: 0,
    });
    expect(
      placeRun(chain([original, { g: 1, claimed_at: at(20), task: 't1' }]), run('r1', 't1', at(21)), known),
    ).toEqual({ kind: 'run', generation: 1 });
  });

  it('places a new record in the task the answer named', () => {
    expect(
      placeRun(chain([original, { g: 1, claimed_at: at(20), task: 't2' }]), run('r2', 't2', at(21)), known),
    ).toEqual({ kind: 'run', generation: 1 });
  });
});

describe('the transitions keep the runs', () => {
  it('adds what it learns of a run without reordering the others or overwriting what was known', () => {
    const entries: RunEntry[] = [
      { g: 0, record: 'r1', start: at(0) },
      { g: 2, claimed_at: at(40) },
    ];
    expect(
      withRun(entries, 1, { recordId: 'r2', taskId: 't2', startedAt: at(21), endedAt: at(30) }).map((e) => e.g),
    ).toEqual([0, 1, 2]);
    expect(withRun(entries, 0, { recordId: 'other', startedAt: at(5), endedAt: at(10) })[0]).toEqual({
      g: 0,
      record: 'r1',
      task: undefined,
      start: at(0),
      end: at(10),
    });
  });

  it("reads a legacy chain with a retry pending: the run it handles is the one before the pending retry's", () => {
    const legacy: Chain = {
      ...chain([]),
      runs: undefined,
      state: 'unknown',
      attempts: 1,
      tasks: ['t1'],
      current_record: 'r1',
      last_attempt_at: at(20),
    };
    expect(runsOf(legacy)).toEqual([
      { g: 0, record: 'r1', task: 't1' },
      { g: 1, task: undefined, claimed_at: at(20) },
    ]);
  });

  const facts = run('r1', 't1', at(0), { endedAt: at(10) });
  const fresh = newChain(facts, T0);

  it("a retry claim records the run it retries and opens the retry's own, with the claim time", () => {
    const claim = claimed(fresh, facts, 'retry', { now: at(20), leaseMs: 60_000 });
    expect(claim.runs).toEqual([
      { g: 0, record: 'r1', task: 't1', start: at(0), end: at(10) },
      { g: 1, claimed_at: at(20) },
    ]);
  });

  it("an answer names the retry's task; a lookup also its record and start", () => {
    const claim = claimed(fresh, facts, 'retry', { now: at(20), leaseMs: 60_000, freshTask: true });
    const answered = retried(
      claim,
      { taskId: 't2', via: 'lookup', run: { recordId: 'r2', startedAt: at(21) } },
      { now: at(30) },
    );
    expect(answered.runs?.at(-1)).toEqual({
      g: 1,
      claimed_at: at(20),
      fresh_task: true,
      task: 't2',
      record: 'r2',
      start: at(21),
      end: undefined,
    });
  });

  it('a retry that did not run takes its run back', () => {
    const claim = claimed(fresh, facts, 'retry', { now: at(20), leaseMs: 60_000 });
    expect(released(claim, { reason: 'throttled' }, { now: at(21) }).runs).toEqual([
      { g: 0, record: 'r1', task: 't1', start: at(0), end: at(10) },
    ]);
  });
});
