import { describe, expect, it } from 'vitest';
import { UnsafeIdentifierError } from '../../lib/events/identifiers.js';
import { isNotFound } from '../../lib/workspace/desktop-calls.js';
import {
  desktopActionBody,
  desktopIdBatches,
  desktopListQuery,
  desktopStateOf,
  jobOutcomeOf,
  MAX_DESKTOP_ID_QUERY_CHARS,
} from '../../lib/workspace/desktops.js';
import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import { desktopId } from '../helpers/desktops.js';

/** Building the desktop calls and reading their answers (docs/workspace-api.md, "Desktops"). */

describe('desktop ids in list-sized batches', () => {
  it('groups 1,200 desktop ids into 500, 500 and 200, in order, each id once', () => {
    // Prepare
    const ids = Array.from({ length: 1200 }, (_, i) => desktopId(i));
    // Act
    const batches = desktopIdBatches([...ids, ids[3]!, ids[700]!]);
    // Assess
    expect(batches.map((batch) => batch.length)).toEqual([500, 500, 200]);
    expect(batches.flat()).toEqual(ids);
  });

  it('makes smaller batches of long ids, so no request URI reaches the gateway limit', () => {
    // Prepare: 64-character ids take 76 characters each as `desktop_id=…&`
    const ids = Array.from({ length: 500 }, (_, i) => `${'a'.repeat(56)}${String(i).padStart(8, '0')}`);
    // Act
    const batches = desktopIdBatches(ids);
    // Assess
    expect(batches.length).toBe(2);
    for (const batch of batches)
      expect(batch.reduce((chars, id) => chars + `desktop_id=${id}&`.length, 0)).toBeLessThanOrEqual(
        MAX_DESKTOP_ID_QUERY_CHARS,
      );
    expect(batches.flat()).toEqual(ids);
  });

  it('takes a smaller count per batch when asked, and nothing from nothing', () => {
    expect(desktopIdBatches(['a', 'b', 'c'], 2)).toEqual([['a', 'b'], ['c']]);
    expect(desktopIdBatches([])).toEqual([]);
  });

  it('refuses an id that is not a safe path segment, naming the field', () => {
    expect(() => desktopIdBatches(['ok', '../x'])).toThrow(UnsafeIdentifierError);
    expect(() => desktopIdBatches(['ok', '../x'])).toThrow(/^desktop_id /);
  });
});

describe('the list query', () => {
  it('repeats desktop_id, and carries status, maintenance, offset and limit', () => {
    expect(
      desktopListQuery({ desktopIds: ['d1', 'd2'], status: 'SHUTOFF', inMaintenanceMode: false }, 500, 500),
    ).toEqual({
      offset: '500',
      limit: '500',
      desktop_id: ['d1', 'd2'],
      status: 'SHUTOFF',
      in_maintenance_mode: 'false',
    });
    expect(desktopListQuery({}, 0, 10)).toEqual({ offset: '0', limit: '10' });
  });
});

describe('the action body', () => {
  it('is {desktop_ids, op_type, type}, each desktop once', () => {
    expect(JSON.parse(desktopActionBody({ desktopIds: ['d1', 'd2', 'd1'], opType: 'os-start', type: 'SOFT' }))).toEqual(
      { desktop_ids: ['d1', 'd2'], op_type: 'os-start', type: 'SOFT' },
    );
    expect(JSON.parse(desktopActionBody({ desktopIds: ['d1'], opType: 'reboot' }))).toEqual({
      desktop_ids: ['d1'],
      op_type: 'reboot',
    });
  });

  it('refuses no desktops, an unknown operation or type, with what is wrong', () => {
    expect(() => desktopActionBody({ desktopIds: [], opType: 'os-start' })).toThrow(
      'desktop_ids must name at least one desktop',
    );
    expect(() => desktopActionBody({ desktopIds: ['d1'], opType: 'start' as never })).toThrow(
      'op_type must be one of os-start, reboot, os-stop, os-hibernate; got "start"',
    );
    expect(() => desktopActionBody({ desktopIds: ['d1'], opType: 'os-start', type: 'soft' as never })).toThrow(
      'type must be SOFT or HARD; got "soft"',
    );
  });
});

describe("a desktop's words", () => {
  it('reads status and login_status trimmed and in any case, task_status as nothing when empty', () => {
    expect(
      desktopStateOf({
        desktop_id: 'd1',
        status: ' active ',
        task_status: '',
        login_status: 'registered',
        in_maintenance_mode: true,
      }),
    ).toEqual({
      desktopId: 'd1',
      power: 'active',
      status: ' active ',
      taskStatus: undefined,
      login: 'registered',
      inMaintenance: true,
    });
    expect(
      desktopStateOf({ desktop_id: 'd2', status: 'SHUTOFF', task_status: 'powering-on', login_status: 'UNREGISTER' }),
    ).toMatchObject({ power: 'shutoff', taskStatus: 'powering-on', login: 'unregistered', inMaintenance: false });
    expect(desktopStateOf({ desktop_id: 'd3', status: 'HIBERNATED' })).toMatchObject({
      power: 'hibernated',
      login: 'unknown',
    });
    expect(desktopStateOf({ desktop_id: 'd4', status: 'ERROR', login_status: 'DISCONNECTED' })).toMatchObject({
      power: 'error',
      login: 'disconnected',
    });
  });

  it('reads an empty status (a desktop being deleted) or a new word as unknown, never as a power state', () => {
    expect(desktopStateOf({ desktop_id: 'd1', status: '', task_status: 'deleting' })).toMatchObject({
      power: 'unknown',
      status: '',
      taskStatus: 'deleting',
    });
    expect(desktopStateOf({ desktop_id: 'd1', status: 'FROZEN' })).toMatchObject({ power: 'unknown' });
    expect(desktopStateOf({ desktop_id: 'd1' })).toMatchObject({ power: 'unknown', status: '' });
  });
});

describe('a job status', () => {
  it.each([
    ['WAITING', 'running'],
    ['RUNNING', 'running'],
    ['INIT', 'running'],
    ['SUCCESS', 'succeeded'],
    ['COMPLETE', 'succeeded'],
    ['FAIL', 'failed'],
    ['failed', 'failed'],
    ['PAUSED', 'unknown'],
    [undefined, 'unknown'],
  ] as const)('%s reads as %s', (status, outcome) => {
    expect(jobOutcomeOf(status)).toBe(outcome);
  });
});

describe('a desktop that does not exist', () => {
  it("is Workspace's 404, whatever its code, and not the gateway's 404 for an unknown API", () => {
    expect(isNotFound(new WorkspaceApiError({ status: 404, code: 'WKS.DESKTOP_NOT_FOUND', message: 'gone' }))).toBe(
      true,
    );
    expect(isNotFound(new WorkspaceApiError({ status: 404, code: 'HTTP_404', message: 'no body' }))).toBe(true);
    expect(isNotFound(new WorkspaceApiError({ status: 404, code: 'APIG.0101', message: 'no such API' }))).toBe(false);
    expect(isNotFound(new WorkspaceApiError({ status: 400, code: 'WKS.00211102', message: 'bad' }))).toBe(false);
    expect(isNotFound(new Error('404'))).toBe(false);
  });
});
