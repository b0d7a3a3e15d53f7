import { describe, expect, it } from 'vitest';
import { isChain, markerChains, pendingKey, recordKey } from '../../lib/ledger/chain.js';
import { MARKER_KEPT, MARKER_RECENT } from '../../lib/ledger/store.js';
import { RETRY_READINGS } from '../../local/workspace-state.js';
import { PROJECT_ID } from '../helpers/factories.js';
import { emit } from './commands.js';
import { p1OneRetryPerRun, p2AttemptsBounded, p3NothingLost } from './invariants.js';
import { quietPipelineEachTest } from './quiet-pipeline.js';
import { story } from './story.js';
import { deliver, drain } from './ways-in.js';
import { REASONS, World } from './world.js';

/**
 * A retry's own run under new-task, reported before its chain's link is
 * written (reads made ahead of its turn, or a retry whose answer was lost),
 * while other failures of the same script on the same desktop crowd the
 * pending marker. Under new-task the marker is the only key that leads such a
 * run to its chain until the link is written (no task marker names the new
 * task, the record is new), so the marker must not drop the chain: a full
 * marker keeps each chain once, the newest MARKER_KEPT, and a prune never
 * loses a claim that lands meanwhile (lib/ledger/store.ts putMarker;
 * docs/ledger-protocol.md, "Pending markers"). The window that remains (more
 * than MARKER_KEPT other chains claimed on one desktop and script before the
 * chain's answer is linked) is kept as `it.fails`.
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
 * A gate that holds r1's settle (the chain's write at revision 1 with its new task's link, one call: queue#1's write
 * after its call) and r4's retry call, until released.
 */
