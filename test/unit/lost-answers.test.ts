import { describe, expect, it, vi } from 'vitest';
import { AttemptLedger } from '../../lib/ledger/attempt-ledger.js';
import { type Chain, newChain, type RunFacts } from '../../lib/ledger/chain.js';
import type { Located } from '../../lib/ledger/locate.js';
import type { FailureContext } from '../../lib/pipeline/context.js';
import { withHandledStart } from '../../lib/pipeline/handled-run.js';
import { resolveUnknownOutcome } from '../../lib/pipeline/unknown-outcome.js';
import type { WorkspaceReader } from '../../lib/pipeline/workspace-lookups.js';
import { CircuitBreakers } from '../../lib/workspace/circuit-breakers.js';
import { WorkspaceCredentials } from '../../lib/workspace/credentials.js';
import type { KeyedCalls } from '../../lib/workspace/key-calls.js';
import { RetryReadings } from '../../lib/workspace/retry-readings.js';
import type { ExecutionRecord } from '../../lib/workspace/types.js';
import { MemoryLedgerStore } from '../model/memory-ledger-store.js';

/**
 * The two steps that ask Workspace before acting on a run
 * (lib/pipeline/handled-run.ts, lib/pipeline/unknown-outcome.ts): whether the
 * run to retry is still the record's current run, and whether a retry whose
 * answer was lost landed. Workspace is a reader answering from a list, the
 * ledger the in-memory store; the clock is a number.
 */

const T0 = Date.parse('2026-11-29T12:00:00Z');
const at = (seconds: number) => T0 + seconds * 1000;
const iso = (ms: number) => new Date(ms).toISOString();
const KEY = { ak: 'AK', sk: 'SK' };
const keys: KeyedCalls = {
  credentials: new WorkspaceCredentials('s', { load: async () => KEY, reload: async () => KEY }),
  breakers: new CircuitBreakers({ consecutiveFailures: 100, halfOpenAfterMs: 1_000, authCooldownMs: 1_000 }),
  projectId: 'p',
  endpoint: 'https://workspace.test',
};

/** A Workspace reader over these records (record detail by id; every listing answers them all) that counts calls. */
function workspaceOf(records: ExecutionRecord[]) {
  const calls = { get: 0, list: 0 };
  const workspace: WorkspaceReader = {
    getRecord: async (_project, id) => {
      calls.get++;
      return records.find((r) => r.id === id)!;
    },
    async *listRecords() {
      calls.list++;
      yield* records;
    },
  };
  return { workspace, calls };
}

function context(
  workspace: WorkspaceReader,
  extra: { ledger?: AttemptLedger; readings?: RetryReadings; dryRun?: boolean } = {},
): FailureContext {
  return {
    deps: {
      workspace,
      ledger: extra.ledger,
      readings: extra.readings,
      config: { clockSkewSeconds: 120 },
    },
    keys,
    project: { projectId: 'p' },
    now: at(1_000),
    dryRun: extra.dryRun ?? false,
    letter: (reason: string, errorCode: string, ruleId: string, attempts: number) => ({
      reason,
      errorCode,
      ruleId,
      attempts,
      firstSeenAt: 0,
      decidedAt: at(1_000),
    }),
  } as unknown as FailureContext;
}

const record = (id: string, more: Partial<ExecutionRecord> = {}): ExecutionRecord => ({
  id,
  script_task_id: 't1',
  resource_id: 'd1',
  script_id: 's1',
  start_time: iso(at(0)),
  end_time: iso(at(10)),
  status: 'FAILED',
  ...more,
});

const facts: RunFacts = { projectId: 'p', recordId: 'r1', taskId: 't1', resourceId: 'd1', scriptId: 's1' };

function locatedOf(run: RunFacts, chain?: Chain, generation = 0): Located {
  return { chainKey: 'p#record#r1', chain, generation, run };
}

