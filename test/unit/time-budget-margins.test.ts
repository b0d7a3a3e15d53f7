import { describe, expect, it } from 'vitest';
import { worstCaseCallMs } from '../../lib/config/app-config.js';
import { loadSweepConfig } from '../../lib/config/sweep-config.js';

/**
 * A way in that starts a retry with less time left
 * than the worst-case call can be cut off by the Lambda timeout mid-call (the
 * holder dies: no "unknown", no marker), which test/model/break-cases.test.ts
 * shows can get the original run retried twice. The queue keeps
 * worstCaseCallMs + 5 s in hand; the sweep should keep at least as much.
 */
describe('time kept in hand before a retry call', () => {
  it('the sweep keeps at least the worst-case call plus the ledger writes in hand (defaults)', () => {
    // Prepare: the defaults (WORKSPACE_TIMEOUT_MS 3000, WORKSPACE_IN_CALL_RETRIES 1, SWEEP_SAFETY_SECONDS unset).
    const env = { SWEEP_PROJECTS: '[{"project_id":"0a1b2c3d4e5f60718293a4b5c6d7e8f9"}]' };
    // Act
    const sweep = loadSweepConfig(env, new Map());
    // Assess: 10 s is kept, a worst-case call takes 21 s.
    expect(sweep.safetyMarginMs).toBeGreaterThanOrEqual(worstCaseCallMs(3_000, 1) + 5_000);
  });
});
