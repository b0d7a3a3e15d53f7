import { describe, expect, it } from 'vitest';
import { CircuitBreakers } from '../../lib/workspace/circuit-breakers.js';
import { WorkspaceCredentials } from '../../lib/workspace/credentials.js';
import { type DesktopCalls, InvocationDesktops } from '../../lib/workspace/desktop-reads.js';
import type { DesktopDetail } from '../../lib/workspace/desktops.js';
import { ErrorBudget } from '../../lib/workspace/error-budget.js';
import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import type { KeyedCalls } from '../../lib/workspace/key-calls.js';
import type { SigningCredentials } from '../../lib/workspace/signer.js';
import { desktopFleet } from '../helpers/desktops.js';
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

/** Desktop calls over a fleet, each call noted; `fail` answers for a call instead. */
function calls(
  fail: { read?: WorkspaceApiError; start?: WorkspaceApiError | 'listed as failed'; listOmits?: string } = {},
) {
  const { fleet } = desktopFleet();
  const log: string[] = [];
  const desktops: DesktopCalls = {
    readDesktops: async (_p, ids) => {
      const wanted = [...ids];
      log.push(`list ${wanted.join(',')}`);
      if (fail.read) throw fail.read;
      const found = new Map<string, DesktopDetail>(
        fleet
          .list(PROJECT_ID, { desktopIds: wanted }, 0, 500)
          .desktops.filter((d) => d.desktop_id !== fail.listOmits)
          .map((d) => [d.desktop_id, d]),
      );
      return { found, missing: wanted.filter((id) => !found.has(id)), calls: 1 };
    },
    showDesktop: async (_p, id) => {
      log.push(`show ${id}`);
      const detail = fleet.detail(PROJECT_ID, id);
      if (!detail)
        throw new WorkspaceApiError({ status: 404, code: 'WKS.DESKTOP_NOT_FOUND', message: 'no such desktop' });
      return detail;
    },
    runDesktops: async (_p, action) => {
      log.push(`start ${action.desktopIds.join(',')}`);
      // A 200 that names the desktop in failed_operation_list, as Workspace answers for some desktops of a batch.
      if (fail.start === 'listed as failed')
        return {
          failed: action.desktopIds.map((id) => ({
            desktop_id: id,
            error_code: 'WKS.00010032',
            error_msg: 'Operation conflict.',
          })),
        };
      if (fail.start) throw fail.start;
      const result = fleet.run(PROJECT_ID, action.desktopIds, action.opType);
      if (!result.ok)
        throw new WorkspaceApiError({ status: result.status, code: result.code, message: result.message });
      return { jobId: result.jobId, failed: result.failed };
    },
    describeAction: (_p, action, _c: SigningCredentials) => ({
      method: 'POST',
      url: 'https://workspace.test/action',
      body: JSON.stringify(action),
      signedHeaderNames: [],
    }),
  };
  return { fleet, log, desktops };
}

describe('reading desktops in one invocation', () => {
  it('reads the ids asked for in one turn together, and each desktop once', async () => {
    // Prepare
    const { fleet, log, desktops } = calls();
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
    const { fleet, log, desktops } = calls({ listOmits: 'd1' });
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
    const { desktops } = calls({ read: new WorkspaceApiError({ status: 503, code: 'APIG.0201', message: 'down' }) });
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
    const { fleet, desktops } = calls(error ? { start: error } : {});
    fleet.seed(PROJECT_ID, { desktop_id: 'd1', status: 'SHUTOFF' });
    if (state === 'powering-on') fleet.run(PROJECT_ID, ['d1'], 'os-start');
    const reads = new InvocationDesktops(desktops);

    // Act
    const result = await reads.start(keys, project, 'd1');

    // Assess
    expect(result.kind).toBe(kind);
  });

  it("forgets the desktop's reading: the next read in the invocation asks Workspace again", async () => {
    const { fleet, log, desktops } = calls();
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
