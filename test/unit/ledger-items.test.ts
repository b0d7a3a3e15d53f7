import { describe, expect, it } from 'vitest';
import {
  type Chain,
  desktopKey,
  handlingGeneration,
  isChain,
  isDesktopStart,
  isLink,
  markerChains,
  memberKey,
  newChain,
  overlaidFacts,
  pendingKey,
  type RunFacts,
  readingKey,
  recordKey,
  taskKey,
  withRunFacts,
} from '../../lib/ledger/chain.js';
import { standingOf } from '../../lib/ledger/standing.js';
import { claimed, deadLettered, desktopWaiting, released, retried, unknown } from '../../lib/ledger/transitions.js';

/**
 * The ledger's items as plain data (lib/ledger/chain.ts), the transitions
 * between a chain's states (lib/ledger/transitions.ts) and what an event may
 * do with its chain (lib/ledger/standing.ts): every field a write carries,
 * exactly, since the next delivery decides from what was written.
 */

const T0 = Date.parse('2026-11-29T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const facts: RunFacts = {
  projectId: 'p',
  recordId: 'r0',
  taskId: 't0',
  resourceId: 'd0',
  scriptId: 's0',
  region: 'ap-1',
  failedAt: T0 - 5_000,
  startedAt: T0 - 10_000,
  endedAt: T0 - 5_000,
};
const open = newChain(facts, T0);
const lease = { now: T0 + 1_000, leaseMs: 60_000 };

describe('ledger keys', () => {
  it('are the project, the kind of item and its ids, joined by #', () => {
    expect(recordKey('p', 'r')).toBe('p#record#r');
    expect(taskKey('p', 't')).toBe('p#task#t');
    expect(pendingKey('p', 'd', 's')).toBe('p#pending#d#s');
    expect(readingKey('p', 'new-task')).toBe('p#reading#new-task');
    expect(memberKey('p', 't', 'd', 's')).toBe('p#run#t#d#s');
    expect(desktopKey('p', 'd')).toBe('p#desktop#d');
  });
});

describe('what kind of item the ledger read', () => {
  it('a desktop start has its chain, its window end and a revision', () => {
    const start = { pk: 'p#desktop#d', started_by: 'p#record#r', until: 5, rev: 1 };
    expect(isDesktopStart(start)).toBe(true);
    expect(isDesktopStart({ ...start, started_by: 1 })).toBe(false);
    expect(isDesktopStart({ ...start, until: '5' })).toBe(false);
    expect(isDesktopStart({ ...start, rev: undefined })).toBe(false);
    expect(isDesktopStart(undefined)).toBe(false);
  });

  it('a link has a string link_to; a chain has a state and an attempt count', () => {
    expect(isLink({ pk: 'k', link_to: 'p#record#r' })).toBe(true);
    expect(isLink({ pk: 'k', link_to: 3 })).toBe(false);
    expect(isLink(undefined)).toBe(false);
    expect(isChain(open as unknown as Record<string, unknown>)).toBe(true);
    expect(isChain({ state: 'open', attempts: '0' })).toBe(false);
    expect(isChain({ state: 1, attempts: 0 })).toBe(false);
    expect(isChain(undefined)).toBe(false);
  });

  it('a pending marker names its last claimer first, then the chains before it, each once, strings only', () => {
    expect(markerChains({ pk: 'm', link_to: 'c2', recent: ['c2', 7, 'c1', 'c1'] })).toEqual(['c2', 'c1']);
    expect(markerChains({ pk: 'm', link_to: 'c2', recent: 'c1' })).toEqual(['c2']);
    expect(markerChains({ pk: 'm', link_to: 'c2' })).toEqual(['c2']);
    expect(markerChains({ pk: 'm', recent: ['c1'] })).toEqual([]);
    expect(markerChains(undefined)).toEqual([]);
  });
});

