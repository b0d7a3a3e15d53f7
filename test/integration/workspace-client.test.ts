import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type HttpTransport, keepAliveTransport } from '../../lib/platform/keep-alive-http.js';
import { WorkspaceClient, type WorkspaceClientOptions } from '../../lib/workspace/client.js';
import { parseEndpointOverrides } from '../../lib/workspace/endpoints.js';
import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import { WorkspaceSimulator } from '../../local/workspace-simulator.js';
import { failedRecord, PROJECT_ID } from '../helpers/factories.js';
import { localHttpServer } from '../helpers/http-server.js';

const KEY = { ak: 'AKCLIENTTEST', sk: 'sk-client-test-secret' };
let sim: WorkspaceSimulator;

function client(overrides: Partial<WorkspaceClientOptions> = {}): WorkspaceClient {
  return new WorkspaceClient({
    defaultRegion: 'cn-north-4',
    endpoints: parseEndpointOverrides(JSON.stringify({ 'cn-north-4': sim.url })),
    timeoutMs: 1_000,
    maxInCallRetries: 2,
    backoffBaseMs: 5,
    backoffCapMs: 50,
    ...overrides,
  });
}

async function rejection(promise: Promise<unknown>): Promise<WorkspaceApiError> {
  await expect(promise).rejects.toBeInstanceOf(WorkspaceApiError);
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as WorkspaceApiError,
  );
}

const endpointsAt = (url: string) => parseEndpointOverrides(JSON.stringify({ 'cn-north-4': url }));

beforeAll(async () => {
  sim = await WorkspaceSimulator.start({ credentials: [KEY] });
  sim.seedRecords(
    PROJECT_ID,
    Array.from({ length: 250 }, (_, i) => failedRecord({ id: `rec${i}`, script_task_id: `task${i % 7}` })),
  );
});
afterAll(() => sim.stop());
beforeEach(() => {
  sim.clearFaults();
  sim.resetCounters();
});

