import { describe, expect, it } from 'vitest';
import { type Chain, handlingGeneration, newChain } from '../../lib/ledger/chain.js';
import { standingOf } from '../../lib/ledger/standing.js';
import { claimed, deadLettered, desktopWaiting, released, retried, unknown } from '../../lib/ledger/transitions.js';

const NOW = 1_000_000;
const run = { projectId: 'p', recordId: 'r0', taskId: 't0', resourceId: 'desk', scriptId: 's' };
const lease = { now: NOW, leaseMs: 60_000 };
const open = newChain(run, NOW);
const claimedRetry = claimed(open, run, 'retry', lease);
const claimedGiveUp = claimed(open, run, 'give-up', lease);
const retriedOnce = retried(claimedRetry, { taskId: 't1', via: 'answer' }, { now: NOW });
const lost = unknown(claimedRetry, { reason: 'TIMEOUT' }, { now: NOW });
const dead = deadLettered(claimedGiveUp, { reason: 'script-error', decidedAt: 42, refund: false }, { now: NOW });
const later = NOW + 61_000;

describe('standing of an event against its chain (pure)', () => {
  it.each<[string, Chain | undefined, number, number, string]>([
    ['no chain: fresh with no attempts', undefined, 0, NOW, 'fresh'],
    ['open chain, its run: fresh', open, 0, NOW, 'fresh'],
    ['a live retry claim: in flight', claimedRetry, 0, NOW, 'in-flight'],
    ['a retry claim whose lease ended: unresolved (ask Workspace first)', claimedRetry, 0, later, 'unresolved'],
    ['a give-up claim whose lease ended: fresh (nothing was called)', claimedGiveUp, 0, later, 'fresh'],
    ['an unknown outcome before the lease ends: in flight', lost, 0, NOW, 'in-flight'],
    ['an unknown outcome after the lease: unresolved', lost, 0, later, 'unresolved'],
    ['the retried run again: duplicate', retriedOnce, 0, later, 'duplicate'],
    ['the new run of a retried chain failed: fresh', retriedOnce, 1, later, 'fresh'],
    ['dead-lettered: duplicate', dead, 0, later, 'duplicate'],
    ['a run newer than a pending retry knows: resolve it first', lost, 1, later, 'unresolved'],
    ['a run newer than a retried chain knows: left alone', retriedOnce, 2, later, 'duplicate'],
  ])('%s', (_, chain, generation, now, kind) => {
    expect(standingOf(chain, generation, { now }).kind).toBe(kind);
  });

  it('a deferral writes nothing, so every copy of a deferred event is still fresh', () => {
    expect(standingOf(open, 0, { now: NOW })).toMatchObject({ kind: 'fresh', attemptsMade: 0, rev: 0 });
  });

  it('a new run of a retried chain is decided with the attempts already made', () => {
    expect(standingOf(retriedOnce, 1, { now: later })).toMatchObject({
      kind: 'fresh',
      attemptsMade: 1,
      rev: retriedOnce.rev,
    });
  });

  it('the duplicate of the run that was retried asks for its link to be written again', () => {
    expect(standingOf(retriedOnce, 0, { now: later })).toMatchObject({ kind: 'duplicate', relink: true });
  });

  it('an unresolved outcome is decided, after the lookup, with the lost attempt given back', () => {
    expect(standingOf(lost, 0, { now: later })).toMatchObject({ kind: 'unresolved', attemptsMade: 0, claimedAt: NOW });
  });

  it('force reopens a dead-lettered run, never a retried one', () => {
    expect(standingOf(dead, 0, { now: later, force: true })).toMatchObject({ kind: 'fresh', reopened: 'force' });
    expect(standingOf(retriedOnce, 0, { now: later, force: true }).kind).toBe('duplicate');
    expect(standingOf(claimedRetry, 0, { now: NOW, force: true }).kind).toBe('in-flight');
  });

  it('a replay reopens only the dead letter it carries (same decided_at)', () => {
    expect(standingOf(dead, 0, { now: later, replayOf: 42 })).toMatchObject({ kind: 'fresh', reopened: 'replay' });
    expect(standingOf(dead, 0, { now: later, replayOf: 41 }).kind).toBe('duplicate');
  });
});

