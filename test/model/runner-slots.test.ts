import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { processQueueBatch } from '../../lib/ways-in/queue-batch.js';
import { emit } from './commands.js';
import { allViolations } from './invariants.js';
import { quietPipelineEachTest } from './quiet-pipeline.js';
import { deliver } from './ways-in.js';
import { World } from './world.js';

/**
 * A record's place among the MAX_CONCURRENCY the runner runs at once
 * (lib/pipeline/runner.ts): the next records' ledger reads are made ahead,
 * their claims are made while the calls before them are out (when the lease
 * outlives the wait), and a record whose retry call was answered gives its
 * place to the next while its outcome is written. The calls of one
 * invocation wait at a gate the test opens, so what is in flight at once can
 * be counted.
 */

let world: World;
quietPipelineEachTest(() => world);

/** Lets every pending callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A gate that holds the calls whose label matches, until the test lets them through. */
function holding(match: RegExp): {
  gate: (label: string) => Promise<void>;
  held: Array<{ label: string; go: () => void }>;
} {
  const held: Array<{ label: string; go: () => void }> = [];
  const gate = (label: string) =>
    match.test(label) ? new Promise<void>((go) => held.push({ label, go })) : Promise.resolve();
  return { gate, held };
}

/**
 * Six failures of one task, one per desktop, as one batch (each event names its desktop, script and start: no lookup).
 */
function sixFailures(
  concurrency: number,
  gate: (label: string) => Promise<void>,
  options: { knowsNewTasks?: boolean } = {},
): Promise<void> {
  world = new World({ maxAttempts: 1, tasks: [{ desktops: 6, reason: 'retry' }], concurrency }, gate);
  // A container that has seen a retry answered with a new task looks up no record before its claim.
  if (options.knowsNewTasks) world.readings.learn(['new-task']);
  for (let i = 1; i <= 6; i++) emit(world, `r${i}`, 'record');
  return deliver(
    world,
    world.source.visible().map((m) => world.source.receive(m)),
    'none',
  );
}

