import { describe, expect, it } from 'vitest';
import { delayFor, delayPast, MAX_DELAY_SECONDS } from '../../lib/platform/queue-sender.js';

describe('SQS delays for a wait', () => {
  it.each([
    ['a wait under a second still waits a second', 1, 1],
    ['no wait at all still waits a second (SQS would deliver at once)', 0, 1],
    ['a wait is rounded up to whole seconds', 1_001, 2],
    ['a wait longer than SQS allows is cut to its maximum', 3_600_000, MAX_DELAY_SECONDS],
  ])('%s', (_, ms, seconds) => {
    expect(delayFor(ms)).toBe(seconds);
  });

  it('wakes a message a second past a lease end, never on it', () => {
    // Prepare: a lease that ends 10 s from now
    const now = 1_000_000;
    // Act + Assess
    expect(delayPast(now + 10_000, now)).toBe(11);
    expect(delayPast(now - 5_000, now)).toBe(1);
  });
});