describe('a new chain, and what a run adds to it', () => {
  it('starts open at revision 0 with its root run as generation 0', () => {
    expect(open).toEqual({
      pk: 'p#record#r0',
      project_id: 'p',
      root_record: 'r0',
      region: 'ap-1',
      resource_id: 'd0',
      script_id: 's0',
      state: 'open',
      attempts: 0,
      rev: 0,
      current_record: 'r0',
      current_task: 't0',
      tasks: ['t0'],
      runs: [{ g: 0, record: 'r0', task: 't0', start: T0 - 10_000, end: T0 - 5_000 }],
      first_seen_at: T0,
      failed_at: T0 - 5_000,
      history: [],
    });
  });

  it('knows no task when the event names none', () => {
    expect(newChain({ projectId: 'p', recordId: 'r0' }, T0).tasks).toEqual([]);
  });

  it('fills the desktop, script and region it lacks from a run, keeping what it knows', () => {
    const bare = newChain({ projectId: 'p', recordId: 'r0' }, T0);
    expect(withRunFacts(bare, facts)).toMatchObject({ resource_id: 'd0', script_id: 's0', region: 'ap-1' });
    expect(withRunFacts(open, { ...facts, resourceId: 'd9', scriptId: 's9', region: 'ap-9' })).toMatchObject({
      resource_id: 'd0',
      script_id: 's0',
      region: 'ap-1',
    });
  });

  it("lays an event's known facts over a lookup's, never an unknown one", () => {
    const lookup: RunFacts = { projectId: 'p', recordId: 'r0', taskId: 't0', startedAt: 1 };
    expect(overlaidFacts(lookup, { projectId: 'p', recordId: 'r0', taskId: undefined, startedAt: 2 })).toEqual({
      projectId: 'p',
      recordId: 'r0',
      taskId: 't0',
      startedAt: 2,
    });
  });
});

describe('the generation a chain handles', () => {
  it('is the run before an in-flight retry (claimed for a retry, or unknown), else the attempts made', () => {
    expect(handlingGeneration({ state: 'claimed', intent: 'retry', attempts: 2 })).toBe(1);
    expect(handlingGeneration({ state: 'unknown', intent: 'retry', attempts: 2 })).toBe(1);
    expect(handlingGeneration({ state: 'unknown', attempts: 2 })).toBe(1);
    expect(handlingGeneration({ state: 'claimed', intent: 'give-up', attempts: 2 })).toBe(2);
    expect(handlingGeneration({ state: 'retried', intent: 'retry', attempts: 2 })).toBe(2);
    expect(handlingGeneration({ state: 'open', attempts: 2 })).toBe(2);
  });
});

describe('claims', () => {
  it('a retry claim counts the attempt, holds a lease and opens the retry run', () => {
    expect(claimed(open, facts, 'retry', { ...lease, freshTask: true })).toEqual({
      ...open,
      state: 'claimed',
      intent: 'retry',
      attempts: 1,
      rev: 1,
      current_record: 'r0',
      current_task: 't0',
      tasks: ['t0'],
      runs: [
        { g: 0, record: 'r0', task: 't0', start: T0 - 10_000, end: T0 - 5_000 },
        { g: 1, claimed_at: T0 + 1_000, fresh_task: true },
      ],
      claimed_at: T0 + 1_000,
      lease_until: T0 + 61_000,
      last_attempt_at: T0 + 1_000,
      decided_at: undefined,
    });
  });

  it('a retry claim not known to get a new task says nothing of one', () => {
    const runs = claimed(open, facts, 'retry', { ...lease, freshTask: false }).runs;
    expect(runs?.at(-1)).toEqual({ g: 1, claimed_at: T0 + 1_000 });
  });

  it('a give-up claim counts nothing, opens no run and keeps its decision time (or takes now)', () => {
    const giveUp = claimed(open, facts, 'give-up', lease);
    expect(giveUp).toMatchObject({ state: 'claimed', intent: 'give-up', attempts: 0, decided_at: T0 + 1_000 });
    expect(giveUp.last_attempt_at).toBeUndefined();
    expect(giveUp.runs).toEqual(open.runs);
    expect(claimed(open, facts, 'give-up', { ...lease, decidedAt: 42 }).decided_at).toBe(42);
  });

  it("a retry claim keeps the chain's last give-up decision and its earlier last attempt is replaced", () => {
    const before = { ...open, decided_at: 7, last_attempt_at: 3 };
    expect(claimed(before, facts, 'retry', lease)).toMatchObject({ decided_at: 7, last_attempt_at: T0 + 1_000 });
    expect(claimed(before, facts, 'give-up', lease)).toMatchObject({ decided_at: T0 + 1_000, last_attempt_at: 3 });
  });

  it("adds the run's task once, and keeps the current task when the run names none", () => {
    const later = claimed(open, { ...facts, recordId: 'r1', taskId: 't1' }, 'retry', lease);
    expect(later).toMatchObject({ tasks: ['t0', 't1'], current_record: 'r1', current_task: 't1' });
    const noTask = claimed(open, { ...facts, recordId: 'r1', taskId: undefined }, 'retry', lease);
    expect(noTask).toMatchObject({ tasks: ['t0'], current_record: 'r1', current_task: 't0' });
  });

  it('replaces a stale entry of the retry run rather than keeping two', () => {
    const stale: Chain = { ...open, runs: [...(open.runs ?? []), { g: 1, claimed_at: 5 }] };
    expect(claimed(stale, facts, 'retry', lease).runs?.map((r) => [r.g, r.claimed_at])).toEqual([
      [0, undefined],
      [1, T0 + 1_000],
    ]);
  });
});

