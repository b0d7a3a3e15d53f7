import { describe, expect, it } from 'vitest';
import { emit } from './commands.js';
import { allViolations } from './invariants.js';
import { quietPipelineEachTest } from './quiet-pipeline.js';
import { deliver } from './ways-in.js';
import { World } from './world.js';

/**
 * A record's place among the MAX_CONCURRENCY the runner runs at once
 * (lib/pipeline/runner.ts): the next records' ledger reads are made ahead,
 * and a record whose retry call was answered gives its place to the next
 * while its outcome is written. The calls of one invocation wait at a gate
 * the test opens, so what is in flight at once can be counted.
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
function sixFailures(concurrency: number, gate: (label: string) => Promise<void>): Promise<void> {
  world = new World({ maxAttempts: 1, tasks: [{ desktops: 6, reason: 'retry' }], concurrency }, gate);
  for (let i = 1; i <= 6; i++) emit(world, `r${i}`, 'record');
  return deliver(
    world,
    world.source.visible().map((m) => world.source.receive(m)),
    'none',
  );
}

describe("a record's place among MAX_CONCURRENCY", () => {
  it('never more than MAX_CONCURRENCY retry calls are in flight at once, and every failure is retried once', async () => {
    // Prepare: every retry call waits at the gate.
    const { gate, held } = holding(/ retry /);
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
