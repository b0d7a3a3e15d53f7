import { afterEach, describe, expect, it } from 'vitest';
import { isNotFound, WorkspaceDesktops } from '../../lib/workspace/desktop-calls.js';
import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import { DESKTOP_NOT_READY, type DesktopFleetOptions, OPERATION_CONFLICT } from '../../local/workspace-desktops.js';
import { type SimulatorOptions, WorkspaceSimulator } from '../../local/workspace-simulator.js';
import { desktopId } from '../helpers/desktops.js';
import { failedRecord, PROJECT_ID } from '../helpers/factories.js';
import { localHttpServer } from '../helpers/http-server.js';
import { clientAt } from '../helpers/workspace-client.js';

/** The desktop calls against the Workspace simulator over HTTP (docs/workspace-api.md, "Desktops"). */

const KEY = { ak: 'AKDESKTOPTEST', sk: 'sk-desktop-test-secret' };
const PROJECT = { projectId: PROJECT_ID };
const started: WorkspaceSimulator[] = [];

/** A simulator on a clock the test moves, and a client of its desktop calls. */
async function workspace(desktops: DesktopFleetOptions = {}, onRequest?: SimulatorOptions['onRequest']) {
  let clock = Date.now();
  const sim = await WorkspaceSimulator.start({
    credentials: [KEY],
    now: () => new Date(clock),
    newRunOutcome: () => 'SUCCESS',
    desktops: { bootSeconds: 30, registerSeconds: 10, ...desktops },
    onRequest,
  });
  started.push(sim);
  const client = clientAt(sim.url);
  return {
    sim,
    client,
    desktops: new WorkspaceDesktops(client),
    advanceSeconds: (seconds: number) => (clock += seconds * 1000),
  };
}

async function rejection(promise: Promise<unknown>): Promise<WorkspaceApiError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof WorkspaceApiError)) throw new Error(`expected a WorkspaceApiError, got ${String(error)}`);
  return error;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((sim) => sim.stop()));
});

describe('ShowDesktopDetail', () => {
  it("reads one desktop's status, task, login and maintenance", async () => {
    // Prepare
    const { sim, desktops } = await workspace();
    sim.desktops.seed(PROJECT_ID, { desktop_id: 'd1', status: 'HIBERNATED', in_maintenance_mode: true });
    // Act
    const detail = await desktops.showDesktop(PROJECT, 'd1', KEY);
    // Assess
    expect(detail).toMatchObject({
      desktop_id: 'd1',
      status: 'HIBERNATED',
      task_status: '',
      login_status: 'UNREGISTER',
      in_maintenance_mode: true,
    });
  });

  it('answers an unknown or deleted desktop with a permanent 404, sent once', async () => {
    // Prepare
    const { sim, desktops } = await workspace();
    sim.desktops.seed(PROJECT_ID, { desktop_id: 'd1' });
    sim.desktops.delete(PROJECT_ID, 'd1');
    // Act
    const deleted = await rejection(desktops.showDesktop(PROJECT, 'd1', KEY));
    const never = await rejection(desktops.showDesktop(PROJECT, 'never-there', KEY));
    // Assess
    expect(deleted).toMatchObject({ status: 404, kind: 'permanent' });
    expect(isNotFound(deleted)).toBe(true);
    expect(isNotFound(never)).toBe(true);
    expect(sim.requestsReceived).toBe(2);
  });
});