describe('settling a claim', () => {
  const claim = claimed(open, facts, 'retry', lease);

  it('retried: the lease, intent and decision go, the new task is kept, the history says how it became known', () => {
    const answered = retried(
      claim,
      { taskId: 't1', requestId: 'q1', ruleId: 'rule', via: 'answer' },
      { now: T0 + 2_000 },
    );
    expect(answered).not.toHaveProperty('lease_until');
    expect(answered).not.toHaveProperty('intent');
    expect(answered).not.toHaveProperty('decided_at');
    expect(answered).toMatchObject({ state: 'retried', rev: 2, new_task_id: 't1', tasks: ['t0', 't1'], attempts: 1 });
    expect(answered.runs?.at(-1)).toMatchObject({ g: 1, task: 't1' });
    expect(answered.history).toEqual([
      {
        attempt: 1,
        at: iso(T0 + 2_000),
        outcome: 'retried',
        record_id: 'r0',
        task_id: 't1',
        rule_id: 'rule',
        request_id: 'q1',
      },
    ]);
    const looked = retried(claim, { taskId: 't0', forcedBy: 'ops', via: 'lookup' }, { now: T0 + 2_000 });
    expect(looked.tasks).toEqual(['t0']);
    expect(looked.history.at(-1)).toEqual({
      attempt: 1,
      at: iso(T0 + 2_000),
      outcome: 'retried (lookup)',
      record_id: 'r0',
      task_id: 't0',
      forced_by: 'ops',
    });
  });

  it('unknown: the claim stays, the history keeps the evidence', () => {
    const lost = unknown(
      claim,
      { reason: 'TIMEOUT', errorCode: 'E1', requestId: 'q1', ruleId: 'x' },
      { now: T0 + 2_000 },
    );
    expect(lost).toEqual({
      ...claim,
      state: 'unknown',
      rev: 2,
      history: [
        {
          attempt: 1,
          at: iso(T0 + 2_000),
          outcome: 'unknown',
          record_id: 'r0',
          error_code: 'E1',
          reason: 'TIMEOUT',
          request_id: 'q1',
        },
      ],
    });
  });

  it('released: a retry that did not run is not counted, and its run is taken back', () => {
    const back = released(claim, { reason: '503', errorCode: 'E5', ruleId: 'rule' }, { now: T0 + 2_000 });
    expect(back).not.toHaveProperty('lease_until');
    expect(back).not.toHaveProperty('intent');
    expect(back).toMatchObject({ state: 'open', attempts: 0, rev: 2, runs: open.runs });
    expect(back.history).toEqual([
      {
        attempt: 1,
        at: iso(T0 + 2_000),
        outcome: 'not run',
        record_id: 'r0',
        error_code: 'E5',
        reason: '503',
        rule_id: 'rule',
      },
    ]);
  });

  it('released: an unknown outcome found not to have run gives its attempt back too', () => {
    const lost = unknown(claim, { reason: 'TIMEOUT' }, { now: T0 + 2_000 });
    const { intent: _intent, ...withoutIntent } = lost;
    const back = released({ ...withoutIntent, state: 'unknown' }, { reason: 'not run' }, { now: T0 + 3_000 });
    expect(back).toMatchObject({ state: 'open', attempts: 0, runs: open.runs });
    expect(back.history.at(-1)?.outcome).toBe('not run');
  });

  it('released: a give-up claim had nothing to give back', () => {
    const giveUp = claimed(open, facts, 'give-up', lease);
    const back = released(giveUp, { reason: 'DLQ down' }, { now: T0 + 2_000 });
    expect(back).toMatchObject({ state: 'open', attempts: 0, runs: open.runs });
    expect(back.history.at(-1)).toEqual({
      attempt: 0,
      at: iso(T0 + 2_000),
      outcome: 'released',
      record_id: 'r0',
      reason: 'DLQ down',
    });
  });

  it('dead-lettered: surfaced with its reason (at most 1,000 characters) and decision time; a refused retry is not counted', () => {
    const long = 'x'.repeat(1_200);
    const dead = deadLettered(
      claim,
      { reason: long, errorCode: 'E4', ruleId: 'rule', requestId: 'q', decidedAt: 9, refund: true, forcedBy: 'ops' },
      { now: T0 + 2_000 },
    );
    expect(dead).not.toHaveProperty('lease_until');
    expect(dead).not.toHaveProperty('intent');
    expect(dead).toMatchObject({
      state: 'dead-lettered',
      attempts: 0,
      runs: open.runs,
      rev: 2,
      reason: 'x'.repeat(1_000),
      rule_id: 'rule',
      error_code: 'E4',
      dead_lettered_at: 9,
    });
    expect(dead.history).toEqual([
      {
        attempt: 1,
        at: iso(T0 + 2_000),
        outcome: 'dead-lettered',
        record_id: 'r0',
        error_code: 'E4',
        reason: 'x'.repeat(500),
        rule_id: 'rule',
        request_id: 'q',
        forced_by: 'ops',
      },
    ]);
    const kept = deadLettered(claim, { reason: 'r', decidedAt: 9, refund: false }, { now: T0 + 2_000 });
    expect(kept).toMatchObject({ attempts: 1, runs: claim.runs });
  });

  it('the history keeps the newest 50 entries', () => {
    let chain: Chain = open;
    for (let i = 0; i < 55; i++) chain = unknown(chain, { reason: `r${i}` }, { now: T0 });
    expect(chain.history.map((h) => h.reason)).toEqual(Array.from({ length: 50 }, (_, i) => `r${i + 5}`));
  });
});

