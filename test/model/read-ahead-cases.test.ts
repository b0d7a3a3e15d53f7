import { describe, expect, it } from 'vitest';
import { RETRY_READINGS } from '../../local/workspace-state.js';
import { emit } from './commands.js';
import { allViolations } from './invariants.js';
import { quietPipelineEachTest } from './quiet-pipeline.js';
import { deliver } from './ways-in.js';
import { World } from './world.js';

/**
 * Reads made ahead of a record's turn (lib/pipeline/runner.ts) that are old
 * by the time the record is decided: a chain read while another delivery
 * held its claim, settled by that delivery, and judged after the claim's
 * lease and the clock skew allowed. Such a chain decides a claim or a
 * duplicate only; anything else is judged on a fresh read
 * (docs/ledger-protocol.md, "Reads made ahead").
 */

let world: World;
quietPipelineEachTest(() => world);

/** Lets every pending callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Lease (26 s here) and clock skew (120 s) of the model's configuration, and some. */
const PAST_LEASE_AND_SKEW_SECONDS = 200;

describe("a chain read ahead is old by the record's turn", () => {
  it.each(RETRY_READINGS)(
    'a claim read ahead while live, settled before the turn and judged past its lease, is read again: a duplicate, and no lost answer is looked for (%s)',
    async (reading) => {
      // Prepare: every retry call waits at the gate; r1 is reported twice, r2 once; one record at a time, and its
      // claim made only with a call place free (the lease at its floor): the copy's turn comes after r2's call.
      const held: Array<() => void> = [];
      const gate = (label: string) =>
        / retry /.test(label) ? new Promise<void>((go) => held.push(go)) : Promise.resolve();
      world = new World(
        { maxAttempts: 3, tasks: [{ desktops: 2, reason: 'retry' }], concurrency: 1, leaseSeconds: 26, reading },
        gate,
      );
      emit(world, 'r1', 'record');
      emit(world, 'r1', 'record');
      emit(world, 'r2', 'record');
      const [first, copy, other] = world.source.visible();
      // One delivery claims r1 and its retry call waits.
      const holder = deliver(world, [world.source.receive(first!)], 'none');
      while (held.length < 1) await settle();
      // Another gets r2 then the copy of r1: r2's call waits, and r1's reads are made ahead meanwhile (the live claim).
      const late = deliver(world, [world.source.receive(other!), world.source.receive(copy!)], 'none');
      while (held.length < 2) await settle();
      for (let i = 0; i < 20; i++) await settle();
      // Act: the holder's call is answered and settled; the copy's turn comes well past the lease.
      held.shift()!();
      await holder;
      world.advance(PAST_LEASE_AND_SKEW_SECONDS);
      held.shift()!();
      await late;
      // Assess: r1 retried once, its copy a duplicate, and the late delivery never asked Workspace for a lost answer.
      const lateCalls = world.started[1]!.calls;
      expect(lateCalls.filter((label) => label.startsWith('list ') || label === 'getRecord r1')).toEqual([]);
      expect(world.ws.applied.get('r1#0')).toBe(1);
      expect(world.outcomes.find((o) => o.messageId === copy!.id)?.kind).toBe('duplicate');
      expect(allViolations(world)).toEqual([]);
    },
  );
});