function holdingGate() {
  const held: Array<{ label: string; go: () => void }> = [];
  const holding = { settle: true, r4Call: true };
  const isSettle = (label: string) =>
    label.startsWith('queue#1 ') && / write \S+#(record#r1@1|task#\S+@undefined)( \+|$)/.test(label);
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
 * Other failures of s1 on d1 are claimed after r1's chain: r2 `r2Claims` times (Workspace throttles all its calls but
 * the last: each claim is given back and taken again, and each puts r2's chain on the pending marker of d1/s1 again),
 * then each of `others` once. Returns the chains the marker names then.
 */
async function crowdTheMarker(r2Claims: number, others: readonly string[] = ['r3']): Promise<string[]> {
  for (let i = 1; i < r2Claims; i++) world.ws.armRetry('before-503');
  for (let i = 0; i < r2Claims; i++) {
    world.advance(100);
    await deliver(world, receive('r2'), 'none');
  }
  for (const other of others) {
    world.advance(1);
    await deliver(world, receive(other), 'none');
  }
  expect(['r2', ...others].map((r) => world.ws.applied.get(`${r}#0`))).toEqual(['r2', ...others].map(() => 1));
  return markerChains(world.store.items.get(pendingKey(PROJECT_ID, 'd1', 's1')));
}

/** More claims than a full marker holds entries: it is pruned at least once. */
const OVER_A_FULL_MARKER = MARKER_RECENT + 2;

/**
 * r1..r4 (tasks t1..t4) ran script s1 on desktop d1 and failed; max_attempts 1 (or as given), MAX_CONCURRENCY 1.
 * r1's retry is accepted (its run: a new record in a new task) and its settle waits; meanwhile the pending marker of
 * d1/s1 is crowded past full (crowdTheMarker) and still names r1's chain. Then r1's retry's run fails and its event
 * (with its task, desktop, script and start) is queued. Returns that run's record and the promise of r1's delivery.
 */
async function r1CrowdedAndUnlinked(gate: (label: string) => Promise<void>, held: readonly unknown[], maxAttempts = 1) {
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
  while (held.length < 1) await settle(1);
  expect(await crowdTheMarker(OVER_A_FULL_MARKER)).toContain(recordKey(PROJECT_ID, 'r1'));
  const ownRun = world.ws.rerunOf('r1')!;
  world.advance(5);
  world.ws.fail(ownRun, REASONS.retry);
  emit(world, ownRun, 'record');
  return { ownRun, first };
}

describe("a retry's own run read ahead of its chain's link, its marker crowded", () => {
  it("P2 (new-task): read ahead before the link, decided after it, it is its chain's next run: no budget of its own", async () => {
    // Prepare: r1's retry landed, its settle waits, the pending marker of d1/s1 is crowded past full, and the retry's
    // run failed (reported with its task, desktop, script and start).
    const { gate, held, release, isR4Call } = holdingGate();
    const { ownRun, first } = await r1CrowdedAndUnlinked(gate, held);
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
    // Assess: r1's lineage got one retry, as max_attempts says: its run's failure was decided in r1's chain.
    expect(p2AttemptsBounded(world), story(world)).toEqual([]);
  });

  it('P1 (new-task): the same run, read ahead, and a copy of its event read at its turn are retried once between them', async () => {
    // Prepare: as above, with max_attempts 3; the run's failure is also sent in a second envelope (SNS).
    const { gate, held, release, isR4Call } = holdingGate();
    const { ownRun, first } = await r1CrowdedAndUnlinked(gate, held, 3);
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
    // Assess: Workspace applied one retry to the run, whichever copy found r1's chain first.
    expect(p1OneRetryPerRun(world), story(world)).toEqual([]);
  });

  it("control: the same run's failure read at its turn, after r1's settle, is decided in r1's chain", async () => {
    // Prepare: as above.
    const { gate, held, release } = holdingGate();
    const { ownRun, first } = await r1CrowdedAndUnlinked(gate, held);
    // Act: r1's settle lands before the run's batch starts, so its reads (made ahead or not) see the link.
    release('settle');
    await first;
    release('r4Call');
    await deliver(world, [...receive('r4'), ...receive(ownRun)], 'none');
    await drain(world, now);
    // Assess
    expect(p2AttemptsBounded(world), story(world)).toEqual([]);
  });

  // The same without reads made ahead: the run's failure decided while r1's settle is still being written (between the
  // retry's answer and its link).
  it("P2 (new-task), without reads ahead: decided between its chain's answer and its link, it is its chain's next run", async () => {
    const { gate, held, release } = holdingGate();
    const { ownRun, first } = await r1CrowdedAndUnlinked(gate, held);
    await deliver(world, receive(ownRun), 'none');
    release('settle');
    release('r4Call');
    await first;
    await drain(world, now);
    expect(p2AttemptsBounded(world), story(world)).toEqual([]);
  });
});

/**
 * r1..r`n` ran s1 on d1 and failed; max_attempts 1. r1's retry lands and its answer is lost (chain unknown: no link
 * until the lookup); then the pending marker of d1/s1 is crowded (crowdTheMarker), and the run r1's lost retry started
 * fails and is reported (with its task, desktop, script and start), one event in a batch of its own, before r1's
 * lookup. Returns the chains the marker named when the run was reported.
 */
async function lostAnswerThenCrowded(tasks: number, r2Claims: number, others: readonly string[]): Promise<string[]> {
  world = new World(
    {
      maxAttempts: 1,
      tasks: Array.from({ length: tasks }, () => ({ desktops: 1, reason: 'retry' as const })),
      sharedDesktops: true,
      reading: 'new-task',
    },
    async () => undefined,
  );
  for (let i = 1; i <= tasks; i++) emit(world, `r${i}`, 'record');
  world.advance(5);
  world.ws.armRetry('lose-502');
  await deliver(world, receive('r1'), 'none');
  const named = await crowdTheMarker(r2Claims, others);
  const ownRun = world.ws.rerunOf('r1')!;
  world.ws.fail(ownRun, REASONS.retry);
  emit(world, ownRun, 'record');
  await deliver(world, receive(ownRun), 'none');
  await drain(world, now);
  return named;
}

// Without reads made ahead: a chain whose retry's answer was lost has no key but the pending marker that leads its
// retry's run to it (new-task), until its lookup.
describe("a lost answer's chain on a crowded pending marker (no reads made ahead)", () => {
  it('P1 and P2 (new-task): a neighbour claimed again and again does not push it off: its run, reported before the lookup, is its next run, and the original run is retried once', async () => {
    // Act
    const named = await lostAnswerThenCrowded(3, OVER_A_FULL_MARKER, ['r3']);
    // Assess: r1 retried once, its lineage once.
    expect(named).toContain(recordKey(PROJECT_ID, 'r1'));
    expect([...p1OneRetryPerRun(world), ...p2AttemptsBounded(world)], story(world)).toEqual([]);
  });

  // The window docs/ledger-protocol.md keeps ("Pending markers"): MARKER_KEPT other chains claimed on the same
  // desktop and script after it, before its lookup, push it off a full marker.
  it.fails('P1 and P2 (new-task): pushed off by MARKER_KEPT other chains claimed after it, its run starts a chain of its own and the original run is retried again', async () => {
    // Prepare: r2 claimed often enough to fill the marker, then MARKER_KEPT other failures once each.
    const others = Array.from({ length: MARKER_KEPT }, (_, i) => `r${i + 3}`);
    // Act
    const named = await lostAnswerThenCrowded(MARKER_KEPT + 2, MARKER_RECENT - MARKER_KEPT, others);
    // Assess
    expect(named).not.toContain(recordKey(PROJECT_ID, 'r1'));
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
        label.startsWith('queue#1 ') && / write \S+#(record#r1@1|task#\S+@undefined)( \+|$)/.test(label);
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
