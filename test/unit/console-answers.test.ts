import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../lib/pipeline/dead-letter.js';
import { syntheticSource, type Settling } from '../../lib/pipeline/settlement.js';
import { consoleAnswer } from '../../lib/ways-in/manual.js';

/** Which of the pipeline's dead letters the console answers instead (lib/ways-in/manual.ts, consoleAnswer). */
const settling = (letter: Partial<DeadLetter>): Settling => ({
  source: syntheticSource('manual:p:r', {}),
  firstSeenAt: 0,
  resolution: { kind: 'dead-letter', letter: { reason: 'x', errorCode: 'E', attempts: 0, firstSeenAt: 0, decidedAt: 0, ...letter } },
});

describe('the console\'s own answers', () => {
  it.each([
    ['a 404 on a lookup', { reason: 'workspace-refused: 404 WKS.00210404 (X-Request-Id r1) while looking up record#r', ruleId: 'lookup-refused' }, 'not-found'],
    ['a 404 on the retry', { reason: 'workspace-refused: 404 WKS.00210404 (X-Request-Id r2)', ruleId: 'manual-request' }, 'not-found'],
    ['a task with no failed records', { reason: 'no-failed-records: task t has no failed execution records (it succeeded, or its records are gone)', ruleId: 'no-failed-records' }, 'nothing-to-retry'],
  ])('answers %s', (_, letter, outcome) => {
    expect(consoleAnswer(settling(letter))).toMatchObject({ outcome });
  });

  it.each([
    ['a 403 (a real refusal to surface)', { reason: 'workspace-refused: 403 WKS.00210403', ruleId: 'manual-request' }],
    ['a policy give-up', { reason: 'permission-denied: The script lacks a permission', ruleId: 'permission-denied' }],
    ['a 404 quoted inside another reason', { reason: 'script-error: workspace-refused: 404 in its output', ruleId: 'script-error' }],
  ])('dead-letters %s as before', (_, letter) => {
    expect(consoleAnswer(settling(letter))).toBeUndefined();
  });

  it('names the evidence and says nothing was retried or dead-lettered', () => {
    expect(consoleAnswer(settling({ reason: 'workspace-refused: 404 WKS.00210404 (X-Request-Id r1)', ruleId: 'manual-request' }))?.reason).toBe(
      'not-found: Workspace does not know it (404 WKS.00210404 (X-Request-Id r1)); check the project, record and task ids. Nothing was retried or dead-lettered',
    );
  });
});
