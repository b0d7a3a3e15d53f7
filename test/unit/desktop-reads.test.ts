import { describe, expect, it } from 'vitest';
import { CircuitBreakers } from '../../lib/workspace/circuit-breakers.js';
import { WorkspaceCredentials } from '../../lib/workspace/credentials.js';
import { type DesktopReading, InvocationDesktops } from '../../lib/workspace/desktop-reads.js';
import { ErrorBudget } from '../../lib/workspace/error-budget.js';
import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import type { KeyedCalls } from '../../lib/workspace/key-calls.js';
import { fleetDesktopCalls } from '../helpers/desktops.js';
import { OTHER_PROJECT_ID, PROJECT_ID } from '../helpers/factories.js';

/**
 * One invocation's desktop reads and starts (lib/workspace/desktop-reads.ts)
 * over the simulator's desktops in memory (the calls themselves are tested
 * over HTTP in test/integration/workspace-desktops.test.ts): what is read
 * together, what is read once, and what a start's answer means.
 */

const KEY = { ak: 'AK', sk: 'SK' };
/** Keys with a breaker of their own (a 401 refuses the key in it). */
const keysOfOwn = (): KeyedCalls => ({
  credentials: new WorkspaceCredentials('s', { load: async () => KEY, reload: async () => KEY }),
  breakers: new CircuitBreakers({ consecutiveFailures: 100, halfOpenAfterMs: 1_000, authCooldownMs: 1_000 }),
  projectId: PROJECT_ID,
  endpoint: 'https://workspace.test',
});
const keys = keysOfOwn();
const project = { projectId: PROJECT_ID };

/** The id of the desktop a reading found (none: not present). */
const desktopOf = (reading: DesktopReading | undefined) =>
  reading?.kind === 'present' ? reading.detail.desktop_id : undefined;

