import { describe, expect, it } from 'vitest';
import { isChain, pendingKey, recordKey } from '../../lib/ledger/chain.js';
import { RETRY_READINGS } from '../../local/workspace-state.js';
import { PROJECT_ID } from '../helpers/factories.js';
import { emit } from './commands.js';
import { p1OneRetryPerRun, p2AttemptsBounded, p3NothingLost } from './invariants.js';
import { quietPipelineEachTest } from './quiet-pipeline.js';
import { story } from './story.js';
import { deliver, drain } from './ways-in.js';
import { REASONS, World } from './world.js';

/**
 * Reads made ahead of a record's turn (lib/pipeline/runner.ts) that make a
 * promise fail, replayed step by step. Each break is `it.fails` while it
 * stands; the controls beside it are plain `it`.
 *
 * The mechanism (new-task): a read made ahead decides "a claim" also when it
 * found no chain that places the run, and then the claim is a write of the
 * run's own record item conditional on its absence. That condition guards the
 * record's own key only; it says nothing of the keys that lead to another
 * chain. Docs/ledger-protocol.md argues those exist before the event does
 * (the pending marker is written with the claim), so a read made ahead misses
 * only the link a settle writes meanwhile. But the pending marker of a
 * desktop and script keeps MARKER_RECENT entries and, once full, only the
 * newest four, duplicates included (lib/ledger/store.ts putMarker): one
 * neighbour whose calls Workspace throttles, claimed again after each, and one
 * more claim push a chain off it. Under new-task the retry's run then has no
 * key leading to its chain but the link (no task marker names its new task,
 * its record is new). A run read ahead before its chain's settle, decided
 * after it, starts a chain of its own although the link is there at its turn:
 * its lineage gets a budget of its own (P2), and a copy of its event read at
 * its turn finds the true chain through the link and retries the same run
 * again (P1). The same marker loss breaks P1 and P2 with no read made ahead
 * when the chain's answer was lost (no link until the lookup), and the lookup
 * then leaves the run to the chain it started and retries the original run.
 * Under original-task (the task marker of the retried run's task) and
 * in-place (the record's own item) the run has another key, and the cases
 * below hold.
 */

let world: World;
const now = <T>(p: Promise<T>) => p;
quietPipelineEachTest(() => world);

