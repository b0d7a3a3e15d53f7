import { describe, expect, it } from 'vitest';
import { safetyMarginMs, tooLateToStart } from '../../lib/ways-in/time-budget.js';

describe('time kept in hand before starting a failure', () => {
  const config = { worstCaseCallMs: 21_000 };

  it('keeps the worst-case call plus 5 s of ledger writes and forwards', () => {
    expect(safetyMarginMs(config)).toBe(26_000);
  });

  it.each([
    ['exactly the margin left: may start', 26_000, false],
    ['a millisecond less: too late', 25_999, true],
    ['plenty left', 120_000, false],
  ])('%s', (_, remaining, late) => {
    expect(tooLateToStart({ config, remainingMs: () => remaining })).toBe(late);
  });

  it('a way in that does not know its time left (tests, the model) is never too late', () => {
    expect(tooLateToStart({ config })).toBe(false);
  });
});
