import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkspaceClient } from '../../lib/workspace/client.js';
import { parseEndpointOverrides } from '../../lib/workspace/endpoints.js';
import { signRequest } from '../../lib/workspace/signer.js';
import type { ExecutionRecord, RecordFilters } from '../../lib/workspace/types.js';
import { WorkspaceSimulator } from '../../local/workspace-simulator.js';
import { failedRecord, PROJECT_ID } from '../helpers/factories.js';

/** The simulated Workspace's calls over HTTP, through the real client (docs/workspace-api.md, "Calls"). */

const KEY = { ak: 'AKSIMSTATETEST', sk: 'sk-sim-state-secret' };
const project = { projectId: PROJECT_ID };
let sim: WorkspaceSimulator;
let clock = Date.parse('2026-11-29T12:00:00Z');
let client: WorkspaceClient;

async function list(filters: RecordFilters): Promise<string[]> {
  const ids: string[] = [];
  for await (const record of client.listRecords(project, filters, KEY)) ids.push(record.id);
  return ids;
}

beforeAll(async () => {
  // Workspace's clock is injected; the client signs with the real one, as the gateway's skew check expects.
  sim = await WorkspaceSimulator.start({ credentials: [KEY], now: () => new Date(clock) });
  client = new WorkspaceClient({
    defaultRegion: 'cn-north-4',
    endpoints: parseEndpointOverrides(JSON.stringify({ 'cn-north-4': sim.url })),
    timeoutMs: 1_000,
    maxInCallRetries: 0,
    backoffBaseMs: 1,
    backoffCapMs: 1,
  });
  sim.seedRecords(PROJECT_ID, [
    failedRecord({
      id: 'h1',
      script_task_id: 'ht1',
      script_id: 'hs1',
      resource_id: 'hd1',
      start_time: '2026-11-29T08:00:00Z',
      end_time: '2026-11-29T08:01:00Z',
    }),
    failedRecord({
      id: 'h2',
      script_task_id: 'ht1',
      script_id: 'hs2',
      resource_id: 'hd2',
      start_time: '2026-11-29T09:00:00Z',
      end_time: '2026-11-29T09:01:00Z',
    }),
    failedRecord({
      id: 'h3',
      script_task_id: 'ht1',
      script_id: 'hs1',
      resource_id: 'hd3',
      start_time: '2026-11-29T10:00:00Z',
      end_time: '2026-11-29T10:01:00Z',
      status: 'SUCCESS',
    }),
  ]);
});
afterAll(() => sim.stop());

describe('retry over HTTP', () => {
  it('by record: the answer names a new task whose one record runs the same script on the same desktop', async () => {
    // Act
    clock += 60_000;
    const accepted = await client.retry(project, { recordId: 'h1' }, KEY);
    // Assess
    const runs = await list({ scriptTaskId: accepted.taskId });
    expect(runs).toHaveLength(1);
    const run = await client.getRecord(project, runs[0]!, KEY);
    expect(run).toMatchObject({
      script_id: 'hs1',
      resource_id: 'hd1',
      script_task_id: accepted.taskId,
      status: 'RUNNING',
      start_time: '2026-11-29T12:01:00Z',
      output: '',
    });
    expect(sim.rerunsOf('h1')).toBe(1);
    expect(sim.retryCount('h1')).toBe(1);
  });

  it('by task: one new record per failed record of the task, each on its own desktop', async () => {
    const accepted = await client.retry(project, { taskId: 'ht1' }, KEY);
    const runs: ExecutionRecord[] = [];
    for await (const record of client.listRecords(project, { scriptTaskId: accepted.taskId }, KEY)) runs.push(record);
    expect(runs.map((r) => [r.resource_id, r.script_id])).toEqual([
      ['hd1', 'hs1'],
      ['hd2', 'hs2'],
    ]);
    expect(sim.rerunsOf('h3')).toBe(0);
  });

  it('a run ended by finishRun reads back FAILED with its end time and reason', async () => {
    const accepted = await client.retry(project, { recordId: 'h2' }, KEY);
    const [runId] = sim.recordsOfTask(PROJECT_ID, accepted.taskId).map((r) => r.id);
    clock += 30_000;
    sim.finishRun(PROJECT_ID, runId!, { status: 'FAILED', reason: 'agent offline' });
    expect(await client.getRecord(project, runId!, KEY)).toMatchObject({
      status: 'FAILED',
      reason: 'agent offline',
      end_time: new Date(clock).toISOString().replace('.000', ''),
    });
  });

  it('answers 400 WKS.00211102 to a body that names neither a record nor a task', async () => {
    const body = JSON.stringify({ record_id: [{ record_id: 'h1' }] });
    const signed = signRequest(
      {
        method: 'POST',
        host: new URL(sim.url).host,
        pathSegments: ['v2', PROJECT_ID, 'script-executions', 'retry'],
        headers: { 'content-type': 'application/json' },
        body,
        date: new Date(),
      },
      KEY,
    );
    const { host: _host, ...headers } = signed.headers;
    const response = await fetch(`${sim.url}${signed.pathAndQuery}`, { method: 'POST', headers, body });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error_code: 'WKS.00211102' });
  });
});

