import { describe, expect, it } from 'vitest';
import { exponentialCeiling, inCallBackoff, redeliverySeconds, stableJitter } from '../../lib/platform/backoff.js';

const POLICY = { backoffBaseSeconds: 60, backoffMaxSeconds: 3600 };

/** One wait of the in-call backoff for try `attempt`, after a failure with this error. */
function inCallWait(options: { random: () => number; retryAfterMs?: number }, attempt: number): number {
  const backoff = inCallBackoff({
    baseMs: 100,
    capMs: 1_000,
    random: options.random,
    retryAfterMs: () => options.retryAfterMs ?? 0,
  });
  return backoff.next({ attempt, result: { error: new Error('busy') }, signal: new AbortController().signal }).duration;
}

describe('backoff', () => {
  it.each([
    [0, 100],
    [1, 200],
    [3, 800],
    [4, 1_000],
    [-1, 100],
  ])('grows the ceiling of try %i exponentially up to the cap (%i)', (attempt, ceiling) => {
    expect(exponentialCeiling(attempt, 100, 1_000)).toBe(ceiling);
  });

  it('gives a failure the same jitter and the same delay on every redelivery, and another failure another one', () => {
    // Prepare
    const key = 'p1#record#r1';

    // Act
    const first = [stableJitter(key, 2), redeliverySeconds(key, 2, POLICY)];
    const again = [stableJitter(key, 2), redeliverySeconds(key, 2, POLICY)];

    // Assess
    expect(again).toEqual(first);
    expect(first[0]).toBeGreaterThanOrEqual(0);
    expect(first[0]).toBeLessThan(1);
    expect(stableJitter('p1#record#r2', 2)).not.toBe(first[0]);
    expect(stableJitter(key, 3)).not.toBe(first[0]);
    // Equal jitter after 2 attempts: between half and all of min(3600, 60 × 2).
    expect(first[1]).toBeGreaterThanOrEqual(60);
    expect(first[1]).toBeLessThanOrEqual(120);
  });

  it('waits a full-jitter share of the ceiling inside a call, by the random it is given', () => {
    expect(inCallWait({ random: () => 0.5 }, 1)).toBe(50);
    expect(inCallWait({ random: () => 0.5 }, 3)).toBe(200);
    expect(inCallWait({ random: () => 0 }, 1)).toBe(0);
  });

  it('waits at least what Retry-After asked for inside a call, but never beyond the cap', () => {
    expect(inCallWait({ random: () => 0, retryAfterMs: 700 }, 1)).toBe(700);
    expect(inCallWait({ random: () => 0.99, retryAfterMs: 10 }, 1)).toBe(99);
    expect(inCallWait({ random: () => 0, retryAfterMs: 5_000 }, 1)).toBe(1_000);
  });
});