describe('the run a retry is about to retry', () => {
  it('is not looked up once the chain knows Workspace answers with new tasks', async () => {
    const { workspace, calls } = workspaceOf([]);
    const chain = {
      ...newChain(facts, T0),
      runs: [
        { g: 0, record: 'r1', task: 't1' },
        { g: 1, task: 't2' },
      ],
    };
    const located = locatedOf(facts, chain, 1);
    expect(await withHandledStart(located, context(workspace))).toEqual({ located, freshTask: true });
    expect(calls.get).toBe(0);
  });

  it('is not looked up once this container saw an answer name a new task', async () => {
    const { workspace, calls } = workspaceOf([]);
    const readings = new RetryReadings();
    readings.learn(['new-task']);
    const located = locatedOf(facts);
    expect(await withHandledStart(located, context(workspace, { readings }))).toEqual({ located, freshTask: true });
    expect(calls.get).toBe(0);
  });

  it("takes the record's start from its detail, the event's own facts kept over it", async () => {
    const { workspace, calls } = workspaceOf([record('r1', { script_task_id: 'tw' })]);
    const readings = new RetryReadings();
    readings.learn(['same-task']);
    const result = await withHandledStart(locatedOf(facts), context(workspace, { readings }));
    expect(result).toEqual({
      located: locatedOf({
        ...facts,
        region: undefined,
        failedAt: at(10),
        startedAt: at(0),
        endedAt: at(10),
      }),
      freshTask: false,
    });
    expect(calls.get).toBe(1);
  });

  it('is the same run when the detail shows the start the event or the chain names', async () => {
    const { workspace } = workspaceOf([record('r1')]);
    const same = await withHandledStart(locatedOf({ ...facts, startedAt: at(0) }), context(workspace));
    expect(same).toMatchObject({ freshTask: false, located: { run: { startedAt: at(0) } } });
    const chain = { ...newChain({ ...facts, startedAt: at(0) }, T0) };
    expect(await withHandledStart(locatedOf(facts, chain), context(workspace))).toMatchObject({ freshTask: false });
  });

  it('is superseded when the record ran again since (a failure of its own)', async () => {
    const { workspace } = workspaceOf([record('r1', { start_time: iso(at(50)) })]);
    expect(await withHandledStart(locatedOf({ ...facts, startedAt: at(0) }), context(workspace))).toEqual({
      superseded: `superseded: record r1 has run again since this failure (its run that started ${iso(at(50))} is a failure of its own)`,
    });
    const chain = newChain({ ...facts, startedAt: at(0) }, T0);
    expect(await withHandledStart(locatedOf(facts, chain), context(workspace))).toHaveProperty('superseded');
  });

  it("is superseded when the record's current run did not fail, whenever it started", async () => {
    const { workspace } = workspaceOf([record('r1', { status: 'SUCCESS', start_time: undefined })]);
    expect(await withHandledStart(locatedOf(facts), context(workspace))).toEqual({
      superseded:
        'superseded: record r1 has run again since this failure (its run that started at an unknown time did not fail)',
    });
  });

  it('is not superseded when the detail shows no start', async () => {
    const { workspace } = workspaceOf([record('r1', { start_time: undefined })]);
    expect(await withHandledStart(locatedOf({ ...facts, startedAt: at(0) }), context(workspace))).toMatchObject({
      freshTask: false,
    });
  });
});

/** r1's chain with a retry claimed at `at(20)` whose answer was lost, on the in-memory ledger. */
async function lostRetry(chainFacts: RunFacts = { ...facts, startedAt: at(0), endedAt: at(10) }) {
  const store = new MemoryLedgerStore();
  const ledger = new AttemptLedger(store, { leaseMs: 60_000, ttlDays: 30, now: () => at(20), sleep: async () => {} });
  const claim = (await ledger.claim(locatedOf(chainFacts), undefined, 'retry'))!;
  await ledger.markUnknown(claim, { reason: 'TIMEOUT' });
  const chain = (await ledger.get(locatedOf(chainFacts).chainKey)) as unknown as Chain;
  const standing = { kind: 'unresolved', rev: chain.rev, claimedAt: at(20), attemptsMade: 0 } as const;
  return { store, ledger, chain, standing };
}

