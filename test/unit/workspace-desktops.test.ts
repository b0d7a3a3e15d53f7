import { describe, expect, it } from 'vitest';
import {
  DESKTOP_NOT_FOUND,
  DESKTOP_NOT_READY,
  OPERATION_CONFLICT,
  START_FAILED,
} from '../../local/workspace-desktops.js';
import { WorkspaceState } from '../../local/workspace-state.js';
import { DESKTOP_T0, desktopFleet } from '../helpers/desktops.js';
import { failedRecord, PROJECT_ID } from '../helpers/factories.js';

/** The simulator's desktops on an injected clock (docs/workspace-api.md, "What the simulator models", desktops). */

describe('a start takes time', () => {
  it('a stopped desktop powers on for bootSeconds, is ACTIVE but unregistered, then registers registerSeconds later', () => {
    // Prepare
    const { fleet, advanceSeconds } = desktopFleet({ bootSeconds: 30, registerSeconds: 10 });
    fleet.seed(PROJECT_ID, { desktop_id: 'd1', status: 'SHUTOFF' });
    // Act
    const started = fleet.run(PROJECT_ID, ['d1'], 'os-start');
    const during = fleet.detail(PROJECT_ID, 'd1');
    advanceSeconds(29);
    const justBefore = fleet.detail(PROJECT_ID, 'd1');
    advanceSeconds(1);
    const booted = fleet.detail(PROJECT_ID, 'd1');
    advanceSeconds(10);
    const registered = fleet.detail(PROJECT_ID, 'd1');
    // Assess
    expect(started).toEqual({ ok: true, jobId: 'job2', failed: [] });
    expect(during).toMatchObject({ status: 'SHUTOFF', task_status: 'powering-on', login_status: 'UNREGISTER' });
    expect(justBefore).toMatchObject({ status: 'SHUTOFF', task_status: 'powering-on' });
    expect(booted).toMatchObject({ status: 'ACTIVE', task_status: '', login_status: 'UNREGISTER' });
    expect(registered).toMatchObject({ status: 'ACTIVE', task_status: '', login_status: 'REGISTERED' });
  });

  it('a hibernated desktop wakes the same way', () => {
    const { fleet, advanceSeconds } = desktopFleet({ bootSeconds: 20, registerSeconds: 5 });
    fleet.seed(PROJECT_ID, { desktop_id: 'd1', status: 'HIBERNATED' });
    fleet.run(PROJECT_ID, ['d1'], 'os-start');
    expect(fleet.detail(PROJECT_ID, 'd1')).toMatchObject({ status: 'HIBERNATED', task_status: 'powering-on' });
    advanceSeconds(25);
    expect(fleet.detail(PROJECT_ID, 'd1')).toMatchObject({ status: 'ACTIVE', login_status: 'REGISTERED' });
  });

  it('the job runs while the desktop boots and ends SUCCESS with its desktop', () => {
    // Prepare
    const { fleet, advanceSeconds } = desktopFleet({ bootSeconds: 30 });
    fleet.seed(PROJECT_ID, { desktop_id: 'd1', status: 'SHUTOFF' });
    const started = fleet.run(PROJECT_ID, ['d1'], 'os-start');
    if (!started.ok) throw new Error(started.message);
    // Act
    const running = fleet.job(PROJECT_ID, started.jobId!);
    advanceSeconds(30);
    const done = fleet.job(PROJECT_ID, started.jobId!);
    // Assess
    expect(running).toMatchObject({
      status: 'RUNNING',
      sub_jobs_total: 1,
      sub_jobs: [{ status: 'RUNNING', entities: { desktop_id: 'd1' } }],
    });
    expect(running!.end_time).toBeUndefined();
    expect(done).toMatchObject({
      status: 'SUCCESS',
      begin_time: '2026-11-29T10:00:00Z',
      end_time: '2026-11-29T10:00:30Z',
      sub_jobs: [{ status: 'SUCCESS', end_time: '2026-11-29T10:00:30Z' }],
    });
    expect(done!.fail_reason).toBeUndefined();
  });
});

