import { describe, expect, it } from 'vitest';
import { AttemptLedger } from '../../lib/ledger/attempt-ledger.js';
import { isChain } from '../../lib/ledger/chain.js';
import { processQueueBatch } from '../../lib/ways-in/queue-batch.js';
import { RETRY_READINGS } from '../../local/workspace-state.js';
import { emit } from './commands.js';
import { p1OneRetryPerRun, p2AttemptsBounded, p3NothingLost } from './invariants.js';
import { quietPipelineEachTest } from './quiet-pipeline.js';
import { refailUnlinkedAndDrain } from './refail.js';
import { deliver, drain, launch, replay } from './ways-in.js';
import { World } from './world.js';

/**
 * Sequences that once broke the attempt-ledger protocol, replayed step by
 * step (no scheduler), each kept as a regression test named for the promise
 * it holds.
 */

let world: World;
const now = <T>(p: Promise<T>) => p;
quietPipelineEachTest(() => world);

describe('sequences that once broke the protocol', () => {
  it('a container whose clock runs ahead (within CLOCK_SKEW_SECONDS) does not take a live retry claim for expired and call again (P1)', async () => {
    // Prepare: one failure, sent twice (two envelopes); the first delivery is held inside its retry call.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    world = new World({ maxAttempts: 3, tasks: [{ desktops: 1, reason: 'retry' }] }, async (label) => {
      if (label === 'queue#1 retry r1') await held;
    });
    emit(world, 'r1', 'plain');
    emit(world, 'r1', 'sns');
    const [first, second] = world.source.visible();
    const a = deliver(world, [world.source.receive(first!)], 'none');
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    // Act: 5 s later, a second container whose clock is 100 s ahead (CLOCK_SKEW_SECONDS allows 120) gets the copy.
    world.advance(5);
    const invocation = world.invocation('queue', 'none');
    const skewed = () => world.now() + 100_000;
    const deps = world.deps(invocation);
    const ledger = new AttemptLedger(invocation.store(world.store), {
      leaseMs: world.config.leaseSeconds * 1000,
      ttlDays: 30,
      now: skewed,
      sleep: async () => undefined,
    });
    await processQueueBatch({ Records: [world.source.receive(second!)] }, { ...deps, ledger, now: skewed });
    release();
    await a;
    await drain(world, now);
    // Assess: record r1 was retried once, not once by each container.
    expect(p1OneRetryPerRun(world)).toEqual([]);
  });

  it('a give-up whose dead-lettered write failed is surfaced once, and a replay of its letter is decided again (P3/P4)', async () => {
    // Prepare: a failure the policy gives up on, sent twice; the ledger accepts the give-up claim, then refuses the
    // write that marks it dead-lettered (the letter itself was accepted, so the message leaves the queue).
    world = new World({ maxAttempts: 1, tasks: [{ desktops: 1, reason: 'giveUp' }] }, async () => undefined);
    emit(world, 'r1', 'plain');
    emit(world, 'r1', 'sns');
    const [first, second] = world.source.visible();
    world.store.arm('write', 1, 2);
    await deliver(world, [world.source.receive(first!)], 'none');
    world.store.disarm();
    expect(world.dlq.messages.size).toBe(1);
    // Act: the second envelope comes after the give-up claim's lease; then the operator replays the FIRST letter.
    world.advance(61);
    await deliver(world, [world.source.receive(second!)], 'none');
    const lettersAfterCopy = world.dlq.messages.size;
    replay(world, 0);
    await drain(world, now);
    const firstReplay = world.outcomes.filter((o) => o.messageId === world.replays[0]!.messageId);
    // Assess: one dead letter for one failure, and the replayed letter is decided again, not deleted as a duplicate.
    expect(lettersAfterCopy).toBe(1);
    expect(firstReplay.map((o) => o.kind)).not.toEqual(['duplicate']);
  });
  it('a lost answer whose "unknown" write landed but was not acknowledged still leaves the pending marker (P2)', async () => {
    // Prepare: max_attempts 1; the first retry lands but its answer is lost, and the write that marks the chain
    // "unknown" lands while its answer is lost too (write-lost): markUnknown throws before it puts the pending marker.
    world = new World(
      { maxAttempts: 1, tasks: [{ desktops: 1, reason: 'retry' }], failUnlinkedRuns: true },
      async () => undefined,
    );
    emit(world, 'r1', 'plain');
    world.ws.armRetry('lose-502');
    // The writes before it: the looked-up chain, then the claim (one set: the chain, its pending marker and its
    // member item); then the "unknown" write.
    world.store.arm('write-lost', 1, 2);
    await deliver(
      world,
      world.source.visible().map((m) => world.source.receive(m)),
      'none',
    );
    // The fault met the "unknown" write (with a skip past it, the case would run with no fault at all).
    expect(world.store.faultsFired).toBe(1);
    expect(
      [...world.store.items.values()].some(
        (item) => isChain(item) && item.pk.endsWith('#record#r1') && item.state === 'unknown',
      ),
    ).toBe(true);
    world.store.disarm();
    // Act: the retry's run (r2, task t2) fails and is reported before anyone linked it.
    await refailUnlinkedAndDrain(world);
    // Assess: one retry in the chain of r1, as max_attempts says (the marker would have placed r2 in it).
    expect(p2AttemptsBounded(world)).toEqual([]);
  });
  it("a holder that dies after its retry landed does not get the original run retried again once the retry's own run has a chain (P1)", async () => {
    // Prepare: max_attempts 1; the first delivery dies right after Workspace accepted its retry (no settle, no marker).
    world = new World(
      { maxAttempts: 1, tasks: [{ desktops: 1, reason: 'retry' }], failUnlinkedRuns: true },
      async () => undefined,
    );
    emit(world, 'r1', 'plain');
    await deliver(
      world,
      world.source.visible().map((m) => world.source.receive(m)),
      'after-call',
    );
    // Act: the retry's run (r2, task t2) fails and is reported before the claim's lease ends (the known gap (b)):
    // it starts a chain of its own; then the lookup for r1's expired claim skips r2 as "owned elsewhere".
    const run = world.ws.rerunOf('r1')!;
    world.ws.fail(run, 'Script execution timed out');
    emit(world, run, 'plain');
    await launch(world, [{ kind: 'queue', picks: [1], crash: 'none' }]);
    await drain(world, now);
    // Assess: r1 was retried once (the docs promise "never retried twice" for this window).
    expect(p1OneRetryPerRun(world)).toEqual([]);
  });

  it.each(RETRY_READINGS)(
    'a holder whose lease was lost never gets a later failure of the run its retry started dropped (%s)',
    async (reading) => {
      // Prepare: the first delivery is held inside its retry call until its lease (and the skew allowance) has passed.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      world = new World(
        { maxAttempts: 3, tasks: [{ desktops: 1, reason: 'retry' }], failUnlinkedRuns: true, reading },
        async (label) => {
          if (label === 'queue#1 retry r1') await held;
        },
      );
      emit(world, 'r1', 'plain');
      emit(world, 'r1', 'sns');
      const [first, copy] = world.source.visible();
      const a = deliver(world, [world.source.receive(first!)], 'none');
      for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
      // Act: another delivery takes the expired claim over and retries; then the held call lands too, and its run
      // fails.
      world.advance(200);
      await deliver(world, [world.source.receive(copy!)], 'none');
      release();
      await a;
      const run = world.ws.rerunOf('r1')!;
      world.ws.fail(run, 'Script execution timed out');
      emit(world, run, 'record');
      await drain(world, now);
      // Assess: that run's failure was retried or dead-lettered, not taken for a duplicate of a run already handled.
      expect(world.outcomes.some((o) => o.kind === 'duplicate' && o.code === 'lease-lost')).toBe(true);
      expect(p3NothingLost(world)).toEqual([]);
    },
  );
});