describe('reading desktops in one invocation', () => {
  it('reads the ids asked for in one turn together, and each desktop once', async () => {
    // Prepare
    const { fleet, log, desktops } = fleetDesktopCalls();
    for (const id of ['d1', 'd2', 'd3']) fleet.seed(PROJECT_ID, { desktop_id: id });
    const reads = new InvocationDesktops(desktops);

    // Act
    const [a, b, c] = await Promise.all([
      reads.stateOf(keys, project, 'd1'),
      reads.stateOf(keys, project, 'd2'),
      reads.stateOf(keys, project, 'd3'),
    ]);
    const again = await reads.statesOf(keys, project, ['d1', 'd2']);

    // Assess: each id has its own desktop's reading.
    expect([a, b, c].map(desktopOf)).toEqual(['d1', 'd2', 'd3']);
    expect([...again].map(([id, r]) => [id, desktopOf(r)])).toEqual([
      ['d1', 'd1'],
      ['d2', 'd2'],
    ]);
    expect(log).toEqual(['list d1,d2,d3']);
    expect(reads.requests).toBe(1);
  });

  it('ids asked for in a later turn are read in a request of their own', async () => {
    // Prepare
    const { fleet, log, desktops } = fleetDesktopCalls();
    for (const id of ['d1', 'd2', 'd3']) fleet.seed(PROJECT_ID, { desktop_id: id });
    const reads = new InvocationDesktops(desktops);
    await reads.stateOf(keys, project, 'd1');

    // Act
    const later = await reads.statesOf(keys, project, ['d2', 'd3']);

    // Assess
    expect([...later.values()].map(desktopOf)).toEqual(['d2', 'd3']);
    expect(log).toEqual(['list d1', 'list d2,d3']);
  });

  it("the same desktop id in two projects is each project's own desktop, read in a request per project", async () => {
    // Prepare: d1 is a desktop of PROJECT_ID only.
    const { fleet, log, desktops } = fleetDesktopCalls();
    fleet.seed(PROJECT_ID, { desktop_id: 'd1' });
    const reads = new InvocationDesktops(desktops);

    // Act
    const [mine, theirs] = await Promise.all([
      reads.stateOf(keys, project, 'd1'),
      reads.stateOf({ ...keys, projectId: OTHER_PROJECT_ID }, { projectId: OTHER_PROJECT_ID }, 'd1'),
    ]);

    // Assess
    expect(mine).toMatchObject({ kind: 'present' });
    expect(theirs).toEqual({ kind: 'gone', evidence: '404 WKS.DESKTOP_NOT_FOUND' });
    expect(log).toEqual(['list d1', 'list d1', 'show d1']);
  });

  it('asks for an id the list left out on its own: there after all, or gone (404)', async () => {
    // Prepare
    const { fleet, log, desktops } = fleetDesktopCalls({ listOmits: 'd1' });
    fleet.seed(PROJECT_ID, { desktop_id: 'd1' });
    const reads = new InvocationDesktops(desktops);

    // Act
    const readings = await reads.statesOf(keys, project, ['d1', 'gone']);

    // Assess
    expect(readings.get('d1')).toMatchObject({ kind: 'present', state: { power: 'active', login: 'registered' } });
    expect(readings.get('gone')).toEqual({ kind: 'gone', evidence: '404 WKS.DESKTOP_NOT_FOUND' });
    expect(log).toEqual(['list d1,gone', 'show d1', 'show gone']);
    expect(reads.requests).toBe(3);
  });

  it('every read Workspace answered counts as a call that worked, a 404 included; a detail that failed counts as failed', async () => {
    // Prepare: the list leaves d1 and d2 out; d1's detail is served, d2's fails, gone's is a 404.
    const { fleet, desktops } = fleetDesktopCalls({ listOmits: ['d1', 'd2'] });
    for (const id of ['d1', 'd2']) fleet.seed(PROJECT_ID, { desktop_id: id });
    const down = new WorkspaceApiError({ status: 503, code: 'APIG.0201', message: 'down' });
    const budget = new ErrorBudget(0.5, 1);
    const reads = new InvocationDesktops(
      { ...desktops, showDesktop: (p, id, c) => (id === 'd2' ? Promise.reject(down) : desktops.showDesktop(p, id, c)) },
      budget,
    );

    // Act
    const readings = await reads.statesOf(keys, project, ['d1', 'd2', 'gone']);

    // Assess
    expect(desktopOf(readings.get('d1'))).toBe('d1');
    expect(readings.get('d2')).toEqual({ kind: 'unreadable', error: down });
    expect(readings.get('gone')).toMatchObject({ kind: 'gone' });
    expect(budget.describe()).toBe('1 of 4 Workspace calls in this invocation failed');
  });

  it('a desktop the list answers beyond those asked for is ignored', async () => {
    const { fleet, desktops } = fleetDesktopCalls();
    for (const id of ['d1', 'd2']) fleet.seed(PROJECT_ID, { desktop_id: id });
    const reads = new InvocationDesktops({
      ...desktops,
      readDesktops: async (p, _ids, c) => desktops.readDesktops(p, ['d1', 'd2'], c),
    });
    expect(desktopOf(await reads.stateOf(keys, project, 'd1'))).toBe('d1');
    expect(desktopOf(await reads.stateOf(keys, project, 'd2'))).toBe('d2');
  });

  it('a detail that fails other than by Workspace is unreadable and not counted as a Workspace call', async () => {
    const { desktops } = fleetDesktopCalls({ listOmits: 'd1' });
    const broken = new TypeError('socket closed');
    const budget = new ErrorBudget(0.5, 1);
    const reads = new InvocationDesktops({ ...desktops, showDesktop: () => Promise.reject(broken) }, budget);
    expect(await reads.stateOf(keys, project, 'd1')).toEqual({ kind: 'unreadable', error: broken });
    expect(budget.describe()).toBe('0 of 1 Workspace calls in this invocation failed');
  });

  it("a read that fails is every asked desktop's reading, counted once in the error budget", async () => {
    // Prepare
    const { desktops } = fleetDesktopCalls({
      read: new WorkspaceApiError({ status: 503, code: 'APIG.0201', message: 'down' }),
    });
    const budget = new ErrorBudget(0.5, 1);
    const reads = new InvocationDesktops(desktops, budget);

    // Act
    const readings = await reads.statesOf(keys, project, ['d1', 'd2']);

    // Assess
    expect([...readings.values()].map((r) => r.kind)).toEqual(['unreadable', 'unreadable']);
    expect(budget.describe()).toBe('1 of 1 Workspace calls in this invocation failed');
  });
});

