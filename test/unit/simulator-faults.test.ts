import { describe, expect, it } from 'vitest';
import {
  AFTER_KINDS,
  BEFORE_KINDS,
  chooseFault,
  type PlannedFault,
  type RequestPosition,
} from '../../local/simulator-faults.js';
import { seededRandom } from '../helpers/random.js';

/** Which fault the simulator injects, and when (docs/workspace-api.md, "What the simulator models"). */

const never = () => 0.999_999;
const retryAt = (call: number, routeCall = call): RequestPosition => ({ route: 'retry', call, routeCall });
const listAt = (call: number, routeCall = call): RequestPosition => ({ route: 'list-records', call, routeCall });

describe('planned faults', () => {
  it('apply in order to the next requests, whatever the rates say', () => {
    // Prepare
    const plan: PlannedFault[] = [{ kind: '503' }, { kind: 'reset' }];
    // Act
    const first = chooseFault(retryAt(1), plan, {}, never);
    // Assess
    expect(first).toEqual({ timing: 'before', kind: '503', planned: 0 });
    expect(chooseFault(listAt(2), plan.slice(1), {}, never)).toEqual({ timing: 'before', kind: 'reset', planned: 0 });
  });

  it('puts every apply-then-lose kind after the state change and every other kind before it', () => {
    for (const kind of AFTER_KINDS) expect(chooseFault(retryAt(1), [{ kind }], {}, never)?.timing).toBe('after');
    for (const kind of BEFORE_KINDS) expect(chooseFault(listAt(1), [{ kind }], {}, never)?.timing).toBe('before');
  });

  it('keep an unpinned apply-then-lose fault for the next retry POST, letting reads through', () => {
    const plan: PlannedFault[] = [{ kind: 'stall-after' }];
    expect(chooseFault(listAt(1), plan, {}, never)).toBeUndefined();
    expect(chooseFault({ route: 'record-detail', call: 2, routeCall: 1 }, plan, {}, never)).toBeUndefined();
    expect(chooseFault(retryAt(3, 1), plan, {}, never)).toEqual({ timing: 'after', kind: 'stall-after', planned: 0 });
  });

  it('pinned to a call number fire on exactly that request', () => {
    const plan: PlannedFault[] = [{ kind: '429', call: 3 }];
    expect([1, 2, 3, 4].map((call) => chooseFault(listAt(call), plan, {}, never)?.kind)).toEqual([
      undefined,
      undefined,
      '429',
      undefined,
    ]);
  });

  it('pinned to a call of a route count only that route', () => {
    const plan: PlannedFault[] = [{ kind: 'reset-after', route: 'retry', call: 2 }];
    expect(chooseFault(listAt(2, 1), plan, {}, never)).toBeUndefined();
    expect(chooseFault(retryAt(3, 1), plan, {}, never)).toBeUndefined();
    expect(chooseFault(retryAt(5, 2), plan, {}, never)).toEqual({ timing: 'after', kind: 'reset-after', planned: 0 });
  });

  it('pinned to a call win over an unpinned one queued before them', () => {
    const plan: PlannedFault[] = [{ kind: '500' }, { kind: 'garbled-after', call: 1 }];
    expect(chooseFault(retryAt(1), plan, {}, never)).toEqual({ timing: 'after', kind: 'garbled-after', planned: 1 });
  });

  it('decide the same way on every run: a plan and a seed give one sequence', () => {
    const run = () => {
      const plan: PlannedFault[] = [
        { kind: '5xx-after', route: 'retry', call: 2 },
        { kind: '503', call: 4 },
      ];
      const random = seededRandom(7);
      return Array.from({ length: 6 }, (_, i) => {
        const decision = chooseFault(
          i % 2 === 0 ? listAt(i + 1, i / 2 + 1) : retryAt(i + 1, (i + 1) / 2),
          plan,
          { throttle429: 0.2 },
          random,
        );
        if (decision?.planned !== undefined) plan.splice(decision.planned, 1);
        return decision?.kind ?? '-';
      });
    };
    expect(run()).toEqual(run());
    expect(run()[3]).toBe('5xx-after');
  });
});

describe('random faults', () => {
  it('hit each kind in its share of requests, with one roll per request', () => {
    // Prepare
    const random = seededRandom(42);
    let rolls = 0;
    const counted = () => (rolls++, random());
    const counts = new Map<string, number>();
    // Act
    for (let call = 1; call <= 20_000; call++) {
      const kind =
        chooseFault(
          retryAt(call),
          [],
          { throttle429: 0.1, unavailable503: 0.05, stallAfter: 0.02, garbledAfter: 0.01 },
          counted,
        )?.kind ?? 'none';
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    }
    // Assess
    expect(rolls).toBe(20_000);
    expect(counts.get('429')! / 20_000).toBeCloseTo(0.1, 1);
    expect(counts.get('503')! / 20_000).toBeCloseTo(0.05, 1);
    expect(counts.get('stall-after')! / 20_000).toBeGreaterThan(0.015);
    expect(counts.get('stall-after')! / 20_000).toBeLessThan(0.025);
    expect(counts.get('garbled-after')! / 20_000).toBeGreaterThan(0.006);
  });

  it('never lose the answer of a read: apply-then-lose shares are shares of retry POSTs', () => {
    const rates = { stallAfter: 0.25, resetAfter: 0.25, garbledAfter: 0.25, error5xxAfter: 0.25 };
    expect(chooseFault(listAt(1), [], rates, () => 0.5)).toBeUndefined();
    expect(chooseFault(retryAt(1), [], rates, () => 0.5)).toEqual({ timing: 'after', kind: 'garbled-after' });
  });

  it('still roll once when a planned fault applies, so a seeded run does not shift', () => {
    let rolls = 0;
    chooseFault(retryAt(1), [{ kind: '503' }], {}, () => (rolls++, 0.5));
    expect(rolls).toBe(1);
  });
});