describe('the gateway', () => {
  it('locks an AK after more than five consecutive refused signatures, even against its right key', async () => {
    // Prepare
    const locked = { ak: 'AKLOCKOUTTEST', sk: 'sk-lockout-right' };
    sim.addCredential(locked);
    // Act
    for (let i = 0; i < 6; i++)
      await client.getRecord(project, 'h1', { ak: locked.ak, sk: 'wrong' }).catch(() => undefined);
    const error = await client.getRecord(project, 'h1', locked).catch((e: unknown) => e);
    // Assess
    expect(error).toMatchObject({ kind: 'auth', status: 401, code: 'APIG.0301' });
    expect(sim.isLocked(locked.ak)).toBe(true);
    expect(sim.authFailures.get(locked.ak)).toBe(7);
  });

  it('five refused signatures then a good one do not lock the AK', async () => {
    const fine = { ak: 'AKNOLOCKTEST', sk: 'sk-nolock-right' };
    sim.addCredential(fine);
    for (let i = 0; i < 5; i++)
      await client.getRecord(project, 'h1', { ak: fine.ak, sk: 'wrong' }).catch(() => undefined);
    await client.getRecord(project, 'h1', fine);
    for (let i = 0; i < 5; i++)
      await client.getRecord(project, 'h1', { ak: fine.ak, sk: 'wrong' }).catch(() => undefined);
    expect(sim.isLocked(fine.ak)).toBe(false);
  });
});

describe('list records over HTTP', () => {
  it.each<[string, RecordFilters, string[]]>([
    [
      'desktops (repeated resource_id)',
      { resourceIds: ['hd2', 'hd3'], executeTimeEnd: new Date('2026-11-29T11:00:00Z') },
      ['h2', 'h3'],
    ],
    ['scripts (repeated script_id) and status', { scriptIds: ['hs1', 'hs2'], status: 'SUCCESS' }, ['h3']],
    [
      'execute time, both ends inclusive',
      { executeTimeStart: new Date('2026-11-29T09:00:00Z'), executeTimeEnd: new Date('2026-11-29T10:00:00Z') },
      ['h2', 'h3'],
    ],
    ['task, from an offset', { scriptTaskId: 'ht1', offset: 1, pageSize: 1 }, ['h2', 'h3']],
  ])('filters by %s', async (_name, filters, expected) => {
    expect(await list(filters)).toEqual(expected);
  });
});

describe('show_history over HTTP', () => {
  it('lists a record run again in place twice, its earlier run as history, only when asked with the desktop and script', async () => {
    // Prepare: a simulator that runs retried records again in place.
    const inPlace = await WorkspaceSimulator.start({
      credentials: [KEY],
      reading: 'in-place',
      now: () => new Date(clock),
    });
    const viaInPlace = new WorkspaceClient({
      defaultRegion: 'cn-north-4',
      endpoints: parseEndpointOverrides(JSON.stringify({ 'cn-north-4': inPlace.url })),
      timeoutMs: 1_000,
      maxInCallRetries: 0,
      backoffBaseMs: 1,
      backoffCapMs: 1,
    });
    inPlace.seedRecords(PROJECT_ID, [
      failedRecord({
        id: 'ip1',
        script_task_id: 'ipt',
        script_id: 'ips',
        resource_id: 'ipd',
        start_time: '2026-11-29T08:00:00Z',
        end_time: '2026-11-29T08:01:00Z',
      }),
    ]);
    const runs = async (filters: RecordFilters) => {
      const seen: string[] = [];
      for await (const r of viaInPlace.listRecords(project, filters, KEY)) seen.push(`${r.id}@${r.start_time}`);
      return seen;
    };
    try {
      // Act
      const accepted = await viaInPlace.retry(project, { recordId: 'ip1' }, KEY);
      // Assess
      expect(accepted.taskId).toBe('ipt');
      expect(await runs({ resourceIds: ['ipd'], scriptIds: ['ips'] })).toEqual([
        `ip1@${new Date(clock).toISOString().slice(0, 19)}Z`,
      ]);
      expect(await runs({ resourceIds: ['ipd'], scriptIds: ['ips'], showHistory: true })).toEqual([
        'ip1@2026-11-29T08:00:00Z',
        `ip1@${new Date(clock).toISOString().slice(0, 19)}Z`,
      ]);
      await expect(runs({ resourceIds: ['ipd'], showHistory: true })).rejects.toMatchObject({
        status: 400,
        code: 'WKS.00211102',
      });
    } finally {
      await inPlace.stop();
    }
  });
});
