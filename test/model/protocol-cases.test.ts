import { describe, expect, it } from 'vitest';
import { CircuitBreakers } from '../../lib/workspace/circuit-breakers.js';
import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import { emit } from './commands.js';
import { ledgerConsistent, p2AttemptsBounded, p3NothingLost, p4ReplayDecidedAgain } from './invariants.js';
import { quietPipelineEachTest } from './quiet-pipeline.js';
import { refailUnlinkedAndDrain } from './refail.js';
import { deliver, drain, launch, replay } from './ways-in.js';
import { World } from './world.js';

/**
 * Counterexamples the model found, replayed step by step (no scheduler: each
 * call lands at once), so each stays as a regression test named after it.
 */

let world: World;
const now = <T>(p: Promise<T>) => p;
quietPipelineEachTest(() => world);

/** Delivers every visible message once, in one batch. */
async function deliverAll(): Promise<void> {
  await deliver(
    world,
    world.source.visible().map((m) => world.source.receive(m)),
    'none',
  );
}

async function openCircuit(): Promise<void> {
  const key = CircuitBreakers.keyFor('https://workspace.cn-north-4.model', 'MODELAK');
  for (let i = 0; i < world.config.breakerFailures; i++) {
    await world.breakers
      .execute(key, () => Promise.reject(new WorkspaceApiError({ status: 503, code: 'HTTP_503', message: 'down' })))
      .catch(() => undefined);
  }
}

describe('counterexamples found by the model', () => {
  it('a replayed dead letter that is deferred is still decided again when its re-enqueued copy comes back', async () => {
    // Prepare: a failure the policy gives up on, dead-lettered with its reason.
    world = new World({ maxAttempts: 1, tasks: [{ desktops: 1, reason: 'giveUp' }] }, async () => undefined);
    emit(world, 'r1', 'plain');
    await deliverAll();
    expect(world.dlq.messages.size).toBe(1);
    // Act: the operator replays it while Workspace's circuit is open, so the replay is deferred (re-enqueued).
    replay(world, 0);
    await openCircuit();
    await deliverAll();
    await drain(world, now);
    // Assess: the failure was decided again, and its dead letter is back on the DLQ with a reason.
    expect(p4ReplayDecidedAgain(world)).toEqual([]);
    expect(p3NothingLost(world)).toEqual([]);
  });

  it('a dead letter decided from a deferred replay reopens when it is replayed in turn', async () => {
    // Prepare: as above, the replay deferred once and dead-lettered again (that letter also carries the first
    // replay_of).
    world = new World({ maxAttempts: 1, tasks: [{ desktops: 1, reason: 'giveUp' }] }, async () => undefined);
    emit(world, 'r1', 'plain');
    await deliverAll();
    replay(world, 0);
    await openCircuit();
    await deliverAll();
    await drain(world, now);
    // Act: the operator replays the new dead letter.
    world.advance(60);
    replay(world, 0);
    await drain(world, now);
    // Assess
    expect(world.replays).toHaveLength(2);
    expect(p4ReplayDecidedAgain(world)).toEqual([]);
    expect(p3NothingLost(world)).toEqual([]);
  });

  it('a console retry whose outcome and lineage link could not be written is answered "invoke again", and asking again writes them', async () => {
    // Prepare: one failure; the ledger accepts the new chain and the claim, then refuses the settle's three tries
    // (its outcome and link go together).
    world = new World({ maxAttempts: 1, tasks: [{ desktops: 1, reason: 'retry' }] }, async () => undefined);
    world.store.arm('write', 3, 2);
    // Act: the operator retries it from the console (and asks again when told to: the drain does).
    await launch(world, [{ kind: 'console', pick: 0, force: false, byTask: false }]);
    await drain(world, now);
    // Assess: the faults fired; one retry, and the new task links back to the failure, so its own failure counts
    // against max_attempts.
    expect(world.store.faultsFired).toBe(3);
    expect(world.ws.applied.get('r1#0')).toBe(1);
    const chain = [...world.store.items.values()].find((item) => item['new_task_id'] !== undefined);
    expect(world.store.items.get(`${chain?.['project_id']}#task#${chain?.['new_task_id']}`)).toMatchObject({
      link_to: chain?.['pk'],
    });
    expect(ledgerConsistent(world)).toEqual([]);
  });

  it('a console dry run of a retried failure writes nothing, not even its link', async () => {
    // Prepare: r1 retried into t2.
    world = new World({ maxAttempts: 1, tasks: [{ desktops: 1, reason: 'retry' }] }, async () => undefined);
    emit(world, 'r1', 'plain');
    await deliverAll();
    // Act
    await launch(world, [{ kind: 'console', pick: 0, force: false, byTask: false, dryRun: true }]);
    // Assess
    expect(world.violations).toEqual([]);
  });

  it('a console dry run of a failure whose retry answer was lost asks Workspace and writes nothing', async () => {
    // Prepare: r1's retry landed but its answer was lost; the lease has ended.
    world = new World({ maxAttempts: 1, tasks: [{ desktops: 1, reason: 'retry' }] }, async () => undefined);
    emit(world, 'r1', 'plain');
    world.ws.armRetry('lose-TIMEOUT');
    await deliverAll();
    world.advance(901);
    // Act
    await launch(world, [{ kind: 'console', pick: 0, force: false, byTask: false, dryRun: true }]);
    // Assess
    expect(world.violations).toEqual([]);
  });

  // Known gap, left out of the property (MODEL_SHARED_DESKTOPS=true explores it): the lost-answer lookup knows runs
  // only by desktop, script and time.
  it('a claim whose holder died is not settled by another failure of the same script on the same desktop', async () => {
    // Prepare: two tasks ran script s1 on desktop d1 and both failed (r1 in t1, r2 in t2).
    world = new World(
      {
        maxAttempts: 1,
        tasks: [
          { desktops: 1, reason: 'retry' },
          { desktops: 1, reason: 'retry' },
        ],
        sharedDesktops: true,
      },
      async () => undefined,
    );
    emit(world, 'r1', 'plain');
    emit(world, 'r2', 'plain');
    // Act: r1's delivery claims and dies before calling; r2's is retried (r3, task t3); r1's message comes back after
    // its visibility timeout.
    await launch(world, [{ kind: 'queue', picks: [0], crash: 'before-call' }]);
    await launch(world, [{ kind: 'queue', picks: [0], crash: 'none' }]);
    await drain(world, now);
    // Assess: r1 was retried (today its lookup takes r2 or r3 for its own lost retry and settles without calling).
    expect(p3NothingLost(world)).toEqual([]);
  });

  // A run whose task the ledger has not linked yet (the retry's answer was lost) finds its chain through the pending
  // marker.
  it('a retried run that fails before its lost answer is resolved stays in its chain (max_attempts holds)', async () => {
    // Prepare: max_attempts 1; the first retry lands but its answer is lost.
    world = new World(
      { maxAttempts: 1, tasks: [{ desktops: 1, reason: 'retry' }], failUnlinkedRuns: true },
      async () => undefined,
    );
    emit(world, 'r1', 'plain');
    world.ws.armRetry('lose-502');
    await deliverAll();
    // Act: the retry's run (r2, task t2) fails and is seen before the chain of r1 learns of task t2.
    await refailUnlinkedAndDrain(world);
    // Assess: one retry in the chain of r1, as max_attempts says.
    expect(p2AttemptsBounded(world)).toEqual([]);
  });

  it("a copy of a failure whose lost retry ran in place is not taken for a failure of the retry's run still going", async () => {
    // Prepare: in place, max_attempts 1; the retry of r1 lands (r1 runs again) but its answer is lost. The event names
    // no start, so a delivery asks Workspace for the record's current run: the retry's, still running.
    world = new World(
      { reading: 'in-place', maxAttempts: 1, tasks: [{ desktops: 1, reason: 'retry' }], concurrency: 1 },
      async () => undefined,
    );
    emit(world, 'r1', 'plain');
    world.ws.armRetry('lose-502');
    await deliverAll();
    world.advance(721);
    // Act: two deliveries of the failure at once after the lease: one finds the lost retry landed and settles it, so
    // the other's write finds another revision and it locates the failure again.
    const [message] = world.source.visible();
    await launch(world, [
      { kind: 'queue', picks: [0], crash: 'none' },
      { kind: 'copy', crash: 'none' },
    ]);
    // Assess: the copy is the same failure, handled; the retry's run, still going, is not dead-lettered for it.
    expect(world.outcomes.filter((o) => o.messageId === message!.id).map((o) => o.kind)).toEqual([
      'retried',
      'duplicate',
    ]);
    expect(world.dlq.messages.size).toBe(0);
    // And when the retry's run fails, that failure is the one dead-lettered (max_attempts 1).
    world.advance(5);
    world.ws.fail('r1', 'Script execution timed out');
    emit(world, 'r1', 'plain');
    await drain(world, now);
    expect(p3NothingLost(world)).toEqual([]);
    expect(world.dlq.messages.size).toBe(1);
  });
});

