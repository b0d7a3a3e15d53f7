import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../lib/pipeline/dead-letter.js';
import type { GiveUpCode, Refusal } from '../../lib/pipeline/resolution.js';
import { syntheticSource } from '../../lib/pipeline/runner.js';
import type { Settling } from '../../lib/pipeline/settlement.js';
import { consoleAnswer } from '../../lib/ways-in/manual.js';

/**
 * Which of the pipeline's dead letters the console answers instead (lib/ways-in/manual.ts, consoleAnswer), by their
 * codes.
 */
const settling = (code: GiveUpCode, letter: Partial<DeadLetter>, refusal?: Refusal): Settling => ({
  source: syntheticSource('manual:p:r', {}),
  firstSeenAt: 0,
  resolution: {
    kind: 'dead-letter',
    code,
    letter: { reason: 'x', errorCode: 'E', attempts: 0, firstSeenAt: 0, decidedAt: 0, ...letter },
    refusal,
  },
});

describe("the console's own answers", () => {
  it.each([
    [
      'a 404 on a lookup',
      settling(
        'lookup-refused',
        { ruleId: 'lookup-refused' },
        { status: 404, errorCode: 'WKS.00210404', requestId: 'r1' },
      ),
      'not-found',
    ],
    [
      'a 404 on the retry',
      settling(
        'workspace-refused',
        { ruleId: 'manual-request' },
        { status: 404, errorCode: 'WKS.00210404', requestId: 'r2' },
      ),
      'not-found',
    ],
    [
      'a task with no failed records',
      settling('no-failed-records', { ruleId: 'no-failed-records' }),
      'nothing-to-retry',
    ],
  ])('answers %s', (_, given, outcome) => {
    expect(consoleAnswer(given)).toMatchObject({ outcome });
  });

  it.each([
    [
      'a 403 (a real refusal to surface)',
      settling('workspace-refused', { ruleId: 'manual-request' }, { status: 403, errorCode: 'WKS.00210403' }),
    ],
    [
      'a policy give-up',
      settling('policy', { reason: 'permission-denied: The script lacks a permission', ruleId: 'permission-denied' }),
    ],
    [
      'a 404 quoted inside another reason',
      settling('policy', { reason: 'script-error: workspace-refused: 404 in its output', ruleId: 'script-error' }),
    ],
  ])('dead-letters %s as before', (_, given) => {
    expect(consoleAnswer(given)).toBeUndefined();
  });

  it('names the evidence and says nothing was retried or dead-lettered', () => {
    expect(
      consoleAnswer(
        settling(
          'workspace-refused',
          { ruleId: 'manual-request' },
          { status: 404, errorCode: 'WKS.00210404', requestId: 'r1' },
        ),
      )?.reason,
    ).toBe(
      'not-found: Workspace does not know it (404 WKS.00210404 (X-Request-Id r1)); check the project, record and task ids. Nothing was retried or dead-lettered',
    );
  });
});
