import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkspaceClient } from '../../lib/workspace/client.js';
import { parseEndpointOverrides } from '../../lib/workspace/endpoints.js';
import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import { type ForcedFault, WorkspaceSimulator } from '../../local/workspace-simulator.js';
import { failedRecord, PROJECT_ID } from '../helpers/factories.js';

/**
 * The retry POST is not idempotent (Workspace has no idempotency key): when
 * its outcome is unknown (the connection reset, no answer in time, a 5xx a
 * backend may have sent after running it, a garbled 200) the client must not
 * send it again in the same call. Counted by the simulator, on the wire.
 */

const KEY = { ak: 'AKUNKNOWNOUTCOME', sk: 'unknown-outcome-secret' };
let sim: WorkspaceSimulator;
beforeAll(async () => {
  sim = await WorkspaceSimulator.start({ credentials: [KEY], faults: { stallMs: 1_000 } });
});
afterAll(() => sim.stop());

function client(): WorkspaceClient {
  return new WorkspaceClient({
    defaultRegion: 'cn-north-4',
    endpoints: parseEndpointOverrides(JSON.stringify({ 'cn-north-4': sim.url })),
    timeoutMs: 200,
    maxInCallRetries: 2,
    backoffBaseMs: 1,
    backoffCapMs: 5,
    random: () => 0,
  });
}

let n = 0;
function seededRecord(): string {
  const id = `unknown-outcome-${++n}`;
  sim.seedRecords(PROJECT_ID, [failedRecord({ id })]);
  return id;
}

/** Retry POSTs the simulator received (its route map counts them before any fault). */
function retryPosts(): number {
  return [...sim.requestsByRoute]
    .filter(([route]) => route.startsWith('POST ') && route.endsWith('/script-executions/{id}'))
    .reduce((sum, [, count]) => sum + count, 0);
}

async function retryOnceWith(fault: ForcedFault): Promise<{ posts: number; result: unknown }> {
  sim.clearFaults();
  sim.faults = { stallMs: 1_000 };
  sim.resetCounters();
  sim.forceFaults(fault);
  const result = await client()
    .retry({ projectId: PROJECT_ID }, { recordId: seededRecord() }, KEY)
    .catch((error: unknown) => error);
  return { posts: retryPosts(), result };
}

describe('a retry POST whose outcome is unknown', () => {
  it.each([
    ['the connection reset', 'reset', 'NETWORK'],
    ['no answer within the timeout', 'stall', 'TIMEOUT'],
    ['a 502 from the gateway', '502', 'APIG.0201'],
    ['a 500', '500', 'APIG.0601'],
    ['a 200 that is not JSON', 'malformed', 'MALFORMED_RESPONSE'],
  ] as const)('is sent once and never repeated in the call after %s', async (_, fault, code) => {
    const { posts, result } = await retryOnceWith(fault);

    expect(posts).toBe(1);
    expect(result).toBeInstanceOf(WorkspaceApiError);
    expect((result as WorkspaceApiError).code).toBe(code);
    expect(sim.retries).toHaveLength(0);
  });

  it.each([
    ['a 503 (the backend was never reached)', '503'],
    ['a 429 throttle', '429'],
  ] as const)('is sent again after %s, so the count above would see a repeat', async (_, fault) => {
    const { posts, result } = await retryOnceWith(fault);

    expect(posts).toBe(2);
    expect(result).toMatchObject({ taskId: expect.any(String) });
    expect(sim.retries).toHaveLength(1);
  });
});