describe('ListDesktopsDetail', () => {
  it('reads 1,200 desktops by id in three requests of at most 500 ids, and names the ids not listed', async () => {
    // Prepare
    const idsPerRequest: number[] = [];
    const { sim, desktops } = await workspace({}, ({ route, query }) => {
      if (route === 'list-desktops') idsPerRequest.push(query.getAll('desktop_id').length);
    });
    const ids = Array.from({ length: 1200 }, (_, i) => desktopId(i));
    for (const id of ids) sim.desktops.seed(PROJECT_ID, { desktop_id: id, status: 'SHUTOFF' });
    sim.desktops.seed(PROJECT_ID, { desktop_id: 'not-asked-for' });
    const unknown = [desktopId(5000), desktopId(5001)];
    // Act
    const read = await desktops.readDesktops(PROJECT, [...ids, ...unknown, ids[0]!], KEY);
    // Assess
    expect(read.calls).toBe(3);
    expect(idsPerRequest).toEqual([500, 500, 202]);
    expect(read.found.size).toBe(1200);
    expect(read.found.get(ids[999]!)).toMatchObject({ status: 'SHUTOFF' });
    expect(read.found.has('not-asked-for')).toBe(false);
    expect(read.missing).toEqual(unknown);
  });

  it('splits 500 long ids over two requests, so the gateway never refuses the URI as too long', async () => {
    // Prepare: 64-character ids, the longest an id may be; 500 of them would make a 38 KB query
    const { sim, desktops } = await workspace();
    const ids = Array.from({ length: 500 }, (_, i) => `${'d'.repeat(56)}${String(i).padStart(8, '0')}`);
    for (const id of ids) sim.desktops.seed(PROJECT_ID, { desktop_id: id });
    // Act
    const read = await desktops.readDesktops(PROJECT, ids, KEY);
    // Assess
    expect(read.calls).toBe(2);
    expect(read.found.size).toBe(500);
  });

  it('pages within a batch when Workspace answers shorter pages than asked', async () => {
    // Prepare
    const { sim, desktops } = await workspace({ maxPageSize: 200 });
    const ids = Array.from({ length: 450 }, (_, i) => desktopId(i));
    for (const id of ids) sim.desktops.seed(PROJECT_ID, { desktop_id: id });
    // Act
    const read = await desktops.readDesktops(PROJECT, ids, KEY);
    // Assess
    expect(read.calls).toBe(3);
    expect(read.found.size).toBe(450);
    expect(read.missing).toEqual([]);
  });

  it('walks every page of a filtered listing', async () => {
    // Prepare
    const { sim, desktops } = await workspace();
    for (let i = 0; i < 1100; i++)
      sim.desktops.seed(PROJECT_ID, { desktop_id: desktopId(i), in_maintenance_mode: i % 100 === 0 });
    // Act
    const all: string[] = [];
    for await (const desktop of desktops.listDesktops(PROJECT, {}, KEY)) all.push(desktop.desktop_id);
    const maintained: string[] = [];
    for await (const desktop of desktops.listDesktops(PROJECT, { inMaintenanceMode: true }, KEY))
      maintained.push(desktop.desktop_id);
    // Assess
    expect(all).toHaveLength(1100);
    expect(new Set(all).size).toBe(1100);
    expect(maintained).toEqual(Array.from({ length: 11 }, (_, i) => desktopId(i * 100)));
    expect(sim.requestsReceived).toBe(4);
  });

  it('stops after one page when a listing ignores the id filter, and names the ids as missing', async () => {
    // Prepare: an endpoint that answers every list request with the same first page of a 1,500-desktop fleet
    const page = {
      total_count: 1500,
      desktops: Array.from({ length: 500 }, (_, i) => ({ desktop_id: desktopId(i), status: 'ACTIVE' })),
    };
    let requests = 0;
    const server = await localHttpServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(page));
    });
    const client = clientAt(server.url, { maxInCallRetries: 0 });
    try {
      // Act
      const read = await new WorkspaceDesktops(client).readDesktops(PROJECT, [desktopId(9000), desktopId(9001)], KEY);
      // Assess
      expect(requests).toBe(1);
      expect(read.found.size).toBe(0);
      expect(read.missing).toEqual([desktopId(9000), desktopId(9001)]);
    } finally {
      await server.stop();
    }
  });

  it('repeats a read after a 503 within the call, as every read does', async () => {
    const { sim, desktops } = await workspace();
    sim.desktops.seed(PROJECT_ID, { desktop_id: 'd1' });
    sim.planFaults({ kind: '503', route: 'list-desktops' });
    const read = await desktops.readDesktops(PROJECT, ['d1'], KEY);
    expect(read.found.has('d1')).toBe(true);
    expect(sim.requestsReceived).toBe(2);
  });
});