describe('retry', () => {
  it('returns the new task id of an accepted retry, by record and by task', async () => {
    const byRecord = await client().retry({ projectId: PROJECT_ID }, { recordId: 'rec1' }, KEY);
    const byTask = await client().retry({ projectId: PROJECT_ID }, { taskId: 'task3' }, KEY);
    expect(byRecord.taskId).toMatch(/^[0-9a-f]{32}$/);
    expect(byRecord.requestId).toMatch(/^[0-9a-f]{32}$/);
    expect(sim.retries.map((r) => r.target)).toEqual([{ recordId: 'rec1' }, { taskId: 'task3' }]);
    expect(sim.retries[1]!.newTaskId).toBe(byTask.taskId);
  });

  it('classifies an unknown record (404) as permanent, with the code and request id', async () => {
    const error = await rejection(client().retry({ projectId: PROJECT_ID }, { recordId: 'nope' }, KEY));
    expect(error).toMatchObject({ kind: 'permanent', status: 404, code: 'WKS.00210404' });
    expect(error.requestId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('surfaces a wrong key as an auth error after exactly one request', async () => {
    const error = await rejection(
      client().retry({ projectId: PROJECT_ID }, { recordId: 'rec1' }, { ak: KEY.ak, sk: 'wrong' }),
    );
    expect(error).toMatchObject({ kind: 'auth', status: 401, code: 'APIG.0303' });
    expect(sim.requestsReceived).toBe(1);
  });

  it('surfaces an unknown AK as APIG.0301, once', async () => {
    const error = await rejection(
      client().retry({ projectId: PROJECT_ID }, { recordId: 'rec1' }, { ak: 'AKUNKNOWN', sk: 'x' }),
    );
    expect(error).toMatchObject({ kind: 'auth', code: 'APIG.0301' });
    expect(sim.requestsReceived).toBe(1);
  });

  it('refuses a request dated more than 15 minutes off', async () => {
    const skewed = client({ now: () => new Date(Date.now() - 16 * 60_000) });
    const error = await rejection(skewed.retry({ projectId: PROJECT_ID }, { recordId: 'rec1' }, KEY));
    expect(error).toMatchObject({ kind: 'auth', status: 401 });
  });

  it('retries 429 and 503 in-call and succeeds within the bound', async () => {
    sim.forceFaults('429', '503');
    const accepted = await client().retry({ projectId: PROJECT_ID }, { recordId: 'rec2' }, KEY);
    expect(accepted.taskId).toBeTruthy();
    expect(sim.requestsReceived).toBe(3);
    expect(sim.retryCount('rec2')).toBe(1);
  });

  it('stops after the in-call bound and reports the last transient error', async () => {
    sim.forceFaults('503', '503', '503', '503');
    const error = await rejection(client().retry({ projectId: PROJECT_ID }, { recordId: 'rec3' }, KEY));
    expect(error).toMatchObject({ kind: 'transient', status: 503 });
    expect(sim.requestsReceived).toBe(3);
  });

  it('does not repeat a POST whose outcome is unknown (reset, timeout, 502) but classifies it transient', async () => {
    sim.faults = { stallMs: 1_000 };
    for (const [fault, code] of [
      ['reset', 'NETWORK'],
      ['stall', 'TIMEOUT'],
      ['502', 'APIG.0201'],
    ] as const) {
      sim.resetCounters();
      sim.forceFaults(fault);
      const error = await rejection(
        client({ timeoutMs: 200 }).retry({ projectId: PROJECT_ID }, { recordId: 'rec4' }, KEY),
      );
      expect(error).toMatchObject({ kind: 'transient', code });
      expect(sim.requestsReceived).toBe(1);
    }
  });

  it('repeats a POST whose connection was refused (it never reached Workspace), as CONNECT', async () => {
    const closed = await localHttpServer(() => undefined);
    await closed.stop();
    const sent: string[] = [];
    const counting: HttpTransport = (request) => (sent.push(request.url), keepAliveTransport(request));
    const refused = client({
      endpoints: parseEndpointOverrides(JSON.stringify({ 'cn-north-4': closed.url })),
      transport: counting,
    });
    const error = await rejection(refused.retry({ projectId: PROJECT_ID }, { recordId: 'rec4' }, KEY));
    expect(error).toMatchObject({ kind: 'transient', code: 'CONNECT' });
    expect(sent).toHaveLength(3);
  });

  it('passes Retry-After on to the caller with the 429', async () => {
    sim.forceFaults('429');
    const error = await rejection(
      client({ maxInCallRetries: 0 }).retry({ projectId: PROJECT_ID }, { recordId: 'rec4' }, KEY),
    );
    expect(error).toMatchObject({ kind: 'transient', status: 429, code: 'APIG.0308', retryAfterSeconds: 1 });
  });

  it('times out a stalled request and reports TIMEOUT', async () => {
    sim.faults = { stallMs: 2_000 };
    sim.forceFaults('stall');
    const started = Date.now();
    const error = await rejection(
      client({ timeoutMs: 200 }).retry({ projectId: PROJECT_ID }, { recordId: 'rec5' }, KEY),
    );
    expect(error).toMatchObject({ kind: 'transient', code: 'TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('treats a malformed 200 as transient without repeating the POST', async () => {
    sim.forceFaults('malformed');
    const error = await rejection(client().retry({ projectId: PROJECT_ID }, { recordId: 'rec6' }, KEY));
    expect(error).toMatchObject({ kind: 'transient', code: 'MALFORMED_RESPONSE' });
    expect(sim.requestsReceived).toBe(1);
  });

  it('validates ids before they reach a URL', async () => {
    await expect(client().retry({ projectId: '../etc' }, { recordId: 'rec1' }, KEY)).rejects.toThrow(
      /project_id must contain only/,
    );
    await expect(client().retry({ projectId: PROJECT_ID }, { recordId: 'a%2Fb' }, KEY)).rejects.toThrow(/record_id/);
    expect(sim.requestsReceived).toBe(0);
  });
});

describe('answers Workspace should never give', () => {
  it('times out an answer whose body stops half way (the timeout covers reading the body)', async () => {
    const halfway = await localHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"task_id": "');
    });
    try {
      const started = Date.now();
      const error = await rejection(
        client({ endpoints: endpointsAt(halfway.url), timeoutMs: 200 }).retry(
          { projectId: PROJECT_ID },
          { recordId: 'rec8' },
          KEY,
        ),
      );
      expect(error).toMatchObject({ kind: 'transient', code: 'TIMEOUT' });
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      await halfway.stop();
    }
  });

  it('refuses an answer over 4 MiB, declared or streamed, as malformed', async () => {
    const big = JSON.stringify({ id: 'rec9', output: 'x'.repeat(4 * 1024 * 1024) }); // valid JSON: only its size is wrong
    const declared = await localHttpServer((_req, res) =>
      res.writeHead(200, { 'content-length': big.length }).end(big),
    );
    const streamed = await localHttpServer((_req, res) => res.writeHead(200).end(big));
    try {
      for (const server of [declared, streamed]) {
        const error = await rejection(
          client({ endpoints: endpointsAt(server.url), maxInCallRetries: 0 }).getRecord(
            { projectId: PROJECT_ID },
            'rec9',
            KEY,
          ),
        );
        expect(error).toMatchObject({ kind: 'transient', code: 'MALFORMED_RESPONSE' });
      }
    } finally {
      await Promise.all([declared.stop(), streamed.stop()]);
    }
  });
});

describe('reads', () => {
  it('walks every page of the execution records', async () => {
    const ids: string[] = [];
    for await (const record of client().listRecords({ projectId: PROJECT_ID }, { status: 'FAILED', pageSize: 40 }, KEY))
      ids.push(record.id);
    expect(ids).toHaveLength(250);
    expect(new Set(ids).size).toBe(250);
    expect(sim.requestsByRoute.get('GET /v2/{id}/script-execution-records')).toBe(7);
  });

  it('filters by task and time window', async () => {
    const records = [];
    const filters = {
      scriptTaskId: 'task2',
      executeTimeStart: new Date('2026-01-01T00:00:00Z'),
      executeTimeEnd: new Date('2030-01-01T00:00:00Z'),
    };
    for await (const record of client().listRecords({ projectId: PROJECT_ID }, filters, KEY)) records.push(record);
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((r) => r.script_task_id === 'task2')).toBe(true);
  });

  it('retries a timed-out GET in-call', async () => {
    sim.faults = { stallMs: 1_000 };
    sim.forceFaults('stall');
    const record = await client({ timeoutMs: 200 }).getRecord({ projectId: PROJECT_ID }, 'rec7', KEY);
    expect(record.id).toBe('rec7');
    expect(sim.requestsReceived).toBe(2);
  });
});

describe('connections', () => {
  it('reuses connections: 200 calls at concurrency 5 open at most 5', async () => {
    const fresh = await WorkspaceSimulator.start({ credentials: [KEY] });
    try {
      fresh.seedRecords(PROJECT_ID, [failedRecord({ id: 'r1' })]);
      const c = new WorkspaceClient({
        defaultRegion: 'cn-north-4',
        endpoints: parseEndpointOverrides(JSON.stringify({ 'cn-north-4': fresh.url })),
        timeoutMs: 1_000,
        maxInCallRetries: 0,
        backoffBaseMs: 1,
        backoffCapMs: 1,
      });
      await Promise.all(
        Array.from({ length: 5 }, async () => {
          for (let i = 0; i < 40; i++) await c.getRecord({ projectId: PROJECT_ID }, 'r1', KEY);
        }),
      );
      expect(fresh.requestsReceived).toBe(200);
      expect(fresh.connectionsOpened).toBeLessThanOrEqual(5);
    } finally {
      await fresh.stop();
    }
  });
});