describe('a start that fails', () => {
  it('by plan: the job ends FAIL with the reason, and the desktop is back where it was', () => {
    // Prepare
    const { fleet, advanceSeconds } = desktopFleet({ bootSeconds: 30 });
    fleet.seed(PROJECT_ID, { desktop_id: 'd1', status: 'SHUTOFF' });
    fleet.failNextStart('d1', { code: 'WKS.START', reason: 'No capacity in the zone.' });
    // Act
    const started = fleet.run(PROJECT_ID, ['d1'], 'os-start');
    if (!started.ok) throw new Error(started.message);
    advanceSeconds(30);
    // Assess
    expect(fleet.job(PROJECT_ID, started.jobId!)).toMatchObject({
      status: 'FAIL',
      job_error_code: 'WKS.START',
      fail_reason: 'No capacity in the zone.',
      sub_jobs: [{ status: 'FAILED', error_code: 'WKS.START', fail_reason: 'No capacity in the zone.' }],
    });
    expect(fleet.detail(PROJECT_ID, 'd1')).toMatchObject({
      status: 'SHUTOFF',
      task_status: '',
      login_status: 'UNREGISTER',
    });
  });

  it('a planned failure is used once: the next start succeeds', () => {
    const { fleet, advanceSeconds } = desktopFleet({ bootSeconds: 30 });
    fleet.seed(PROJECT_ID, { desktop_id: 'd1', status: 'SHUTOFF' });
    fleet.failNextStart('d1');
    fleet.run(PROJECT_ID, ['d1'], 'os-start');
    advanceSeconds(30);
    fleet.run(PROJECT_ID, ['d1'], 'os-start');
    advanceSeconds(30);
    expect(fleet.detail(PROJECT_ID, 'd1')).toMatchObject({ status: 'ACTIVE' });
    expect(fleet.startsOf('d1')).toBe(2);
  });

  it('by share: the seeded roll decides which starts fail', () => {
    // Prepare: rolls 0.1 (fails under a share of 0.5), then 0.9 (succeeds)
    const rolls = [0.1, 0.9];
    const { fleet, advanceSeconds } = desktopFleet({
      bootSeconds: 30,
      startFailureShare: 0.5,
      random: () => rolls.shift()!,
    });
    fleet.seed(PROJECT_ID, { desktop_id: 'd1', status: 'SHUTOFF' });
    fleet.seed(PROJECT_ID, { desktop_id: 'd2', status: 'SHUTOFF' });
    // Act
    const started = fleet.run(PROJECT_ID, ['d1', 'd2'], 'os-start');
    if (!started.ok) throw new Error(started.message);
    advanceSeconds(30);
    // Assess: one job, one failed part: the job fails
    const job = fleet.job(PROJECT_ID, started.jobId!);
    expect(job).toMatchObject({ status: 'FAIL', job_error_code: START_FAILED, sub_jobs_total: 2 });
    expect(job!.sub_jobs!.map((sub) => [sub.entities?.desktop_id, sub.status])).toEqual([
      ['d1', 'FAILED'],
      ['d2', 'SUCCESS'],
    ]);
    expect(fleet.detail(PROJECT_ID, 'd1')!.status).toBe('SHUTOFF');
    expect(fleet.detail(PROJECT_ID, 'd2')!.status).toBe('ACTIVE');
  });
});

describe('an action the desktop cannot take', () => {
  it('lists a running desktop and an unknown one as failed operations, and starts the rest under one job', () => {
    // Prepare
    const { fleet } = desktopFleet();
    fleet.seed(PROJECT_ID, { desktop_id: 'on' });
    fleet.seed(PROJECT_ID, { desktop_id: 'off', status: 'SHUTOFF' });
    // Act
    const result = fleet.run(PROJECT_ID, ['on', 'gone', 'off'], 'os-start');
    // Assess
    expect(result).toEqual({
      ok: true,
      jobId: 'job2',
      failed: [
        {
          desktop_id: 'on',
          desktop_name: 'DESKTOP-ON',
          error_code: OPERATION_CONFLICT,
          error_msg:
            'Operation conflict. The desktop current instance status is [ACTIVE] and deny operation [os-start], resource id [on].',
        },
        { desktop_id: 'gone', error_code: DESKTOP_NOT_FOUND, error_msg: 'The desktop gone does not exist.' },
      ],
    });
    expect(fleet.startsOf('on')).toBe(1);
  });

  it('refuses the whole request when no desktop could act: 409 for a start already in progress, 404 for a deleted desktop', () => {
    const { fleet } = desktopFleet();
    fleet.seed(PROJECT_ID, { desktop_id: 'd1', status: 'SHUTOFF' });
    fleet.seed(PROJECT_ID, { desktop_id: 'd2' });
    fleet.delete(PROJECT_ID, 'd2');
    fleet.run(PROJECT_ID, ['d1'], 'os-start');
    expect(fleet.run(PROJECT_ID, ['d1'], 'os-start')).toMatchObject({
      ok: false,
      status: 409,
      code: OPERATION_CONFLICT,
      message: expect.stringContaining('[powering-on]'),
    });
    expect(fleet.run(PROJECT_ID, ['d2'], 'os-start')).toMatchObject({
      ok: false,
      status: 404,
      code: DESKTOP_NOT_FOUND,
    });
    expect(fleet.startsOf('d1')).toBe(2);
  });
});

describe('maintenance and deletion', () => {
  it('a desktop in maintenance stays in maintenance through a stop and a start', () => {
    const { fleet, advanceSeconds } = desktopFleet({ bootSeconds: 10 });
    fleet.seed(PROJECT_ID, { desktop_id: 'd1', in_maintenance_mode: true });
    fleet.run(PROJECT_ID, ['d1'], 'os-stop');
    advanceSeconds(10);
    expect(fleet.detail(PROJECT_ID, 'd1')).toMatchObject({ status: 'SHUTOFF', in_maintenance_mode: true });
    fleet.run(PROJECT_ID, ['d1'], 'os-start');
    advanceSeconds(60);
    expect(fleet.detail(PROJECT_ID, 'd1')).toMatchObject({ status: 'ACTIVE', in_maintenance_mode: true });
  });

  it('a deleted desktop has no detail and leaves the listing', () => {
    const { fleet } = desktopFleet();
    fleet.seed(PROJECT_ID, { desktop_id: 'd1' });
    fleet.seed(PROJECT_ID, { desktop_id: 'd2' });
    fleet.delete(PROJECT_ID, 'd1');
    expect(fleet.detail(PROJECT_ID, 'd1')).toBeUndefined();
    expect(fleet.list(PROJECT_ID, { desktopIds: ['d1', 'd2'] }, 0, 500)).toMatchObject({
      total_count: 1,
      desktops: [{ desktop_id: 'd2' }],
    });
  });
});

