import { describe, expect, it } from 'vitest';
import type { RetryReading } from '../../local/workspace-state.js';
import { PROJECT_ID } from '../helpers/factories.js';
import { emit } from './commands.js';
import type { Shape } from './envelopes.js';
import { ledgerConsistent, p1OneRetryPerRun, p2AttemptsBounded, p3NothingLost } from './invariants.js';
import type { CrashPoint } from './invocation.js';
import { quietPipelineEachTest } from './quiet-pipeline.js';
import { deliver, drain } from './ways-in.js';
import { REASONS, World } from './world.js';

/**
 * Whose run is whose when one script runs on one desktop in several tasks (a
 * scheduled script, or one run again by hand), or a record is run again by
 * hand: replayed step by step (no scheduler), under the readings where each
 * sequence once broke the protocol (docs/ledger-protocol.md). The pending
 * marker remembers the chains that claimed before the last one, a lost
 * answer's run goes to the chain that surely called, and a known reading
 * tells tied runs from untied ones. The one window kept is `it.fails`.
 */

let world: World;
const now = <T>(p: Promise<T>) => p;
quietPipelineEachTest(() => world);

/** Delivers, in one batch, the visible messages whose body names `recordId` (inside an envelope too). */
async function deliverRecord(recordId: string, crash: CrashPoint = 'none'): Promise<void> {
  const names = (body: string) => body.includes(`"${recordId}"`) || body.includes(`\\"${recordId}\\"`);
  const messages = world.source.visible().filter((m) => names(m.body));
  await deliver(
    world,
    messages.map((m) => world.source.receive(m)),
    crash,
  );
}

/** Two tasks ran script s1 on desktop d1 and failed at the same time: r1 (task t1) and r2 (task t2). */
function twoTasksOnOneDesktop(reading: RetryReading, maxAttempts: number): World {
  world = new World(
    {
      maxAttempts,
      tasks: [
        { desktops: 1, reason: 'retry' },
        { desktops: 1, reason: 'retry' },
      ],
      sharedDesktops: true,
      failUnlinkedRuns: true,
      reading,
    },
    async () => undefined,
  );
  emit(world, 'r1', 'plain');
  emit(world, 'r2', 'plain');
  return world;
}

describe('one script on one desktop in several tasks: whose run is whose', () => {
  // Breaks under every reading (new-task and original-task: r1 retried twice and r2 never; in-place: r1's chain gets a
  // second retry past max_attempts).
  it.each(['new-task', 'original-task', 'in-place'] as const)(
    "a lost retry's own run is not disowned because another chain of the same desktop and script holds an unresolved claim (%s)",
    async (reading) => {
      // Prepare: r1's retry lands but its answer is lost; then r2's holder claims and dies before calling (the pending
      // marker now names r2's chain).
      twoTasksOnOneDesktop(reading, 1);
      world.ws.armRetry('lose-502');
      await deliverRecord('r1');
      world.advance(5);
      await deliverRecord('r2', 'before-call');
      // Act: past both leases, r1's lookup lists its own retry's run, and r2's chain (unresolved, its answer "unknown")
      // places any run after its claim.
      world.advance(200);
      await deliverRecord('r1');
      await drain(world, now);
      // Assess: r1 retried once (its lookup found its own run), r2 retried once (its lookup did not take r1's run for
      // its own).
      expect([...p1OneRetryPerRun(world), ...p2AttemptsBounded(world), ...p3NothingLost(world)]).toEqual([]);
    },
  );

  // Breaks under new-task; under original-task and in-place the run is found through its task marker or its own record.
  it("a dead holder's lookup does not take the run that another chain's lost retry started on the same desktop and script (new-task)", async () => {
    // Prepare: r2's retry lands (r3, task t3) with its answer lost; then r1's holder claims (the pending marker now
    // names r1's chain) and dies before calling.
    twoTasksOnOneDesktop('new-task', 3);
    world.ws.armRetry('lose-502');
    await deliverRecord('r2');
    await deliverRecord('r1', 'before-call');
    // Act: past the leases, r1's lookup sees r3, which no key but the pending marker leads to, and r2's lookup comes
    // after.
    world.advance(901);
    await deliverRecord('r1');
    await deliverRecord('r2');
    await drain(world, now);
    // Assess: r1 retried once by a call of its own, r2 once (its lookup finds r3); today r1 is "retried via lookup"
    // with r3 and r2 is retried again.
    expect([...p1OneRetryPerRun(world), ...p3NothingLost(world)]).toEqual([]);
  });

  // Breaks under new-task; under original-task and in-place the run is found through its task marker or its own record.
  it("a lost retry's own run that fails before the lookup stays in its chain when another chain of the same desktop and script claimed meanwhile (new-task)", async () => {
    // Prepare: r1's retry lands (r3, task t3) with its answer lost; r2 is retried normally 5 s later (its claim
    // overwrites the pending marker).
    twoTasksOnOneDesktop('new-task', 3);
    world.ws.armRetry('lose-502');
    await deliverRecord('r1');
    world.advance(5);
    await deliverRecord('r2');
    // Act: r3 fails and is reported before r1's lookup: no link, no task marker, and the pending marker leads to r2's
    // chain, which does not place it.
    const ownRun = world.ws.rerunOf('r1')!;
    world.advance(5);
    world.ws.fail(ownRun, REASONS.retry);
    emit(world, ownRun, 'plain');
    await deliverRecord(ownRun);
    await drain(world, now);
    // Assess: r1 retried once; today r3 starts a chain of its own, r1's lookup then leaves r3 to it, and r1 is retried
    // again.
    expect(p1OneRetryPerRun(world)).toEqual([]);
  });
});