/**
 * Resolves the lost answer of `lost`'s chain, for the event of `facts`, against a Workspace that lists `runs`
 * (with this container's `readings`, when given).
 */
function resolveLost(
  lost: Pick<Awaited<ReturnType<typeof lostRetry>>, 'ledger' | 'chain' | 'standing'>,
  runs: ExecutionRecord[],
  options: { readings?: RetryReadings } = {},
) {
  return resolveUnknownOutcome(
    locatedOf(facts, lost.chain),
    lost.standing,
    context(workspaceOf(runs).workspace, { ledger: lost.ledger, ...options }),
  );
}

describe('a retry whose answer was lost', () => {
  it('is found landed by its run in a new task after the claim, and settled without a call', async () => {
    const { ledger, chain, standing, store } = await lostRetry();
    const { workspace, calls } = workspaceOf([
      record('r1'),
      record('r2', { script_task_id: 't2', start_time: iso(at(30)), end_time: iso(at(40)) }),
    ]);
    const result = await resolveUnknownOutcome(locatedOf(facts, chain), standing, context(workspace, { ledger }));
    expect(result).toEqual({
      kind: 'retried',
      newTaskId: 't2',
      ruleId: 'lost-answer-found',
      attempt: 1,
      via: 'lookup',
    });
    expect(calls.list).toBe(1);
    expect(store.items.get('p#record#r1')).toMatchObject({ state: 'retried', new_task_id: 't2' });
    expect(store.items.get('p#task#t2')).toMatchObject({ link_to: 'p#record#r1' });
  });

  it('a dry run only says what it would record', async () => {
    const { ledger, chain, standing, store } = await lostRetry();
    const { workspace } = workspaceOf([record('r2', { script_task_id: 't2', start_time: iso(at(30)) })]);
    const result = await resolveUnknownOutcome(
      locatedOf(facts, chain),
      standing,
      context(workspace, { ledger, dryRun: true }),
    );
    expect(result).toEqual({
      kind: 'preview',
      letter: {
        reason: 'dry-run: would record the lost retry as retried: Workspace shows its run (record r2, task t2)',
        errorCode: 'DRY_RUN',
        ruleId: 'lost-answer-found',
        attempts: 1,
        firstSeenAt: 0,
        decidedAt: at(1_000),
      },
    });
    expect(store.items.get('p#record#r1')).toMatchObject({ state: 'unknown' });
  });

  it('another delivery writing first is a conflict', async () => {
    const { ledger, chain, standing } = await lostRetry();
    const { workspace } = workspaceOf([record('r2', { script_task_id: 't2', start_time: iso(at(30)) })]);
    vi.spyOn(ledger, 'resolveLanded').mockResolvedValueOnce(false);
    expect(await resolveUnknownOutcome(locatedOf(facts, chain), standing, context(workspace, { ledger }))).toBe(
      'conflict',
    );
  });

  it("an event of the lost retry's own run is decided again as its generation once the retry is written", async () => {
    const { ledger, chain, standing } = await lostRetry();
    const { workspace } = workspaceOf([record('r2', { script_task_id: 't2', start_time: iso(at(30)) })]);
    const own = locatedOf({ ...facts, recordId: 'r2', taskId: 't2' }, chain, 1);
    expect(await resolveUnknownOutcome(own, standing, context(workspace, { ledger }))).toBe('conflict');
  });

  it('prefers a run tied to the chain, then one after the claim, then one inside the skew window; the earliest of each', async () => {
    const runs = [
      record('late', { script_task_id: 't8', start_time: iso(at(60)) }),
      record('skew', { script_task_id: 't7', start_time: iso(at(15)) }),
      record('early', { script_task_id: 't9', start_time: iso(at(30)) }),
    ];
    const first = await lostRetry();
    const afterClaim = await resolveLost(first, runs);
    expect(afterClaim).toMatchObject({ kind: 'retried', newTaskId: 't9' });

    const second = await lostRetry();
    const withTied = [...runs, record('tied', { script_task_id: 't1', start_time: iso(at(70)) })];
    const tied = await resolveLost(second, withTied);
    expect(tied).toMatchObject({ kind: 'retried', newTaskId: 't1' });

    const third = await lostRetry();
    const inSkew = await resolveLost(third, [runs[1]!]);
    expect(inSkew).toMatchObject({ kind: 'retried', newTaskId: 't7' });
  });

  it("once answers showed Workspace keeps a retry's run in the retried run's task, only such a run is the retry's", async () => {
    const { ledger, chain, standing } = await lostRetry();
    await ledger.noteReading('p', 'same-task');
    const readings = new RetryReadings();
    const runs = [
      record('new', { script_task_id: 't9', start_time: iso(at(30)) }),
      record('tied', { script_task_id: 't1', start_time: iso(at(70)) }),
    ];
    const result = await resolveLost({ ledger, chain, standing }, runs, { readings });
    expect(result).toMatchObject({ kind: 'retried', newTaskId: 't1' });
    expect(readings.has('same-task')).toBe(true);
  });

  it('once this container saw answers name new tasks, a run in the retried task is not the retry', async () => {
    const { ledger, chain, standing } = await lostRetry();
    const readings = new RetryReadings();
    readings.learn(['new-task']);
    const runs = [
      record('tied', { script_task_id: 't1', start_time: iso(at(30)) }),
      record('new', { script_task_id: 't9', start_time: iso(at(70)) }),
    ];
    const result = await resolveLost({ ledger, chain, standing }, runs, { readings });
    expect(result).toMatchObject({ kind: 'retried', newTaskId: 't9' });
  });

  it("once the chain's own answers showed new tasks, a run in an earlier task is not the retry", async () => {
    const store = new MemoryLedgerStore();
    let now = at(20);
    const ledger = new AttemptLedger(store, { leaseMs: 60_000, ttlDays: 30, now: () => now, sleep: async () => {} });
    const root = { ...facts, startedAt: at(0), endedAt: at(10) };
    const first = (await ledger.claim(locatedOf(root), undefined, 'retry'))!;
    await ledger.settleRetried(first, { taskId: 't2', via: 'answer' });
    now = at(100);
    const next = { ...facts, recordId: 'r2', taskId: 't2', startedAt: at(30), endedAt: at(40) };
    const chain1 = (await ledger.get(locatedOf(root).chainKey)) as unknown as Chain;
    const second = (await ledger.claim(locatedOf(next, chain1, 1), chain1.rev, 'retry'))!;
    await ledger.markUnknown(second, { reason: 'TIMEOUT' });
    const chain = (await ledger.get(locatedOf(root).chainKey)) as unknown as Chain;
    const standing = { kind: 'unresolved', rev: chain.rev, claimedAt: at(100), attemptsMade: 1 } as const;
    const runs = [
      record('in-t1', { script_task_id: 't1', start_time: iso(at(110)) }),
      record('new', { script_task_id: 't3', start_time: iso(at(120)) }),
    ];
    const result = await resolveUnknownOutcome(
      locatedOf(next, chain, 1),
      standing,
      context(workspaceOf(runs).workspace, { ledger }),
    );
    expect(result).toMatchObject({ kind: 'retried', newTaskId: 't3', attempt: 2 });
  });

  it('a run another chain owns is never taken', async () => {
    const { ledger, chain, standing } = await lostRetry();
    // Another chain on the same desktop and script already has r5 as its root run.
    const other = { ...facts, recordId: 'r5', taskId: 't5', startedAt: at(30), endedAt: at(40) };
    await ledger.claim(locatedOf(other), undefined, 'give-up');
    const runs = [
      record('r5', { script_task_id: 't5', start_time: iso(at(30)), end_time: iso(at(40)) }),
      record('r6', { script_task_id: 't6', start_time: iso(at(50)) }),
    ];
    const result = await resolveLost({ ledger, chain, standing }, runs);
    expect(result).toMatchObject({ kind: 'retried', newTaskId: 't6' });
  });

  it('a run without a task is no candidate', async () => {
    const { ledger, chain, standing } = await lostRetry();
    const runs = [
      record('bare', { script_task_id: undefined, start_time: iso(at(30)) }),
      record('r6', { script_task_id: 't6', start_time: iso(at(50)) }),
    ];
    const result = await resolveLost({ ledger, chain, standing }, runs);
    expect(result).toMatchObject({ kind: 'retried', newTaskId: 't6' });
  });

  describe('on a chain that names no desktop or script', () => {
    const bare = { projectId: 'p', recordId: 'r1', taskId: 't1', startedAt: at(0), endedAt: at(10) };

    it('learns them from the record, and then looks for the run', async () => {
      const { ledger, chain, standing } = await lostRetry(bare);
      const { workspace, calls } = workspaceOf([
        record('r1'),
        record('r2', { script_task_id: 't2', start_time: iso(at(30)) }),
      ]);
      const result = await resolveUnknownOutcome(locatedOf(bare, chain), standing, context(workspace, { ledger }));
      expect(result).toMatchObject({ kind: 'retried', newTaskId: 't2' });
      expect(calls).toEqual({ get: 1, list: 1 });
    });

    it('gives up, surfaced as outcome-unknown, when Workspace does not say them either', async () => {
      const { ledger, chain, standing, store } = await lostRetry(bare);
      const { workspace, calls } = workspaceOf([record('r1', { resource_id: undefined, script_id: undefined })]);
      const result = await resolveUnknownOutcome(locatedOf(bare, chain), standing, context(workspace, { ledger }));
      const reason =
        "outcome-unknown: the retry's answer was lost and record r1 names no desktop or script to check it by";
      expect(result).toMatchObject({
        kind: 'dead-letter',
        code: 'outcome-unknown',
        letter: { reason, errorCode: 'OUTCOME_UNKNOWN', ruleId: 'outcome-unknown', attempts: 1 },
        claim: { chain: { state: 'claimed', intent: 'give-up' } },
      });
      expect(calls.list).toBe(0);
      expect(store.items.get('p#record#r1')).toMatchObject({ state: 'claimed', intent: 'give-up' });
    });

    it('gives up only on the script missing too', async () => {
      const { ledger, chain, standing } = await lostRetry(bare);
      const { workspace } = workspaceOf([record('r1', { script_id: undefined })]);
      expect(
        await resolveUnknownOutcome(locatedOf(bare, chain), standing, context(workspace, { ledger })),
      ).toMatchObject({ kind: 'dead-letter', code: 'outcome-unknown' });
    });

    it('a dry run says it would give up, and writes nothing', async () => {
      const { ledger, chain, standing, store } = await lostRetry(bare);
      const { workspace } = workspaceOf([record('r1', { resource_id: undefined, script_id: undefined })]);
      const result = await resolveUnknownOutcome(
        locatedOf(bare, chain),
        standing,
        context(workspace, { ledger, dryRun: true }),
      );
      expect(result).toMatchObject({
        kind: 'preview',
        letter: {
          reason:
            "dry-run: would give up: outcome-unknown: the retry's answer was lost and record r1 names no desktop or script to check it by",
          errorCode: 'DRY_RUN',
          ruleId: 'outcome-unknown',
        },
      });
      expect(store.items.get('p#record#r1')).toMatchObject({ state: 'unknown' });
    });

    it('another delivery taking the claim first is a conflict', async () => {
      const { ledger, chain, standing } = await lostRetry(bare);
      const { workspace } = workspaceOf([record('r1', { resource_id: undefined, script_id: undefined })]);
      expect(
        await resolveUnknownOutcome(
          locatedOf(bare, chain),
          { ...standing, rev: standing.rev + 5 },
          context(workspace, { ledger }),
        ),
      ).toBe('conflict');
    });
  });
});