/** Lets every pending callback run. */
const settle = async (rounds = 30) => {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

/** The visible messages whose body names `recordId`, received. */
function receive(recordId: string) {
  const names = (body: string) => body.includes(`"${recordId}"`) || body.includes(`\\"${recordId}\\"`);
  return world.source
    .visible()
    .filter((m) => names(m.body))
    .map((m) => world.source.receive(m));
}

/**
 * A gate that holds r1's settle (the chain's write at revision 1 and its new task's link: queue#1's writes after its
 * call) and r4's retry call, until released.
 */
function holdingGate() {
  const held: Array<{ label: string; go: () => void }> = [];
  const holding = { settle: true, r4Call: true };
  const isSettle = (label: string) =>
    label.startsWith('queue#1 ') && / write \S+#(record#r1@1|task#\S+@undefined)$/.test(label);
  const isR4Call = (label: string) => / retry r4$/.test(label);
  const gate = (label: string) =>
    (holding.settle && isSettle(label)) || (holding.r4Call && isR4Call(label))
      ? new Promise<void>((go) => held.push({ label, go }))
      : Promise.resolve();
  const release = (which: 'settle' | 'r4Call') => {
    holding[which] = false;
    const test = which === 'settle' ? isSettle : isR4Call;
    for (const h of held.filter((h) => test(h.label))) h.go();
  };
  return { gate, held, release, isR4Call };
}

/**
 * Two other failures of s1 on d1 are claimed after r1's chain: r2 `r2Claims` times (Workspace throttles all its calls
 * but the last: each claim is given back and taken again, and each puts r2's chain on the pending marker of d1/s1
 * again), then r3. The marker is then full (MARKER_RECENT entries with r1's), and keeps its newest four: r3's chain and
 * r2's three times. It no longer names r1's chain.
 */
async function crowdTheMarker(r2Claims: number): Promise<void> {
  for (let i = 1; i < r2Claims; i++) world.ws.armRetry('before-503');
  for (let i = 0; i < r2Claims; i++) {
    world.advance(100);
    await deliver(world, receive('r2'), 'none');
  }
  world.advance(1);
  await deliver(world, receive('r3'), 'none');
  const marker = world.store.items.get(pendingKey(PROJECT_ID, 'd1', 's1'));
  expect(marker?.['recent']).toEqual(['r3', 'r2', 'r2', 'r2'].map((r) => recordKey(PROJECT_ID, r)));
  expect([world.ws.applied.get('r2#0'), world.ws.applied.get('r3#0')]).toEqual([1, 1]);
}

/**
 * r1..r4 (tasks t1..t4) ran script s1 on desktop d1 and failed; max_attempts 1 (or as given), MAX_CONCURRENCY 1.
 * r1's retry is accepted (its run: a new record in a new task) and its settle waits; meanwhile the pending marker of
 * d1/s1 is crowded and no longer names r1's chain (crowdTheMarker). Then r1's retry's run fails and its event (with
 * its task, desktop, script and start) is queued. Returns that run's record and the promise of r1's delivery.
 */
async function r1OffTheMarkerAndUnlinked(
  gate: (label: string) => Promise<void>,
  held: readonly unknown[],
  maxAttempts = 1,
) {
  world = new World(
    {
      maxAttempts,
      tasks: Array.from({ length: 4 }, () => ({ desktops: 1, reason: 'retry' as const })),
      sharedDesktops: true,
      reading: 'new-task',
      concurrency: 1,
    },
    gate,
  );
  for (const r of ['r1', 'r2', 'r3', 'r4']) emit(world, r, 'record');
  world.advance(5);
  const first = deliver(world, receive('r1'), 'none');
  while (held.length < 2) await settle(1);
  // r1's claim put its chain on the marker once: r2 is claimed seven times.
  await crowdTheMarker(7);
  const ownRun = world.ws.rerunOf('r1')!;
  world.advance(5);
  world.ws.fail(ownRun, REASONS.retry);
  emit(world, ownRun, 'record');
  return { ownRun, first };
}

describe('reads made ahead that break a promise', () => {
  it.fails("P2 (new-task): a retry's own run, read ahead while its chain is off a full pending marker and not yet linked, starts a budget of its own although the link is written before its turn", async () => {
    // Prepare: r1's retry landed, its settle waits, the pending marker no longer names r1's chain, and the retry's
    // run failed (reported with its task, desktop, script and start).
    const { gate, held, release, isR4Call } = holdingGate();
    const { ownRun, first } = await r1OffTheMarkerAndUnlinked(gate, held);
    // Act: one batch [r4, the run's failure]: r4 goes first and its call waits; the run's reads are made ahead
    // meanwhile. Then r1's settle lands (chain retried, link of its new task written), then r4's call.
    const late = deliver(world, [...receive('r4'), ...receive(ownRun)], 'none');
    while (!held.some((h) => isR4Call(h.label))) await settle(1);
    await settle();
    release('settle');
    await first;
    const chain = world.store.items.get(recordKey(PROJECT_ID, 'r1'));
    expect(isChain(chain) && chain.state).toBe('retried');
    release('r4Call');
    await late;
    await drain(world, now);
    // Assess: r1's lineage got one retry, as max_attempts says: its run's failure was decided in r1's chain (today
    // the run is its own chain's root and is retried too).
    expect(p2AttemptsBounded(world), story(world)).toEqual([]);
  });

  it.fails("P1 (new-task): the same run, read ahead off a full pending marker and retried as its own chain's root, is retried again in its true chain when a copy of its event is read at its turn", async () => {
    // Prepare: as above, with max_attempts 3; the run's failure is also sent in a second envelope (SNS).
    const { gate, held, release, isR4Call } = holdingGate();
    const { ownRun, first } = await r1OffTheMarkerAndUnlinked(gate, held, 3);
    const [inBatch] = receive(ownRun);
    emit(world, ownRun, 'sns');
    // Act: the batch [r4, the run's failure] as above (its reads made ahead, r1's settle landing before its turn);
    // then the copy in its own batch, read at its turn.
    const late = deliver(world, [...receive('r4'), inBatch!], 'none');
    while (!held.some((h) => isR4Call(h.label))) await settle(1);
    await settle();
    release('settle');
    await first;
    release('r4Call');
    await late;
    await deliver(world, receive(ownRun), 'none');
    await drain(world, now);
    // Assess: Workspace applied one retry to the run (today two: one from the chain the run started as its root, one
    // from r1's chain, which the copy found through the link).
    expect(p1OneRetryPerRun(world), story(world)).toEqual([]);
  });

  it("control: the same run's failure read at its turn, after r1's settle, is decided in r1's chain", async () => {
    // Prepare: as above.
    const { gate, held, release } = holdingGate();
    const { ownRun, first } = await r1OffTheMarkerAndUnlinked(gate, held);
    // Act: r1's settle lands before the run's batch starts, so its reads (made ahead or not) see the link.
    release('settle');
    await first;
    release('r4Call');
    await deliver(world, [...receive('r4'), ...receive(ownRun)], 'none');
    await drain(world, now);
    // Assess
    expect(p2AttemptsBounded(world), story(world)).toEqual([]);
  });

  // The same window without reads made ahead, for comparison: the run's failure decided while r1's settle is still
  // being written (between the retry's answer and its link: milliseconds; reads made ahead widen it to the batch).
  it.fails("P2 (new-task), without reads ahead: a retry's own run decided between its answer and its link, its chain off a full pending marker, starts a budget of its own", async () => {
    const { gate, held, release } = holdingGate();
    const { ownRun, first } = await r1OffTheMarkerAndUnlinked(gate, held);
    await deliver(world, receive(ownRun), 'none');
    release('settle');
    release('r4Call');
    await first;
    await drain(world, now);
    expect(p2AttemptsBounded(world), story(world)).toEqual([]);
  });
});

// The root of the breaks above, without reads made ahead: once other chains of the same desktop and script have
// claimed after it often enough, a full pending marker (MARKER_RECENT) keeps only their keys, and a chain whose retry's answer was
// lost has no other key that leads its retry's run to it (new-task: no link until the lookup, no task marker).
describe('a full pending marker drops a chain whose retry is unresolved (no reads made ahead)', () => {
  it.fails("P1 and P2 (new-task): a lost answer's own run, reported before the lookup, starts a chain of its own; the lookup then leaves it to that chain and the original run is retried again", async () => {
    // Prepare: r1..r3 ran s1 on d1 and failed; max_attempts 1. r1's retry lands and its answer is lost (chain
    // unknown); then the pending marker of d1/s1 is crowded (crowdTheMarker).
    world = new World(
      {
        maxAttempts: 1,
        tasks: Array.from({ length: 3 }, () => ({ desktops: 1, reason: 'retry' as const })),
        sharedDesktops: true,
        reading: 'new-task',
      },
      async () => undefined,
    );
    for (const r of ['r1', 'r2', 'r3']) emit(world, r, 'record');
    world.advance(5);
    world.ws.armRetry('lose-502');
    await deliver(world, receive('r1'), 'none');
    // r1's claim and its unknown outcome put its chain on the marker twice: r2 is claimed six times.
    await crowdTheMarker(6);
    // Act: the run r1's lost retry started fails and is reported (with its task, desktop, script and start), one
    // event in a batch of its own; then everything drains (r1's lookup comes after).
    const ownRun = world.ws.rerunOf('r1')!;
    world.ws.fail(ownRun, REASONS.retry);
    emit(world, ownRun, 'record');
    await deliver(world, receive(ownRun), 'none');
    await drain(world, now);
    // Assess: r1 retried once, its lineage once (today r1 is retried twice and its lineage three times).
    expect([...p1OneRetryPerRun(world), ...p2AttemptsBounded(world)], story(world)).toEqual([]);
  });
});

describe('reads made ahead that hold', () => {
  it.each(RETRY_READINGS)(
    "a retry's own run read ahead before its chain's settle, and decided after it, is its chain's next run while the pending marker names the chain (%s)",
    async (reading) => {
      // Prepare: r1 (d1) and r2 (d2) failed; max_attempts 1, MAX_CONCURRENCY 1. r1's retry is accepted and its settle
      // (chain and link) waits; the run it started fails and is reported with its task, desktop, script and start.
      const held: Array<{ label: string; go: () => void }> = [];
      const holding = { settle: true, r2Call: true };
      const isSettle = (label: string) =>
        label.startsWith('queue#1 ') && / write \S+#(record#r1@1|task#\S+@undefined)$/.test(label);
      const isR2Call = (label: string) => / retry r2$/.test(label);
      world = new World(
        { maxAttempts: 1, tasks: [{ desktops: 2, reason: 'retry' }], reading, concurrency: 1 },
        (label) =>
          (holding.settle && isSettle(label)) || (holding.r2Call && isR2Call(label))
            ? new Promise<void>((go) => held.push({ label, go }))
            : Promise.resolve(),
      );
      emit(world, 'r1', 'record');
      emit(world, 'r2', 'record');
      world.advance(5);
      const first = deliver(world, receive('r1'), 'none');
      while (held.length === 0) await settle(1);
      await settle();
      const ownRun = world.ws.rerunOf('r1')!;
      world.advance(5);
      world.ws.fail(ownRun, REASONS.retry);
      emit(world, ownRun, 'record');
      // Act: one batch [r2, the run's failure]: r2's call waits while the run's reads are made ahead; then r1's settle
      // lands, then r2's call.
      const late = deliver(world, [...receive('r2'), ...receive(ownRun)].slice(0, 2), 'none');
      while (!held.some((h) => isR2Call(h.label))) await settle(1);
      await settle();
      holding.settle = false;
      for (const h of held.filter((h) => isSettle(h.label))) h.go();
      await first;
      holding.r2Call = false;
      held.find((h) => isR2Call(h.label))!.go();
      await late;
      await drain(world, now);
      // Assess: r1's lineage got one retry; the run's failure was dead-lettered in r1's chain.
      expect(world.dlq.messages.size).toBe(1);
      expect([...p1OneRetryPerRun(world), ...p2AttemptsBounded(world), ...p3NothingLost(world)], story(world)).toEqual(
        [],
      );
    },
  );
});
