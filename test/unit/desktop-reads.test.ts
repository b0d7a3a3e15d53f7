import { describe, expect, it } from 'vitest';
import { CircuitBreakers } from '../../lib/workspace/circuit-breakers.js';
import { WorkspaceCredentials } from '../../lib/workspace/credentials.js';
import { InvocationDesktops } from '../../lib/workspace/desktop-reads.js';
import { ErrorBudget } from '../../lib/workspace/error-budget.js';
import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import type { KeyedCalls } from '../../lib/workspace/key-calls.js';
import { fleetDesktopCalls } from '../helpers/desktops.js';
import { PROJECT_ID } from '../helpers/factories.js';

/**
 * One invocation's desktop reads and starts (lib/workspace/desktop-reads.ts)
 * over the simulator's desktops in memory (the calls themselves are tested
 * over HTTP in test/integration/workspace-desktops.test.ts): what is read
 * together, what is read once, and what a start's answer means.
 */

const KEY = { ak: 'AK', sk: 'SK' };
const keys: KeyedCalls = {
  credentials: new WorkspaceCredentials('s', { load: async () => KEY, reload: async () => KEY }),
  breakers: new CircuitBreakers({ consecutiveFailures: 100, halfOpenAfterMs: 1_000, authCooldownMs: 1_000 }),
  projectId: PROJECT_ID,
  endpoint: 'https://workspace.test',
};
const project = { projectId: PROJECT_ID };

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

    // Assess
    expect([a, b, c].map((r) => r.kind)).toEqual(['present', 'present', 'present']);
    expect([...again.values()].map((r) => r.kind)).toEqual(['present', 'present']);
    expect(log).toEqual(['list d1,d2,d3']);
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
