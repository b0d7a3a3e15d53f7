import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureStdout } from '../../local/log-capture.js';
import { body, PROJECT_ID, plainFailure, recordFor } from '../helpers/factories.js';
import { attr, type Harness, invoke, sqsEvent, startHarness } from '../helpers/harness.js';

/**
 * Events whose status word is not a failure's (docs/workspace-api.md,
 * "Status words"), through the queue function on the local stack.
 */

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

async function run(bodies: readonly string[]) {
  const handler = await h.loadHandler('queue', { POWERTOOLS_LOG_LEVEL: 'INFO' });
  const capture = captureStdout();
  try {
    const response = await invoke(handler, sqsEvent(bodies));
    return { response, outcomes: capture.outcomes() };
  } finally {
    capture.restore();
  }
}

describe('a run that did not fail, on the queue', () => {
  it('is acknowledged and counted with a log line, never dead-lettered, and leaves its run free to be retried when it fails later', async () => {
    // Prepare: four runs that did not fail, and a task that succeeded although Workspace still lists a failed record in
    // it.
    const notFailed = ['SUCCESS', 'SKIPPED', 'SKIP', 'RUNNING', 'WAITING', 'INIT', 'FINISH'].map((status) =>
      plainFailure({ status }),
    );
    for (const failure of notFailed) h.stack.simulator.seedRecords(PROJECT_ID, [recordFor(failure)]);
    const task = plainFailure({ status: 'SUCCESS', record_id: undefined });
    h.stack.simulator.seedRecords(PROJECT_ID, [recordFor({ ...task, record_id: 'stillfailedintask' })]);
    h.stack.simulator.resetCounters();

    // Act
    const { response, outcomes } = await run([...notFailed, task].map(body));

    // Assess: all acknowledged, each with its status in the outcome line; nothing on the DLQ, nothing asked of
    // Workspace.
    expect(response.batchItemFailures).toEqual([]);
    expect(outcomes.map((o) => [o['kind'], o['status']])).toEqual(
      [...notFailed, task].map((f) => ['not-failed', f['status']]),
    );
    expect(outcomes.every((o) => String(o['reason']).startsWith('not-failed: status '))).toBe(true);
    expect(await h.takeAll(h.stack.dlqUrl)).toEqual([]);
    expect(h.stack.simulator.requestsReceived).toBe(0);

    // Act again: the skipped run fails later, and that failure is retried as any first failure is.
    const failedLater: Record<string, unknown> = { ...notFailed[1]!, status: 'FAILED' };
    const later = await run([body(failedLater)]);

    // Assess
    expect(later.outcomes.map((o) => o['kind'])).toEqual(['retried']);
    expect(h.stack.simulator.retryCount(String(failedLater['record_id']))).toBe(1);
  });
});

describe('a status word nobody documents, on the queue', () => {
  it('is dead-lettered with the reason, without touching the ledger: the same run failing later is still retried', async () => {
    // Prepare
    const odd = plainFailure({ status: 'TIMEOUT' });
    h.stack.simulator.seedRecords(PROJECT_ID, [recordFor(odd)]);
    h.stack.simulator.resetCounters();

    // Act
    const first = await run([body(odd)]);

    // Assess
    const [letter, ...more] = await h.takeAll(h.stack.dlqUrl);
    expect(more).toEqual([]);
    expect(first.outcomes.map((o) => o['kind'])).toEqual(['dead-lettered']);
    expect(attr(letter!, 'error_code')).toBe('UNKNOWN_STATUS');
    expect(attr(letter!, 'rule_id')).toBe('unknown-status');
    expect(attr(letter!, 'reason')).toMatch(/^unknown-status: status "TIMEOUT" is none of FAILED, FAIL, SUCCESS/);
    expect(h.stack.simulator.requestsReceived).toBe(0);

    // Act again
    const failed = await run([body({ ...odd, status: 'FAILED' })]);

    // Assess
    expect(failed.outcomes.map((o) => o['kind'])).toEqual(['retried']);
    expect(h.stack.simulator.retryCount(String(odd['record_id']))).toBe(1);
  });
});