describe('starting a desktop', () => {
  it.each<[string, WorkspaceApiError | 'listed as failed' | undefined, string, string]>([
    ['accepted: started, with its job', undefined, 'SHUTOFF', 'started'],
    [
      'refused for that desktop in failed_operation_list: already starting or on',
      'listed as failed',
      'SHUTOFF',
      'already',
    ],
    ['refused whole because someone else is starting it (409): already', undefined, 'powering-on', 'already'],
    [
      'a 409 WKS.00010032 for the whole request: already',
      new WorkspaceApiError({ status: 409, code: 'WKS.00010032', message: 'Operation conflict.' }),
      'SHUTOFF',
      'already',
    ],
    [
      'a 404: gone',
      new WorkspaceApiError({ status: 404, code: 'WKS.DESKTOP_NOT_FOUND', message: 'no such desktop' }),
      'SHUTOFF',
      'gone',
    ],
    [
      'a 503: certainly not sent',
      new WorkspaceApiError({ status: 503, code: 'APIG.0201', message: 'down' }),
      'SHUTOFF',
      'not-sent',
    ],
    [
      'a throttle: certainly not sent',
      new WorkspaceApiError({ status: 429, code: 'APIG.0308', message: 'slow down' }),
      'SHUTOFF',
      'not-sent',
    ],
    [
      'a 403: refused for good',
      new WorkspaceApiError({ status: 403, code: 'APIG.0302', message: 'no permission' }),
      'SHUTOFF',
      'refused',
    ],
    [
      'no answer in time: unknown (it may have started)',
      new WorkspaceApiError({ code: 'TIMEOUT', message: 'no answer' }),
      'SHUTOFF',
      'unknown',
    ],
  ])('%s', async (_, error, state, kind) => {
    // Prepare: a desktop off, or off and being started by someone else already.
    const { fleet, desktops } = fleetDesktopCalls(error ? { start: error } : {});
    fleet.seed(PROJECT_ID, { desktop_id: 'd1', status: 'SHUTOFF' });
    if (state === 'powering-on') fleet.run(PROJECT_ID, ['d1'], 'os-start');
    const reads = new InvocationDesktops(desktops);

    // Act
    const result = await reads.start(keys, project, 'd1');

    // Assess
    expect(result.kind).toBe(kind);
  });

  it('accepted: the job and the request id Workspace answered, and a call that worked', async () => {
    const { fleet, desktops } = fleetDesktopCalls();
    fleet.seed(PROJECT_ID, { desktop_id: 'd1', status: 'SHUTOFF' });
    const budget = new ErrorBudget(0.5, 1);
    const reads = new InvocationDesktops(
      { ...desktops, runDesktops: async () => ({ jobId: 'job-7', requestId: 'req-7', failed: [] }) },
      budget,
    );
    expect(await reads.start(keys, project, 'd1')).toEqual({ kind: 'started', jobId: 'job-7', requestId: 'req-7' });
    expect(budget.describe()).toBe('0 of 1 Workspace calls in this invocation failed');
  });

  it.each<[string, Array<{ desktop_id?: string; error_code?: string; error_msg?: string }>, unknown]>([
    [
      'naming this desktop: already, with its code and message',
      [{ desktop_id: 'd1', error_code: 'WKS.00010032', error_msg: 'Operation conflict.' }],
      { kind: 'already', evidence: 'WKS.00010032 Operation conflict.' },
    ],
    [
      'naming no desktop: already (it can only be this one)',
      [{ error_code: 'WKS.00010032' }],
      { kind: 'already', evidence: 'WKS.00010032' },
    ],
    [
      'with neither code nor message: already, on what little it said',
      [{ desktop_id: 'd1' }],
      { kind: 'already', evidence: '-' },
    ],
    [
      'naming another desktop only: started',
      [{ desktop_id: 'd2', error_code: 'WKS.00010032' }],
      { kind: 'started', jobId: 'job-8' },
    ],
  ])('a 200 with a failed_operation_list %s', async (_, failed, expected) => {
    const { desktops } = fleetDesktopCalls();
    const reads = new InvocationDesktops({ ...desktops, runDesktops: async () => ({ jobId: 'job-8', failed }) });
    expect(await reads.start(keys, project, 'd1')).toEqual(expected);
  });

  it.each<[string, unknown, unknown, string]>([
    [
      'a 409 conflict: already, with the refusal as evidence',
      new WorkspaceApiError({ status: 409, code: 'WKS.00010032', message: 'Operation conflict.', requestId: 'r-1' }),
      { kind: 'already', evidence: '409 WKS.00010032 (X-Request-Id r-1)' },
      '1 of 1',
    ],
    [
      'a 404: gone, with the refusal as evidence',
      new WorkspaceApiError({ status: 404, code: 'WKS.DESKTOP_NOT_FOUND', message: 'no such desktop' }),
      { kind: 'gone', evidence: '404 WKS.DESKTOP_NOT_FOUND' },
      '1 of 1',
    ],
    [
      'a 401: certainly not sent (the keys were not accepted)',
      new WorkspaceApiError({ status: 401, code: 'APIG.1002', message: 'bad signature' }),
      { kind: 'not-sent' },
      '1 of 1',
    ],
    [
      'a 403: refused, the error kept',
      new WorkspaceApiError({ status: 403, code: 'APIG.0302', message: 'no permission' }),
      { kind: 'refused', error: expect.objectContaining({ code: 'APIG.0302' }) },
      '1 of 1',
    ],
    [
      'an error not from Workspace: certainly not sent, not counted',
      new TypeError('bad URL'),
      { kind: 'not-sent' },
      '0 of 0',
    ],
  ])('a start answered by %s', async (_, error, expected, failedOf) => {
    const { desktops } = fleetDesktopCalls();
    const budget = new ErrorBudget(0.5, 1);
    const reads = new InvocationDesktops({ ...desktops, runDesktops: () => Promise.reject(error) }, budget);
    const result = await reads.start(keysOfOwn(), project, 'd1');
    expect(result).toMatchObject(expected as object);
    if (result.kind === 'not-sent' || result.kind === 'unknown') expect(result.error).toBe(error);
    expect(budget.describe()).toBe(`${failedOf} Workspace calls in this invocation failed`);
  });

  it('shows the start as it would be sent: os-start, SOFT, for that desktop alone', () => {
    const { desktops } = fleetDesktopCalls();
    const request = new InvocationDesktops(desktops).describeStart(project, 'd1', KEY);
    expect(JSON.parse(request.body!)).toEqual({ desktopIds: ['d1'], opType: 'os-start', type: 'SOFT' });
  });

  it("forgets the desktop's reading: the next read in the invocation asks Workspace again", async () => {
    const { fleet, log, desktops } = fleetDesktopCalls();
    fleet.seed(PROJECT_ID, { desktop_id: 'd1', status: 'SHUTOFF' });
    const reads = new InvocationDesktops(desktops);
    await reads.stateOf(keys, project, 'd1');
    await reads.start(keys, project, 'd1');
    expect(await reads.stateOf(keys, project, 'd1')).toMatchObject({
      state: { power: 'shutoff', taskStatus: 'powering-on' },
    });
    expect(log).toEqual(['list d1', 'start d1', 'list d1']);
  });
});
