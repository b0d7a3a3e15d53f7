import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkspaceClient } from '../../lib/workspace/client.js';
import { parseEndpointOverrides } from '../../lib/workspace/endpoints.js';
import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import { type ErrorShape, WorkspaceSimulator } from '../../local/workspace-simulator.js';
import { failedRecord, PROJECT_ID } from '../helpers/factories.js';

/**
 * Workspace's error bodies come in the three layouts Huawei's SDKs read
 * (docs/workspace-api.md, "Errors"); whichever the service uses, the client
 * finds the same code and classifies it the same way.
 */

const KEY = { ak: 'AKSHAPETEST', sk: 'sk-shape-test-secret' };
const SHAPES: readonly ErrorShape[] = ['error_code', 'code', 'nested'];
const simulators = new Map<ErrorShape, WorkspaceSimulator>();

beforeAll(async () => {
  for (const shape of SHAPES) {
    const sim = await WorkspaceSimulator.start({ credentials: [KEY], errorShape: shape });
    sim.seedRecords(PROJECT_ID, [failedRecord({ id: 'known1' })]);
    simulators.set(shape, sim);
  }
});
afterAll(() => Promise.all([...simulators.values()].map((sim) => sim.stop())));

function clientOf(sim: WorkspaceSimulator, maxInCallRetries = 0): WorkspaceClient {
  return new WorkspaceClient({
    defaultRegion: 'cn-north-4',
    endpoints: parseEndpointOverrides(JSON.stringify({ 'cn-north-4': sim.url })),
    timeoutMs: 1_000,
    maxInCallRetries,
    backoffBaseMs: 1,
    backoffCapMs: 1,
  });
}

async function failureOf(promise: Promise<unknown>): Promise<WorkspaceApiError> {
  await expect(promise).rejects.toBeInstanceOf(WorkspaceApiError);
  return promise.catch((error: unknown) => error as WorkspaceApiError) as Promise<WorkspaceApiError>;
}

describe.each(SHAPES)('error bodies laid out as %s', (shape) => {
  it('an unknown record is 404 WKS.00210404, permanent, with its message', async () => {
    // Prepare
    const sim = simulators.get(shape)!;

    // Act
    const error = await failureOf(clientOf(sim).retry({ projectId: PROJECT_ID }, { recordId: 'nosuchrecord' }, KEY));

    // Assess
    expect(error).toMatchObject({ kind: 'permanent', status: 404, code: 'WKS.00210404' });
    expect(error.message).toContain('Record nosuchrecord not found.');
  });

  it('a wrong signature is 401 APIG.0303, an auth error', async () => {
    const sim = simulators.get(shape)!;

    const error = await failureOf(
      clientOf(sim).retry({ projectId: PROJECT_ID }, { recordId: 'known1' }, { ak: KEY.ak, sk: 'wrong' }),
    );

    expect(error).toMatchObject({ kind: 'auth', status: 401, code: 'APIG.0303' });
  });

  it('a throttled call is 429 APIG.0308, transient, with its Retry-After', async () => {
    const sim = simulators.get(shape)!;
    sim.forceFaults('429');

    const error = await failureOf(clientOf(sim).retry({ projectId: PROJECT_ID }, { recordId: 'known1' }, KEY));

    expect(error).toMatchObject({ kind: 'transient', status: 429, code: 'APIG.0308', retryAfterSeconds: 1 });
  });

  it('Workspace busy (500 WKS.00211401) is known not to have run, so the retry POST is sent again within the call', async () => {
    // Prepare: the code, not the status, says nothing ran; a bare 500 may have run and is never sent again blindly.
    const sim = simulators.get(shape)!;
    sim.resetCounters();
    sim.forceFaults('wks-busy');

    // Act
    const accepted = await clientOf(sim, 1).retry({ projectId: PROJECT_ID }, { recordId: 'known1' }, KEY);

    // Assess
    expect(accepted.taskId).toMatch(/^[0-9a-f]{32}$/);
    expect(sim.requestsReceived).toBe(2);
    expect(sim.retries).toHaveLength(1);
  });
});
