import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WorkspaceClient, type WorkspaceClientOptions } from '../../lib/workspace/client.js';
import { parseEndpointOverrides } from '../../lib/workspace/endpoints.js';
import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import { BEFORE_KINDS } from '../../local/simulator-faults.js';
import { WorkspaceSimulator } from '../../local/workspace-simulator.js';
import { failedRecord, PROJECT_ID } from '../helpers/factories.js';
import { seededRandom } from '../helpers/random.js';
import { rejectionOf } from '../helpers/rejection.js';

/**
 * The simulator's faults seen through the real client (docs/workspace-api.md,
 * "What the simulator models"): before-state faults never apply the retry;
 * apply-then-lose faults always do, while the client learns nothing.
 * The only real waits are the socket timeouts under test: a client that gives
 * up after SHORT_TIMEOUT_MS, a stall that holds the socket for STALL_MS.
 */

const SHORT_TIMEOUT_MS = 300;
const STALL_MS = 900;

const KEY = { ak: 'AKFAULTTEST', sk: 'sk-fault-test-secret' };
const project = { projectId: PROJECT_ID };
let sim: WorkspaceSimulator;
let seq = 0;

function client(overrides: Partial<WorkspaceClientOptions> = {}): WorkspaceClient {
  return new WorkspaceClient({
    defaultRegion: 'cn-north-4',
    endpoints: parseEndpointOverrides(JSON.stringify({ 'cn-north-4': sim.url })),
    timeoutMs: 2_000,
    maxInCallRetries: 0,
    backoffBaseMs: 1,
    backoffCapMs: 1,
    ...overrides,
  });
}

/** What `promise` was rejected with: a WorkspaceApiError. */
const failure = (promise: Promise<unknown>) => rejectionOf(promise, WorkspaceApiError);

/** A fresh failed record on its own desktop, so each case counts only its own re-runs. */
function seedFailed(): string {
  const id = `fault-rec-${++seq}`;
  sim.seedRecords(PROJECT_ID, [
    failedRecord({
      id,
      script_task_id: `fault-task-${seq}`,
      resource_id: `fault-desk-${seq}`,
      script_id: 'fault-script',
    }),
  ]);
  return id;
}

beforeAll(async () => {
  sim = await WorkspaceSimulator.start({ credentials: [KEY] });
  // One answered call first, so the first timed case does not also pay for warm-up.
  await client().getRecord(project, seedFailed(), KEY);
});
afterAll(() => sim.stop());
beforeEach(() => {
  sim.clearFaults();
  sim.resetCounters();
  sim.faults = { stallMs: STALL_MS };
});

describe('an answer lost after the retry was applied', () => {
  it.each([
    ['stall-after', { kind: 'transient', code: 'TIMEOUT' }, SHORT_TIMEOUT_MS],
    ['reset-after', { kind: 'transient', code: 'NETWORK' }, 2_000],
    ['garbled-after', { kind: 'transient', code: 'MALFORMED_RESPONSE', status: 200 }, 2_000],
    ['5xx-after', { kind: 'transient', status: 502 }, 2_000],
  ] as const)('%s: Workspace re-ran the script once, the client sees %o', async (kind, seen, timeoutMs) => {
    // Prepare
    const recordId = seedFailed();
    sim.forceFaults(kind);
    // Act
    const error = await failure(client({ timeoutMs }).retry(project, { recordId }, KEY));
    // Assess
    expect(error).toMatchObject(seen);
    expect(sim.rerunsOf(recordId)).toBe(1);
    expect(sim.retries).toHaveLength(1);
    expect(sim.retries[0]).toMatchObject({ target: { recordId }, answerLost: true, lostBy: kind });
    const [run] = sim.recordsOfTask(PROJECT_ID, sim.retries[0]!.newTaskId);
    expect(run).toMatchObject({
      status: 'RUNNING',
      resource_id: sim.state.record(PROJECT_ID, recordId)!.resource_id,
      script_id: 'fault-script',
    });
    expect(sim.requestsReceived).toBe(1);
    expect(sim.faultsInjected.get(kind)).toBe(1);
  });

  it('stall-after without a client timeout: the socket is dropped once the stall ends', async () => {
    const recordId = seedFailed();
    sim.forceFaults('stall-after');
    const error = await failure(client({ timeoutMs: 5_000 }).retry(project, { recordId }, KEY));
    expect(error.code).toBe('NETWORK');
    expect(sim.rerunsOf(recordId)).toBe(1);
  });

  it('waits for the next retry POST: the lookups before it are answered', async () => {
    const recordId = seedFailed();
    sim.forceFaults('reset-after');
    const record = await client().getRecord(project, recordId, KEY);
    const error = await failure(client().retry(project, { recordId: record.id }, KEY));
    expect(error.code).toBe('NETWORK');
    expect(sim.rerunsOf(recordId)).toBe(1);
  });
});