describe('a run of another task on the same desktop and script, when the retry did not run', () => {
  /** A world with two one-desktop tasks of script s1; its ledger, for what other containers recorded. */
  function world0(reading: RetryReading): { ledger: ReturnType<World['deps']>['ledger'] } {
    world = new World(
      {
        maxAttempts: 3,
        tasks: [
          { desktops: 1, reason: 'retry' },
          { desktops: 1, reason: 'retry' },
        ],
        reading,
      },
      async () => undefined,
    );
    return { ledger: world.deps(world.invocation('setup', 'none')).ledger };
  }

  // The window docs/ledger-protocol.md keeps ("Remaining window"): before any answer has shown how Workspace retries,
  // an untied run could be ours.
  it.fails.each(['original-task', 'in-place'] as const)(
    "while no answer has shown the reading, the lookup may take it for the retry's run (%s)",
    async (reading) => {
      await deadHolderThenScheduledRun(reading);
      await deliverRecord('r1');
      await drain(world, now);
      expect(p3NothingLost(world)).toEqual([]);
    },
  );

  /**
   * r1 (task t1, d1) claimed by a holder that dies before calling; 30 s later the script runs on d1 in another task (a
   * schedule) and succeeds.
   */
  async function deadHolderThenScheduledRun(reading: RetryReading, fresh = true): Promise<void> {
    if (fresh) world0(reading);
    emit(world, 'r1', 'plain');
    await deliverRecord('r1', 'before-call');
    world.advance(30);
    const [scheduled] = world.ws.seedTask(['d1'], 's1', 'scheduled run');
    scheduled!.status = 'SUCCESS';
    world.advance(901);
  }

  // Under original-task and in-place a retry's run is tied to its chain: once any answer has shown that (recorded in
  // the ledger), an untied run is not ours.
  it.each(['original-task', 'in-place'] as const)(
    "the lost-answer lookup does not take it for the retry's run once an answer has shown the reading: the failure is retried (%s)",
    async (reading) => {
      // Prepare: an earlier retry's answer named its own task (another container recorded it).
      await world0(reading).ledger.noteReading(PROJECT_ID, 'same-task');
      await deadHolderThenScheduledRun(reading, false);
      // Act: r1's expired claim is resolved by the lookup.
      await deliverRecord('r1');
      await drain(world, now);
      // Assess: r1 was retried by Workspace (today it is "retried via lookup" with the scheduled run, which is a
      // different task's).
      expect(p3NothingLost(world)).toEqual([]);
    },
  );

  it("and the container does not take Workspace for one that answers new tasks: a later in-place run that fails is its chain's next attempt (in-place)", async () => {
    // Prepare: the lookup took the scheduled run (task t3) for r1's retry: RetryReadings saw "a new task" and every
    // later claim says fresh_task.
    await deadHolderThenScheduledRun('in-place');
    await deliverRecord('r1');
    // Act: r2 (desktop d2) is retried in place, and the run the retry started fails (reported with its start).
    emit(world, 'r2', 'record');
    await deliverRecord('r2');
    world.advance(30);
    world.ws.fail('r2', REASONS.retry);
    emit(world, 'r2', 'record');
    await drain(world, now);
    // Assess: r2's second run was retried (today it is placed as r2's first run and dropped as a duplicate).
    expect(p3NothingLost(world).filter((p) => p.includes('r2#'))).toEqual([]);
  });

  it('and the container does not take Workspace for one that answers new tasks: a lost answer in the original task is resolved, not retried again (original-task)', async () => {
    // Prepare: as above, under original-task.
    await deadHolderThenScheduledRun('original-task');
    await deliverRecord('r1');
    // Act: r2's retry lands (a new record in task t2) and its answer is lost; the lookup comes after the lease.
    emit(world, 'r2', 'record');
    world.ws.armRetry('lose-502');
    await deliverRecord('r2');
    await drain(world, now);
    // Assess: r2 retried once (today its claim says fresh_task, so a new record in its own task is "not ours" and r2 is
    // retried again).
    expect(p1OneRetryPerRun(world)).toEqual([]);
    expect(ledgerConsistent(world).filter((p) => p.includes('record#r2'))).toEqual([]);
  });
});

describe('a record someone ran again in place before its failure was handled (in-place)', () => {
  // docs/ledger-protocol.md, "Runs": a failure whose record has run again since (someone ran it again by hand) is
  // superseded and not retried.
  // Every event shape is checked against the record's detail before the retry (lib/pipeline/handled-run.ts).
  it.each(['plain', 'record-only', 'record', 'sns'] as const satisfies readonly Shape[])(
    'is not retried again while that run has not failed (event as %s)',
    async (shape) => {
      // Prepare: r1 failed and its event was sent; then someone retried it by hand, so r1 is RUNNING again.
      world = new World(
        { maxAttempts: 3, tasks: [{ desktops: 1, reason: 'retry' }], reading: 'in-place' },
        async () => undefined,
      );
      emit(world, 'r1', shape);
      world.advance(5);
      world.ws.retry({ recordId: 'r1' });
      const byHand = world.ws.retryCalls;
      // Act
      await deliverRecord('r1');
      // Assess: no retry call from us, and the outcome says superseded.
      expect(world.ws.retryCalls - byHand).toBe(0);
      expect(world.outcomes.map((o) => o.code)).toEqual(['superseded']);
    },
  );
});