describe("a record's place among MAX_CONCURRENCY", () => {
  it('never more than MAX_CONCURRENCY Workspace calls are in flight at once, and every failure is retried once', async () => {
    // Prepare: every Workspace call waits at the gate: the retries, and the record lookups before the first claims
    // (the container has not yet seen how Workspace answers a retry).
    const { gate, held } = holding(/ (retry|getRecord) /);
    let delivered = false;
    // Act: let the held calls through one at a time, counting how many wait together.
    const delivery = sixFailures(2, gate).then(() => (delivered = true));
    let most = 0;
    while (!delivered) {
      await settle();
      most = Math.max(most, held.length);
      held.shift()?.go();
    }
    await delivery;
    // Assess
    expect(most).toBe(2);
    expect([...world.ws.applied.values()]).toEqual([1, 1, 1, 1, 1, 1]);
    expect(allViolations(world)).toEqual([]);
  });

  it("the next record's retry call starts while the answered one's outcome is still being written", async () => {
    // Prepare: one at a time; the first chain's settle (its write at revision 1) waits at the gate.
    const { gate, held } = holding(/ write \S+#record#r1@1( \+|$)/);
    // Act
    const delivery = sixFailures(1, gate);
    while (held.length === 0) await settle();
    for (let i = 0; i < 20; i++) await settle();
    const callsMeanwhile = world.started[0]!.calls.filter((label) => label.startsWith('retry '));
    held.shift()!.go();
    await delivery;
    // Assess: while r1's outcome waited, the others' calls went out; in the end all six are retried and recorded.
    expect(callsMeanwhile.length).toBeGreaterThan(1);
    expect(world.outcomes.map((o) => o.kind)).toEqual(Array.from({ length: 6 }, () => 'retried'));
    expect(allViolations(world)).toEqual([]);
  });
});

/** Chains the ledger holds claimed now. */
const claimed = () => [...world.store.items.values()].filter((item) => item.state === 'claimed').length;

/**
 * Two failures of one task as one batch, one call at a time, their retry calls held at the gate; `remainingMs` is the
 * invocation's time left.
 */
function twoFailures(remainingMs: () => number) {
  const { gate, held } = holding(/ retry /);
  world = new World({ maxAttempts: 2, tasks: [{ desktops: 2, reason: 'retry' }], concurrency: 1 }, gate);
  world.readings.learn(['new-task']);
  emit(world, 'r1', 'record');
  emit(world, 'r2', 'record');
  const records: SQSRecord[] = world.source.visible().map((m) => world.source.receive(m));
  const invocation = world.invocation('queue', 'none');
  const response = processQueueBatch({ Records: records }, { ...world.deps(invocation), remainingMs });
  return { held, records, invocation, response };
}

/** The messages left on the queue, delivered again once their visibility timeout ends, their calls let through. */
async function redeliverAll(held: Array<{ go: () => void }>): Promise<void> {
  world.advance(720);
  let delivered = false;
  const again = world.source.visible().map((m) => world.source.receive(m));
  const delivery = deliver(world, again, 'none').then(() => (delivered = true));
  while (!delivered) {
    await settle();
    held.shift()?.go();
  }
  await delivery;
}

describe('claims made ahead of a free call place', () => {
  it('claims the records after the first MAX_CONCURRENCY while their calls are out, and sends no more calls than MAX_CONCURRENCY', async () => {
    // Prepare: every retry call waits at the gate; the container knows retries answer with new tasks.
    const { gate, held } = holding(/ retry /);
    let delivered = false;
    // Act: with two calls held, see what else is claimed; then let the calls through one at a time.
    const delivery = sixFailures(2, gate, { knowsNewTasks: true }).then(() => (delivered = true));
    while (held.length < 2) await settle();
    for (let i = 0; i < 20; i++) await settle();
    const claimedMeanwhile = claimed();
    const callsMeanwhile = held.length;
    while (!delivered) {
      await settle();
      held.shift()?.go();
    }
    await delivery;
    // Assess: two calls out, four chains claimed (the two calling and the next two), each failure retried once.
    expect(callsMeanwhile).toBe(2);
    expect(claimedMeanwhile).toBe(4);
    expect([...world.ws.applied.values()]).toEqual([1, 1, 1, 1, 1, 1]);
    expect(allViolations(world)).toEqual([]);
  });

  it('with the lease at its floor, claims no record before a call place is free for it', async () => {
    // Prepare: a lease too short to outlive a wait for a place and then the call.
    const { gate, held } = holding(/ retry /);
    world = new World(
      { maxAttempts: 1, tasks: [{ desktops: 6, reason: 'retry' }], concurrency: 2, leaseSeconds: 26 },
      gate,
    );
    for (let i = 1; i <= 6; i++) emit(world, `r${i}`, 'record');
    // Act
    const delivery = deliver(
      world,
      world.source.visible().map((m) => world.source.receive(m)),
      'none',
    );
    while (held.length < 2) await settle();
    for (let i = 0; i < 20; i++) await settle();
    const claimedMeanwhile = claimed();
    while (held.length > 0 || claimed() > 0) {
      held.shift()?.go();
      await settle();
    }
    await delivery;
    // Assess: only the two calling were claimed; all six retried once.
    expect(claimedMeanwhile).toBe(2);
    expect([...world.ws.applied.values()]).toEqual([1, 1, 1, 1, 1, 1]);
    expect(allViolations(world)).toEqual([]);
  });

  it('gives back, before its call and without counting it, a claim whose place came when less than a call was left of its lease; its next delivery retries it once', async () => {
    // Prepare: r1's call is held, and r2 is claimed meanwhile.
    const first = twoFailures(() => 900_000);
    while (first.held.length < 1 || claimed() < 2) await settle();
    // Act: r1's call takes 45 s (the lease is 60 s, a call may take 21 s); then r2's message comes again.
    world.advance(45);
    first.held.shift()!.go();
    expect((await first.response).batchItemFailures).toEqual([{ itemIdentifier: first.records[1]!.messageId }]);
    const r2 = world.outcomes.find((o) => o.messageId === first.records[1]!.messageId);
    const r2Chain = [...world.store.items.values()].find((item) => item.current_record === 'r2');
    await redeliverAll(first.held);
    // Assess: r2 was not called the first time, its attempt not counted; then retried once.
    expect(r2).toMatchObject({ kind: 'deferred', code: 'call-wait' });
    expect(r2?.reason).toMatch(/^call-wait: the claim waited for a call place until 15 s of its lease were left/);
    expect(first.invocation.calls.filter((label) => label.startsWith('retry '))).toEqual(['retry r1']);
    expect(r2Chain).toMatchObject({ state: 'open', attempts: 0 });
    expect(world.ws.applied.get(world.ws.runOf('r1'))).toBe(1);
    expect(world.ws.applied.get(world.ws.runOf('r2'))).toBe(1);
    expect(allViolations(world)).toEqual([]);
  });

  it("gives back, before its call, a claim whose place came too close to the invocation's end, and leaves it on the queue", async () => {
    // Prepare: plenty of time while r2 is claimed behind r1's held call.
    let remaining = 900_000;
    const first = twoFailures(() => remaining);
    while (first.held.length < 1 || claimed() < 2) await settle();
    // Act: the invocation's time runs short before r1's call is answered.
    remaining = 1_000;
    first.held.shift()!.go();
    const response = await first.response;
    // Assess: r1 retried; r2 left on the queue uncalled, its claim given back (open again, no attempt counted).
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: first.records[1]!.messageId }]);
    expect(world.outcomes.find((o) => o.messageId === first.records[1]!.messageId)).toMatchObject({
      kind: 'deferred',
      code: 'time-budget',
      reason:
        'time-budget: the invocation is about to time out; left for redelivery; the claim was given back before its call',
    });
    expect(first.invocation.calls.filter((label) => label.startsWith('retry '))).toEqual(['retry r1']);
    expect([...world.store.items.values()].find((item) => item.current_record === 'r2')).toMatchObject({
      state: 'open',
      attempts: 0,
    });
    await redeliverAll(first.held);
    expect(world.ws.applied.get(world.ws.runOf('r2'))).toBe(1);
    expect(allViolations(world)).toEqual([]);
  });
});