describe('BatchRunDesktops and ShowJob', () => {
  it('starts a stopped desktop: the job runs, then succeeds, and the desktop is ACTIVE, then registered', async () => {
    // Prepare
    const { sim, desktops, advanceSeconds } = await workspace();
    sim.desktops.seed(PROJECT_ID, { desktop_id: 'd1', status: 'SHUTOFF' });
    // Act
    const accepted = await desktops.runDesktops(PROJECT, { desktopIds: ['d1'], opType: 'os-start', type: 'SOFT' }, KEY);
    const running = await desktops.showJob(PROJECT, accepted.jobId!, KEY);
    const powering = await desktops.showDesktop(PROJECT, 'd1', KEY);
    advanceSeconds(30);
    const done = await desktops.showJob(PROJECT, accepted.jobId!, KEY);
    const booted = await desktops.showDesktop(PROJECT, 'd1', KEY);
    advanceSeconds(10);
    const registered = await desktops.showDesktop(PROJECT, 'd1', KEY);
    // Assess
    expect(accepted.failed).toEqual([]);
    expect(accepted.requestId).toMatch(/^[0-9a-f]{32}$/);
    expect(running).toMatchObject({ id: accepted.jobId, status: 'RUNNING' });
    expect(powering).toMatchObject({ status: 'SHUTOFF', task_status: 'powering-on' });
    expect(done).toMatchObject({
      status: 'SUCCESS',
      sub_jobs: [{ entities: { desktop_id: 'd1' }, status: 'SUCCESS' }],
    });
    expect(booted).toMatchObject({ status: 'ACTIVE', login_status: 'UNREGISTER' });
    expect(registered).toMatchObject({ status: 'ACTIVE', login_status: 'REGISTERED' });
    expect(sim.desktops.startsOf('d1')).toBe(1);
  });

  it('a start that fails: the job ends FAIL with the reason, and the desktop stays off', async () => {
    // Prepare
    const { sim, desktops, advanceSeconds } = await workspace();
    sim.desktops.seed(PROJECT_ID, { desktop_id: 'd1', status: 'SHUTOFF' });
    sim.desktops.failNextStart('d1', { code: 'WKS.START', reason: 'Insufficient resources in the zone.' });
    // Act
    const accepted = await desktops.runDesktops(PROJECT, { desktopIds: ['d1'], opType: 'os-start' }, KEY);
    advanceSeconds(30);
    const job = await desktops.showJob(PROJECT, accepted.jobId!, KEY);
    // Assess
    expect(job).toMatchObject({
      status: 'FAIL',
      job_error_code: 'WKS.START',
      fail_reason: 'Insufficient resources in the zone.',
      sub_jobs: [{ status: 'FAILED', fail_reason: 'Insufficient resources in the zone.' }],
    });
    expect(await desktops.showDesktop(PROJECT, 'd1', KEY)).toMatchObject({ status: 'SHUTOFF', task_status: '' });
  });

  it('names the desktops it could not act on, and refuses a request none could take as a permanent 409, sent once', async () => {
    // Prepare
    const { sim, desktops } = await workspace();
    sim.desktops.seed(PROJECT_ID, { desktop_id: 'on' });
    sim.desktops.seed(PROJECT_ID, { desktop_id: 'off', status: 'SHUTOFF' });
    // Act
    const partly = await desktops.runDesktops(PROJECT, { desktopIds: ['on', 'off', 'gone'], opType: 'os-start' }, KEY);
    sim.resetCounters();
    const none = await rejection(desktops.runDesktops(PROJECT, { desktopIds: ['on'], opType: 'os-start' }, KEY));
    // Assess
    expect(partly.jobId).toMatch(/^[0-9a-f]{32}$/);
    expect(partly.failed.map((entry) => [entry.desktop_id, entry.error_code])).toEqual([
      ['on', OPERATION_CONFLICT],
      ['gone', 'WKS.DESKTOP_NOT_FOUND'],
    ]);
    expect(none).toMatchObject({ status: 409, code: OPERATION_CONFLICT, kind: 'permanent' });
    expect(sim.requestsReceived).toBe(1);
  });

  it('does not send a start again after a 502 (it may have landed), but does after a 503', async () => {
    // Prepare
    const { sim, desktops } = await workspace();
    sim.desktops.seed(PROJECT_ID, { desktop_id: 'd1', status: 'SHUTOFF' });
    sim.desktops.seed(PROJECT_ID, { desktop_id: 'd2', status: 'SHUTOFF' });
    sim.planFaults(
      { kind: '502', route: 'desktop-action', call: 1 },
      { kind: '503', route: 'desktop-action', call: 2 },
    );
    // Act
    const lost = await rejection(desktops.runDesktops(PROJECT, { desktopIds: ['d1'], opType: 'os-start' }, KEY));
    const repeated = await desktops.runDesktops(PROJECT, { desktopIds: ['d2'], opType: 'os-start' }, KEY);
    // Assess
    expect(lost).toMatchObject({ status: 502, kind: 'transient' });
    expect(repeated.jobId).toBeDefined();
    expect(sim.desktops.startsOf('d1')).toBe(0);
    expect(sim.desktops.startsOf('d2')).toBe(1);
    expect(sim.requestsReceived).toBe(3);
  });

  it('answers an unknown job with a 404', async () => {
    const { desktops } = await workspace();
    const error = await rejection(desktops.showJob(PROJECT, 'no-such-job', KEY));
    expect(error).toMatchObject({ status: 404, kind: 'permanent' });
    expect(isNotFound(error)).toBe(true);
  });

  it('shows the start a dry run would send, without sending it or showing the key', async () => {
    const { sim, desktops } = await workspace();
    const described = desktops.describeAction(
      PROJECT,
      { desktopIds: ['d1', 'd2'], opType: 'os-start', type: 'SOFT' },
      KEY,
    );
    expect(described).toEqual({
      method: 'POST',
      url: `${sim.url}/v2/${PROJECT_ID}/desktops/action`,
      body: '{"desktop_ids":["d1","d2"],"op_type":"os-start","type":"SOFT"}',
      signedHeaderNames: ['content-type', 'host', 'x-project-id', 'x-sdk-date'],
    });
    expect(JSON.stringify(described)).not.toContain(KEY.sk);
    expect(sim.requestsReceived).toBe(0);
  });
});

