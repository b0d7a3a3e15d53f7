import { describe, expect, it } from 'vitest';
import { type Evidence, verdictOf } from '../../ops/reading-check.js';

/** What one retry's evidence says about Workspace's reading (ops/reading-check.ts), without a wire. */

const record = { id: 'r1', script_task_id: 't1', start_time: '2026-11-29T10:00:00Z', status: 'FAILED' };
const evidence = (over: Partial<Evidence>): Evidence => ({
  record,
  answeredTask: 't1',
  recordAfter: record,
  before: { current: ['r1@2026-11-29T10:00:00Z'], history: ['r1@2026-11-29T10:00:00Z'] },
  after: { current: ['r1@2026-11-29T10:00:00Z'], history: ['r1@2026-11-29T10:00:00Z'] },
  ...over,
});

describe('the verdict of one retry', () => {
  it("is undetermined while the retry's run is not listed and the record did not run again", () => {
    expect(verdictOf(evidence({})).verdict).toBe('undetermined');
    expect(verdictOf(evidence({ answeredTask: 't9' })).verdict).toBe('undetermined');
  });

  it('is undetermined when a new task is answered but the record itself ran again', () => {
    expect(
      verdictOf(evidence({ answeredTask: 't9', recordAfter: { ...record, start_time: '2026-11-29T10:05:00Z' } }))
        .verdict,
    ).toBe('undetermined');
  });

  it('says whether the retried run went to history', () => {
    const after = {
      current: ['r2@2026-11-29T10:05:00Z'],
      history: ['r1@2026-11-29T10:00:00Z', 'r2@2026-11-29T10:05:00Z'],
    };
    expect(verdictOf(evidence({ after }))).toMatchObject({ verdict: 'original-task', supersededHidden: true });
  });
});