describe('chain transitions (pure)', () => {
  it('a retry claim counts its attempt and holds a lease', () => {
    expect(claimedRetry).toMatchObject({
      state: 'claimed',
      intent: 'retry',
      attempts: 1,
      rev: 1,
      lease_until: NOW + 60_000,
    });
    expect(handlingGeneration(claimedRetry)).toBe(0);
  });

  it('a give-up claim counts no attempt', () => {
    expect(claimedGiveUp).toMatchObject({ state: 'claimed', intent: 'give-up', attempts: 0 });
  });

  it('an accepted retry keeps its task in the chain and waits for the new run', () => {
    expect(retriedOnce).toMatchObject({ state: 'retried', attempts: 1, new_task_id: 't1', tasks: ['t0', 't1'] });
    expect(retriedOnce.lease_until).toBeUndefined();
    expect(handlingGeneration(retriedOnce)).toBe(1);
  });

  it('a released retry claim gives its attempt back; a released give-up has none to give', () => {
    expect(released(claimedRetry, { reason: '503' }, { now: NOW })).toMatchObject({ state: 'open', attempts: 0 });
    expect(released(claimedGiveUp, { reason: 'DLQ down' }, { now: NOW })).toMatchObject({ state: 'open', attempts: 0 });
  });

  it('a retry refused for good is dead-lettered without counting the attempt', () => {
    expect(
      deadLettered(claimedRetry, { reason: 'workspace-refused: 404', decidedAt: 7, refund: true }, { now: NOW }),
    ).toMatchObject({ state: 'dead-lettered', attempts: 0, dead_lettered_at: 7 });
  });

  it('every transition bumps the revision and keeps a bounded history', () => {
    let chain: Chain = open;
    for (let i = 0; i < 60; i++) chain = released(claimed(chain, run, 'retry', lease), { reason: 'x' }, { now: NOW });
    expect(chain.rev).toBe(120);
    expect(chain.history).toHaveLength(50);
  });
});

describe('a run waiting for its desktop (desktopWaiting, pure)', () => {
  const details = { g: 0, desktop: 'desk', state: 'SHUTOFF' };

  it('records when the wait began, once per run, and never counts an attempt', () => {
    // Act
    const waiting = desktopWaiting(open, details, { now: NOW });
    const still = desktopWaiting(waiting, { ...details, state: 'SHUTOFF, powering-on' }, { now: NOW + 60_000 });

    // Assess
    expect(waiting).toMatchObject({
      attempts: 0,
      state: 'open',
      rev: open.rev + 1,
      desktop_wait: { g: 0, desktop: 'desk', since: NOW },
    });
    expect(waiting.history.map((h) => h.outcome)).toEqual(['desktop not ready']);
    expect(still.desktop_wait).toEqual({ g: 0, desktop: 'desk', since: NOW });
    expect(still.history).toHaveLength(1);
    expect(standingOf(still, 0, { now: NOW + 60_000 })).toMatchObject({
      kind: 'fresh',
      attemptsMade: 0,
      rev: still.rev,
    });
  });

  it('a start sent is written in the history with its job, the wait kept from its beginning', () => {
    const waiting = desktopWaiting(open, details, { now: NOW });
    const started = desktopWaiting(
      waiting,
      { ...details, started: { jobId: 'job-1', requestId: 'req-1' } },
      { now: NOW + 5_000 },
    );
    expect(started.desktop_wait).toEqual({ g: 0, desktop: 'desk', since: NOW, woken_at: NOW + 5_000 });
    expect(started.history.at(-1)).toMatchObject({
      attempt: 0,
      outcome: 'desktop started',
      request_id: 'req-1',
      reason: 'desktop desk was SHUTOFF: os-start sent (job job-1)',
    });
  });

  it('the wait of a later run starts afresh', () => {
    const earlier = desktopWaiting(open, details, { now: NOW });
    const laterRun = desktopWaiting(
      { ...retried(claimed(earlier, run, 'retry', lease), { taskId: 't1', via: 'answer' }, { now: NOW }) },
      { ...details, g: 1 },
      { now: later },
    );
    expect(laterRun.desktop_wait).toEqual({ g: 1, desktop: 'desk', since: later });
  });
});