describe('writes together that DynamoDB applied but answered as refused', () => {
  // A set whose first send (answer lost) is applied after the transport's next send of it was cancelled by another
  // transaction: the set sent again finds its own chain write refused. The memory store never answers so.
  it.each(['claim', 'outcome'] as const)(
    "a retry's %s applied but answered as refused retries the run once, and nothing is lost",
    async (which) => {
      // Prepare: one failure, sent twice; the first set of the kind (a claim carries the pending marker) lands and
      // is answered as refused at the chain's revision.
      world = new World(
        { maxAttempts: 2, tasks: [{ desktops: 1, reason: 'retry' }], failUnlinkedRuns: true },
        async () => undefined,
      );
      const writeTogether = world.store.writeTogether.bind(world.store);
      let left = 1;
      world.store.writeTogether = async (writes) => {
        const refused = await writeTogether(writes);
        const claim = writes.some((w) => w.kind === 'marker');
        if (left > 0 && refused.length === 0 && claim === (which === 'claim')) {
          left--;
          return [0];
        }
        return refused;
      };
      emit(world, 'r1', 'plain');
      emit(world, 'r1', 'sns');
      // Act
      await deliverAll();
      world.store.writeTogether = writeTogether;
      // (a claim answered as refused defers the failure: its retry is made once the claim's lease has ended)
      await drain(world, now);
      await refailUnlinkedAndDrain(world);
      // Assess
      expect(left).toBe(0);
      expect(world.ws.applied.get('r1#0')).toBe(1);
      expect(p2AttemptsBounded(world)).toEqual([]);
      expect(p3NothingLost(world)).toEqual([]);
      expect(ledgerConsistent(world)).toEqual([]);
    },
  );
});