describe('a run waiting for its desktop', () => {
  it('a start sent without a job id says so without one; a later start of the same run keeps the wait', () => {
    const started = desktopWaiting(open, { g: 0, desktop: 'dk', state: 'SHUTOFF', started: {} }, { now: T0 });
    expect(started.desktop_wait).toEqual({ g: 0, desktop: 'dk', since: T0, woken_at: T0 });
    expect(started.history).toEqual([
      {
        attempt: 0,
        at: iso(T0),
        outcome: 'desktop started',
        record_id: 'r0',
        reason: 'desktop dk was SHUTOFF: os-start sent',
      },
    ]);
    const again = desktopWaiting(started, { g: 0, desktop: 'dk', state: 'SHUTOFF' }, { now: T0 + 9_000 });
    expect(again.desktop_wait).toEqual({ g: 0, desktop: 'dk', since: T0, woken_at: T0 });
    expect(again.history).toHaveLength(1);
  });

  it("a later run's wait forgets the earlier run's start", () => {
    const started = desktopWaiting(open, { g: 0, desktop: 'dk', state: 'SHUTOFF', started: {} }, { now: T0 });
    const next = desktopWaiting(started, { g: 1, desktop: 'dk', state: 'STOPPED' }, { now: T0 + 9_000 });
    expect(next.desktop_wait).toEqual({ g: 1, desktop: 'dk', since: T0 + 9_000 });
    expect(next.history.at(-1)).toEqual({
      attempt: 0,
      at: iso(T0 + 9_000),
      outcome: 'desktop not ready',
      record_id: 'r0',
      reason: 'desktop dk is STOPPED',
    });
  });
});