describe('the listing', () => {
  it('filters by ids, status and maintenance, pages by offset and limit, and counts every match', () => {
    // Prepare
    const { fleet } = desktopFleet();
    for (let i = 0; i < 7; i++)
      fleet.seed(PROJECT_ID, {
        desktop_id: `d${i}`,
        status: i % 2 ? 'SHUTOFF' : 'ACTIVE',
        in_maintenance_mode: i === 4,
      });
    // Act
    const page = fleet.list(PROJECT_ID, { desktopIds: ['d0', 'd1', 'd2', 'd3', 'd4'] }, 2, 2);
    const off = fleet.list(PROJECT_ID, { status: 'SHUTOFF' }, 0, 500);
    const maintained = fleet.list(PROJECT_ID, { inMaintenanceMode: true }, 0, 500);
    // Assess
    expect(page.total_count).toBe(5);
    expect(page.desktops.map((d) => d.desktop_id)).toEqual(['d2', 'd3']);
    expect(off.desktops.map((d) => d.desktop_id)).toEqual(['d1', 'd3', 'd5']);
    expect(maintained.desktops.map((d) => d.desktop_id)).toEqual(['d4']);
  });
});

describe('a script on a desktop that cannot run it fails', () => {
  function stateWithDesktop() {
    let clock = DESKTOP_T0;
    let ids = 0;
    const state = new WorkspaceState({
      now: () => new Date(clock),
      newId: () => `id${++ids}`,
      newRunOutcome: () => 'SUCCESS',
      desktops: { bootSeconds: 30, registerSeconds: 10 },
    });
    state.seedRecords(PROJECT_ID, [
      failedRecord({
        id: 'r1',
        script_task_id: 't1',
        resource_id: 'd1',
        reason: 'Desktop is powered off',
        start_time: '2026-11-29T09:58:00Z',
        end_time: '2026-11-29T09:59:00Z',
      }),
    ]);
    return { state, advanceSeconds: (seconds: number) => (clock += seconds * 1000) };
  }

  function retriedRun(state: WorkspaceState) {
    const result = state.retry(PROJECT_ID, { recordId: 'r1' });
    if (!result.ok) throw new Error(result.message);
    return state.record(PROJECT_ID, result.applied.reruns[0]!.newRecordId)!;
  }

  it('a retry on a stopped desktop fails again as not running, and runs once the desktop is up and registered', () => {
    // Prepare
    const { state, advanceSeconds } = stateWithDesktop();
    state.desktops.seed(PROJECT_ID, { desktop_id: 'd1', status: 'SHUTOFF' });
    // Act
    const whileOff = retriedRun(state);
    state.desktops.run(PROJECT_ID, ['d1'], 'os-start');
    advanceSeconds(30);
    const beforeRegistering = retriedRun(state);
    advanceSeconds(10);
    const once = retriedRun(state);
    // Assess
    expect(whileOff).toMatchObject({
      status: 'FAILED',
      result_code: DESKTOP_NOT_READY,
      reason: 'Desktop is not running (status SHUTOFF).',
    });
    expect(whileOff.end_time).toBe(whileOff.start_time);
    expect(beforeRegistering).toMatchObject({
      status: 'FAILED',
      result_code: DESKTOP_NOT_READY,
      reason: 'Desktop agent is not registered yet.',
    });
    expect(once).toMatchObject({ status: 'SUCCESS' });
  });

  it('while it powers on, on a deleted desktop, and not in maintenance', () => {
    const { state, advanceSeconds } = stateWithDesktop();
    state.desktops.seed(PROJECT_ID, { desktop_id: 'd1', status: 'HIBERNATED' });
    state.desktops.run(PROJECT_ID, ['d1'], 'os-start');
    advanceSeconds(5);
    expect(retriedRun(state)).toMatchObject({
      status: 'FAILED',
      reason: 'Desktop is not running (status HIBERNATED, powering-on).',
    });
    state.desktops.seed(PROJECT_ID, { desktop_id: 'd1', in_maintenance_mode: true });
    expect(retriedRun(state)).toMatchObject({ status: 'SUCCESS' });
    state.desktops.delete(PROJECT_ID, 'd1');
    expect(retriedRun(state)).toMatchObject({
      status: 'FAILED',
      result_code: DESKTOP_NOT_FOUND,
      reason: 'The desktop d1 does not exist.',
    });
  });

  it('a desktop the simulator was never told of changes nothing', () => {
    const { state } = stateWithDesktop();
    expect(retriedRun(state)).toMatchObject({ status: 'SUCCESS' });
  });
});