describe('a fault before the state changes', () => {
  it.each(BEFORE_KINDS)('%s never applies the retry', async (kind) => {
    // Prepare
    const recordId = seedFailed();
    sim.forceFaults(kind);
    // Act
    const error = await failure(
      client({ timeoutMs: kind === 'stall' ? SHORT_TIMEOUT_MS : 2_000 }).retry(project, { recordId }, KEY),
    );
    // Assess
    expect(error.kind).toBe('transient');
    expect(sim.rerunsOf(recordId)).toBe(0);
    expect(sim.retries).toEqual([]);
    expect(sim.faultsInjected.get(kind)).toBe(1);
  });
});

describe('faults by call count', () => {
  it('a fault pinned to call 2 hits exactly the second request', async () => {
    sim.planFaults({ kind: '503', call: 2 });
    const recordId = seedFailed();
    const outcomes = [];
    for (let i = 0; i < 3; i++)
      outcomes.push(
        await client()
          .getRecord(project, recordId, KEY)
          .then(
            () => 'ok',
            (e: WorkspaceApiError) => e.status,
          ),
      );
    expect(outcomes).toEqual(['ok', 503, 'ok']);
  });

  it('a fault pinned to the second retry POST skips reads and the first retry', async () => {
    // Prepare
    const [first, second] = [seedFailed(), seedFailed()];
    sim.planFaults({ kind: 'garbled-after', route: 'retry', call: 2 });
    // Act
    await client().getRecord(project, first, KEY);
    const accepted = await client().retry(project, { recordId: first }, KEY);
    await client().getRecord(project, second, KEY);
    const error = await failure(client().retry(project, { recordId: second }, KEY));
    // Assess
    expect(accepted.taskId).toBe(sim.retries[0]!.newTaskId);
    expect(error.code).toBe('MALFORMED_RESPONSE');
    expect(sim.retries.map((r) => [r.target.recordId, r.answerLost])).toEqual([
      [first, false],
      [second, true],
    ]);
  });

  it('a seeded random run injects the same faults on the same calls every time', async () => {
    const run = async () => {
      const seeded = await WorkspaceSimulator.start({
        credentials: [KEY],
        random: seededRandom(11),
        faults: { unavailable503: 0.2, throttle429: 0.1, resetAfter: 0.2 },
      });
      try {
        seeded.seedRecords(PROJECT_ID, [failedRecord({ id: 'seeded' })]);
        const c = client({ endpoints: parseEndpointOverrides(JSON.stringify({ 'cn-north-4': seeded.url })) });
        const seen = [];
        for (let i = 0; i < 12; i++) {
          const call =
            i % 2 === 0 ? c.getRecord(project, 'seeded', KEY) : c.retry(project, { recordId: 'seeded' }, KEY);
          seen.push(
            await call.then(
              () => 'ok',
              (e: WorkspaceApiError) => e.status ?? e.code,
            ),
          );
        }
        return {
          seen,
          injected: Object.fromEntries(seeded.faultsInjected),
          lost: seeded.retries.filter((r) => r.answerLost).length,
        };
      } finally {
        await seeded.stop();
      }
    };
    const [a, b] = [await run(), await run()];
    expect(a).toEqual(b);
    expect(Object.keys(a.injected).length).toBeGreaterThan(0);
  });
});