describe('a retry on a desktop that is not ready', () => {
  it('fails again on a stopped desktop, and runs once the desktop was started, booted and registered', async () => {
    // Prepare
    const { sim, client, desktops, advanceSeconds } = await workspace();
    sim.seedRecords(PROJECT_ID, [
      failedRecord({ id: 'r1', script_task_id: 't1', resource_id: 'd1', reason: 'Desktop is powered off' }),
    ]);
    sim.desktops.seed(PROJECT_ID, { desktop_id: 'd1', status: 'SHUTOFF' });
    // Act
    const blind = await client.retry(PROJECT, { recordId: 'r1' }, KEY);
    await desktops.runDesktops(PROJECT, { desktopIds: ['d1'], opType: 'os-start' }, KEY);
    advanceSeconds(40);
    const woken = await client.retry(PROJECT, { recordId: 'r1' }, KEY);
    // Assess
    expect(sim.recordsOfTask(PROJECT_ID, blind.taskId)).toMatchObject([
      { status: 'FAILED', result_code: DESKTOP_NOT_READY, reason: 'Desktop is not running (status SHUTOFF).' },
    ]);
    expect(sim.recordsOfTask(PROJECT_ID, woken.taskId)).toMatchObject([{ status: 'SUCCESS' }]);
  });
});