describe('standing: what an event may do with its chain', () => {
  const claim = claimed(open, facts, 'retry', lease);
  const answered = retried(claim, { taskId: 't1', via: 'answer' }, { now: T0 + 2_000 });
  const end = lease.now + lease.leaseMs;

  it('no chain: fresh, nothing attempted, nothing written yet', () => {
    expect(standingOf(undefined, 0, { now: T0 })).toEqual({ kind: 'fresh', attemptsMade: 0, rev: undefined });
  });

  it('a fresh chain is decided with its attempts, last attempt and revision', () => {
    expect(standingOf(answered, 1, { now: T0 })).toEqual({
      kind: 'fresh',
      attemptsMade: 1,
      lastAttemptAt: T0 + 1_000,
      rev: 2,
      reopened: undefined,
    });
  });

  it('a claim is live up to its lease end plus the skew allowed, and then unresolved', () => {
    expect(standingOf(claim, 0, { now: end - 1 })).toEqual({ kind: 'in-flight', until: end });
    expect(standingOf(claim, 0, { now: end })).toEqual({
      kind: 'unresolved',
      rev: 1,
      claimedAt: T0 + 1_000,
      attemptsMade: 0,
    });
    expect(standingOf(claim, 0, { now: end, clockSkewMs: 1 })).toEqual({ kind: 'in-flight', until: end + 1 });
  });

  it('a live give-up claim is in flight too', () => {
    const giveUp = claimed(open, facts, 'give-up', lease);
    expect(standingOf(giveUp, 0, { now: end - 1 })).toEqual({ kind: 'in-flight', until: end });
  });

  it('an unknown outcome with no lease or claim time kept is unresolved at once, claimed at 0', () => {
    const { lease_until: _l, claimed_at: _c, ...bare } = unknown(claim, { reason: 'x' }, { now: T0 });
    expect(standingOf(bare as Chain, 0, { now: T0 })).toEqual({
      kind: 'unresolved',
      rev: 2,
      claimedAt: 0,
      attemptsMade: 0,
    });
  });

  it('a run newer than a chain with a retry claimed (not yet settled) resolves that retry first', () => {
    expect(standingOf(claim, 1, { now: end })).toMatchObject({ kind: 'unresolved' });
    expect(standingOf(claim, 1, { now: end - 1 })).toMatchObject({ kind: 'in-flight' });
  });

  it('a run newer than the chain knows, with nothing pending, is left alone', () => {
    const giveUp = claimed(open, facts, 'give-up', lease);
    expect(standingOf(giveUp, 1, { now: end })).toEqual({
      kind: 'duplicate',
      reason: "run 2 is newer than the ledger's chain (0 retries): left alone",
    });
  });

  it('an older run is a duplicate, and only the run just retried asks for its link again', () => {
    expect(standingOf(answered, 0, { now: end })).toEqual({
      kind: 'duplicate',
      reason: 'run 1 of this failure was already handled (1 retry made)',
      relink: true,
    });
    const twice = retried(
      claimed(answered, { ...facts, recordId: 'r1', taskId: 't1' }, 'retry', lease),
      { taskId: 't2', via: 'answer' },
      { now: T0 + 3_000 },
    );
    expect(standingOf(twice, 0, { now: end })).toEqual({
      kind: 'duplicate',
      reason: 'run 1 of this failure was already handled (2 retries made)',
      relink: false,
    });
    const pending = unknown(claimed(answered, facts, 'retry', lease), { reason: 'x' }, { now: T0 });
    expect(standingOf(pending, 0, { now: end })).toMatchObject({ kind: 'duplicate', relink: false });
  });

  it('a dead-lettered run says why, or that no reason was kept', () => {
    const dead = deadLettered(
      claimed(open, facts, 'give-up', lease),
      { reason: 'gone', decidedAt: 5, refund: false },
      lease,
    );
    expect(standingOf(dead, 0, { now: end })).toEqual({
      kind: 'duplicate',
      reason: 'this failure was already dead-lettered (gone)',
    });
    const { reason: _reason, ...noReason } = dead;
    expect(standingOf(noReason as Chain, 0, { now: end })).toEqual({
      kind: 'duplicate',
      reason: 'this failure was already dead-lettered (no reason kept)',
    });
    expect(standingOf(dead, 0, { now: end, replayOf: 5 })).toMatchObject({ kind: 'fresh', reopened: 'replay' });
    const { dead_lettered_at: _at, ...noTime } = dead;
    expect(standingOf(noTime as Chain, 0, { now: end, replayOf: undefined }).kind).toBe('duplicate');
  });
});
