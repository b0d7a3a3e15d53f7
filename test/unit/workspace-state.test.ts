import { describe, expect, it } from 'vitest';
import { parseRecordQuery, type RecordQuery, recordQuery } from '../../local/record-filters.js';
import { WorkspaceState, type WorkspaceStateOptions } from '../../local/workspace-state.js';
import { failedRecord, PROJECT_ID } from '../helpers/factories.js';

/** What a retry does to Workspace's tasks and records (docs/workspace-api.md, "What a retry does"). */

const T0 = Date.parse('2026-11-29T10:00:00Z');

function workspace(options: WorkspaceStateOptions = {}) {
  let clock = T0;
  let ids = 0;
  const state = new WorkspaceState({ now: () => new Date(clock), newId: () => `id${++ids}`, ...options });
  return { state, advance: (ms: number) => (clock += ms) };
}

function query(params: Record<string, string | string[]> = {}): RecordQuery {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) for (const v of [value].flat()) search.append(key, v);
  const parsed = parseRecordQuery(search);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.query;
}

describe('retry by record', () => {
  it('creates a new task whose one new record runs the same script on the same desktop', () => {
    // Prepare
    const { state, advance } = workspace();
    state.seedRecords(PROJECT_ID, [
      failedRecord({
        id: 'r1',
        script_task_id: 't1',
        script_id: 's1',
        resource_id: 'd1',
        resource_name: 'DESK-1',
        start_time: '2026-11-29T09:58:00Z',
        end_time: '2026-11-29T09:59:00Z',
      }),
    ]);
    advance(90_000);
    // Act
    const result = state.retry(PROJECT_ID, { recordId: 'r1' });
    // Assess
    if (!result.ok) throw new Error(result.message);
    const { newTaskId, reruns } = result.applied;
    expect(newTaskId).not.toBe('t1');
    const records = state.recordsOfTask(PROJECT_ID, newTaskId);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      script_id: 's1',
      resource_id: 'd1',
      resource_name: 'DESK-1',
      script_task_id: newTaskId,
      status: 'RUNNING',
      start_time: '2026-11-29T10:01:30Z',
    });
    expect(records[0]!.id).not.toBe('r1');
    expect(records[0]!.end_time).toBeUndefined();
    expect(reruns).toEqual([
      {
        originalId: 'r1',
        newRecordId: records[0]!.id,
        originalRun: 'r1#0',
        newRun: `${records[0]!.id}#0`,
        scriptId: 's1',
        resourceId: 'd1',
      },
    ]);
    expect(state.record(PROJECT_ID, 'r1')).toMatchObject({ status: 'FAILED', script_task_id: 't1' });
  });

  it('refuses an unknown record, and changes nothing', () => {
    const { state } = workspace();
    expect(state.retry(PROJECT_ID, { recordId: 'nope' })).toEqual({ ok: false, message: 'Record nope not found.' });
    expect(state.log.entries).toEqual([]);
  });
});

describe('retry by task', () => {
  it('re-runs each failed record of the task, one new record per desktop, in one new task', () => {
    // Prepare
    const { state } = workspace();
    state.seedRecords(PROJECT_ID, [
      failedRecord({ id: 'a', script_task_id: 't1', resource_id: 'd1' }),
      failedRecord({ id: 'b', script_task_id: 't1', resource_id: 'd2', status: 'SUCCESS' }),
      failedRecord({ id: 'c', script_task_id: 't1', resource_id: 'd3' }),
      failedRecord({ id: 'other', script_task_id: 't2', resource_id: 'd4' }),
    ]);
    // Act
    const result = state.retry(PROJECT_ID, { taskId: 't1' });
    // Assess
    if (!result.ok) throw new Error(result.message);
    const records = state.recordsOfTask(PROJECT_ID, result.applied.newTaskId);
    expect(records.map((r) => r.resource_id)).toEqual(['d1', 'd3']);
    expect(result.applied.reruns.map((r) => r.originalId)).toEqual(['a', 'c']);
    expect([
      state.log.rerunsOf('a'),
      state.log.rerunsOf('b'),
      state.log.rerunsOf('c'),
      state.log.rerunsOf('other'),
    ]).toEqual([1, 0, 1, 0]);
    expect([state.log.retryCount('t1'), state.log.retryCount('a')]).toEqual([1, 0]);
  });

  it('accepts a task seeded without records: a new task with no records', () => {
    const { state } = workspace();
    state.seedTask(PROJECT_ID, 'bare');
    const result = state.retry(PROJECT_ID, { taskId: 'bare' });
    expect(result.ok && state.recordsOfTask(PROJECT_ID, result.applied.newTaskId)).toEqual([]);
  });

  it('refuses an unknown task', () => {
    expect(workspace().state.retry(PROJECT_ID, { taskId: 'nope' })).toMatchObject({ ok: false });
  });

  it('counts a record re-run once by record and once by its task as run twice', () => {
    const { state } = workspace();
    state.seedRecords(PROJECT_ID, [failedRecord({ id: 'r', script_task_id: 't' })]);
    state.retry(PROJECT_ID, { recordId: 'r' });
    state.retry(PROJECT_ID, { taskId: 't' });
    expect(state.log.rerunsOf('r')).toBe(2);
  });
});

describe('runs end', () => {
  it('by finishRun, with the end time, reason and result code', () => {
    const { state, advance } = workspace();
    state.seedRecords(PROJECT_ID, [failedRecord({ id: 'r', script_task_id: 't' })]);
    const result = state.retry(PROJECT_ID, { recordId: 'r' });
    const run = result.ok ? result.applied.reruns[0]!.newRecordId : '';
    advance(60_000);
    state.finishRun(PROJECT_ID, run, { status: 'FAILED', reason: 'disk full', result_code: 'E1' });
    expect(state.record(PROJECT_ID, run)).toMatchObject({
      status: 'FAILED',
      reason: 'disk full',
      result_code: 'E1',
      end_time: '2026-11-29T10:01:00Z',
    });
    expect(() => state.finishRun(PROJECT_ID, 'ghost', { status: 'SUCCESS' })).toThrow(/no record ghost/);
  });

  it('on their own with newRunOutcome, so a retried task can fail again', () => {
    const { state } = workspace({ newRunOutcome: (run) => (run.resource_id === 'd1' ? 'FAILED' : 'SUCCESS') });
    state.seedRecords(PROJECT_ID, [
      failedRecord({ id: 'a', script_task_id: 't', resource_id: 'd1', reason: 'timeout' }),
      failedRecord({ id: 'b', script_task_id: 't', resource_id: 'd2' }),
    ]);
    const first = state.retry(PROJECT_ID, { taskId: 't' });
    const t2 = first.ok ? first.applied.newTaskId : '';
    expect(state.recordsOfTask(PROJECT_ID, t2).map((r) => [r.resource_id, r.status, r.reason])).toEqual([
      ['d1', 'FAILED', 'timeout'],
      ['d2', 'SUCCESS', undefined],
    ]);
    const second = state.retry(PROJECT_ID, { taskId: t2 });
    expect(second.ok && second.applied.reruns.map((r) => r.resourceId)).toEqual(['d1']);
  });
});

describe('list records', () => {
  function seeded() {
    const w = workspace();
    w.state.seedRecords(PROJECT_ID, [
      failedRecord({
        id: 'r1',
        script_task_id: 't1',
        script_id: 's1',
        resource_id: 'd1',
        start_time: '2026-11-29T09:00:00Z',
      }),
      failedRecord({
        id: 'r2',
        script_task_id: 't1',
        script_id: 's2',
        resource_id: 'd2',
        start_time: '2026-11-29T09:30:00Z',
        status: 'SUCCESS',
      }),
      failedRecord({
        id: 'r3',
        script_task_id: 't2',
        script_id: 's1',
        resource_id: 'd2',
        start_time: '2026-11-29T10:00:00Z',
      }),
      failedRecord({
        id: 'r4',
        script_task_id: 't3',
        script_id: 's3',
        resource_id: 'd3',
        start_time: '2026-11-29T10:00:01.000Z',
      }),
    ]);
    w.state.seedTask(PROJECT_ID, 'cmd', 'COMMAND');
    w.state.seedRecords(PROJECT_ID, [
      failedRecord({ id: 'r5', script_task_id: 'cmd', resource_id: 'd1', start_time: '2026-11-29T11:00:00Z' }),
    ]);
    return (params: Record<string, string | string[]>) =>
      w.state.listRecords(PROJECT_ID, query(params)).script_records.map((r) => r.id);
  }

  it.each([
    ['desktop', { resource_id: 'd2' }, ['r2', 'r3']],
    ['several desktops', { resource_id: ['d1', 'd3'] }, ['r1', 'r4', 'r5']],
    ['script', { script_id: 's1' }, ['r1', 'r3']],
    ['several scripts', { script_id: ['s2', 's3'] }, ['r2', 'r4']],
    ['task', { script_task_id: 't1' }, ['r1', 'r2']],
    ['status', { status: 'SUCCESS' }, ['r2']],
    ['task type', { task_type: 'COMMAND' }, ['r5']],
    [
      'execute time window, both ends inclusive',
      { execute_time_start: '2026-11-29T09:30:00Z', execute_time_end: '2026-11-29T10:00:00Z' },
      ['r2', 'r3'],
    ],
    ['execute time from', { execute_time_start: '2026-11-29T10:00:01Z' }, ['r4', 'r5']],
    ['desktop and script together', { resource_id: 'd2', script_id: 's1' }, ['r3']],
  ])('filters by %s', (_name, params, expected) => {
    expect(seeded()(params as Record<string, string | string[]>)).toEqual(expected);
  });

  it('pages by offset and limit, counting every match', () => {
    const { state } = workspace();
    state.seedRecords(
      PROJECT_ID,
      Array.from({ length: 25 }, (_, i) => failedRecord({ id: `p${i}` })),
    );
    const page = state.listRecords(PROJECT_ID, query({ offset: '20', limit: '10' }));
    expect(page.count).toBe(25);
    expect(page.script_records.map((r) => r.id)).toEqual(['p20', 'p21', 'p22', 'p23', 'p24']);
    expect(state.listRecords(PROJECT_ID, query()).script_records).toHaveLength(10);
  });

  it('takes a query built in code, as a model-based test drives it in-process', () => {
    const { state, advance } = workspace();
    state.seedRecords(PROJECT_ID, [
      failedRecord({
        id: 'x',
        script_id: 'sx',
        resource_id: 'dx',
        script_task_id: 'tx',
        start_time: new Date(T0 - 60_000).toISOString().slice(0, 19) + 'Z',
      }),
    ]);
    advance(5_000);
    state.retry(PROJECT_ID, { recordId: 'x' }, { lostBy: 'reset-after' });
    const landed = state.listRecords(
      PROJECT_ID,
      recordQuery({ scriptIds: ['sx'], resourceIds: ['dx'], executeTimeStart: T0 + 1_000 }),
    );
    expect(landed.script_records.map((r) => r.status)).toEqual(['RUNNING']);
    expect(state.log.lost().map((r) => r.target)).toEqual([{ recordId: 'x' }]);
  });

  it.each([
    [{ limit: '0' }, /limit/],
    [{ limit: '101' }, /limit/],
    [{ offset: '-1' }, /offset/],
    [{ task_type: 'BATCH' }, /task_type/],
    [{ execute_time_start: '2026-11-29 10:00:00' }, /execute_time_start must look like 2021-10-01T12:00:00Z/],
    [{ execute_time_end: '2026-11-29T10:00:00.000Z' }, /execute_time_end/],
  ])('refuses %o, naming the parameter', (params, message) => {
    const parsed = parseRecordQuery(new URLSearchParams(params));
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.message).toMatch(message);
  });
});

describe('the readings of what a retry does', () => {
  const seed = (state: WorkspaceState) =>
    state.seedRecords(PROJECT_ID, [
      failedRecord({
        id: 'r1',
        script_task_id: 't1',
        script_id: 's1',
        resource_id: 'd1',
        start_time: '2026-11-29T09:00:00Z',
        end_time: '2026-11-29T09:01:00Z',
      }),
      failedRecord({
        id: 'r2',
        script_task_id: 't1',
        script_id: 's1',
        resource_id: 'd2',
        start_time: '2026-11-29T09:00:00Z',
        end_time: '2026-11-29T09:01:00Z',
      }),
    ]);
  const ids = (state: WorkspaceState, params: Record<string, string | string[]>) =>
    state.listRecords(PROJECT_ID, query(params)).script_records.map((r) => `${r.id}@${r.start_time}:${r.status}`);

  it("original-task: the answer is the retried record's task; the superseded run is listed only with show_history", () => {
    // Prepare
    const { state } = workspace({ reading: 'original-task' });
    seed(state);
    // Act
    const result = state.retry(PROJECT_ID, { recordId: 'r1' });
    // Assess
    if (!result.ok) throw new Error(result.message);
    expect(result.applied.newTaskId).toBe('t1');
    const [rerun] = result.applied.reruns;
    expect(rerun).toMatchObject({ originalId: 'r1', originalRun: 'r1#0', newRun: `${rerun!.newRecordId}#0` });
    expect(state.recordsOfTask(PROJECT_ID, 't1').map((r) => r.id)).toEqual(['r1', 'r2', rerun!.newRecordId]);
    expect(ids(state, { resource_id: 'd1', script_id: 's1' })).toEqual([
      `${rerun!.newRecordId}@2026-11-29T10:00:00Z:RUNNING`,
    ]);
    expect(ids(state, { resource_id: 'd1', script_id: 's1', show_history: 'true' })).toEqual([
      'r1@2026-11-29T09:00:00Z:FAILED',
      `${rerun!.newRecordId}@2026-11-29T10:00:00Z:RUNNING`,
    ]);
    expect(state.record(PROJECT_ID, 'r1')).toMatchObject({ status: 'FAILED' });
  });

  it('in-place: the record runs again, same id and task, with a new start; its earlier run is history', () => {
    const { state } = workspace({ reading: 'in-place' });
    seed(state);
    const result = state.retry(PROJECT_ID, { recordId: 'r1' });
    if (!result.ok) throw new Error(result.message);
    expect(result.applied).toMatchObject({
      newTaskId: 't1',
      reruns: [{ originalId: 'r1', newRecordId: 'r1', originalRun: 'r1#0', newRun: 'r1#1' }],
    });
    expect(state.record(PROJECT_ID, 'r1')).toMatchObject({
      script_task_id: 't1',
      status: 'RUNNING',
      start_time: '2026-11-29T10:00:00Z',
    });
    expect(ids(state, { resource_id: 'd1', script_id: 's1' })).toEqual(['r1@2026-11-29T10:00:00Z:RUNNING']);
    expect(ids(state, { resource_id: 'd1', script_id: 's1', show_history: 'true' })).toEqual([
      'r1@2026-11-29T09:00:00Z:FAILED',
      'r1@2026-11-29T10:00:00Z:RUNNING',
    ]);
    expect([state.runKey(PROJECT_ID, 'r1'), state.log.rerunsOfRun('r1#0'), state.log.rerunsOfRun('r1#1')]).toEqual([
      'r1#1',
      1,
      0,
    ]);
  });

  it('in-place by task: each failed record runs again in its own place', () => {
    const { state } = workspace({ reading: 'in-place' });
    seed(state);
    const result = state.retry(PROJECT_ID, { taskId: 't1' });
    expect(result.ok && result.applied.reruns.map((r) => r.newRun)).toEqual(['r1#1', 'r2#1']);
    expect(state.recordsOfTask(PROJECT_ID, 't1').map((r) => r.status)).toEqual(['RUNNING', 'RUNNING']);
  });

  it('new-task with hideSuperseded: the retried record is listed only as history, the answer a new task', () => {
    const { state } = workspace({ hideSuperseded: true });
    seed(state);
    const result = state.retry(PROJECT_ID, { recordId: 'r1' });
    expect(result.ok && result.applied.newTaskId).not.toBe('t1');
    expect(ids(state, { resource_id: 'd1', script_id: 's1', status: 'FAILED' })).toEqual([]);
    expect(ids(state, { resource_id: 'd1', script_id: 's1', status: 'FAILED', show_history: 'true' })).toEqual([
      'r1@2026-11-29T09:00:00Z:FAILED',
    ]);
  });

  it('a run a retry starts begins in a later second than the run it retried ended', () => {
    const { state } = workspace({ reading: 'in-place' });
    state.seedRecords(PROJECT_ID, [
      failedRecord({ id: 'late', start_time: '2026-11-29T09:59:00Z', end_time: '2026-11-29T10:00:00Z' }),
    ]);
    state.retry(PROJECT_ID, { recordId: 'late' });
    expect(state.record(PROJECT_ID, 'late')!.start_time).toBe('2026-11-29T10:00:01Z');
  });

  it.each([
    [{ show_history: 'true', resource_id: 'd1' }, /needs both resource_id and script_id/],
    [{ show_history: 'yes', resource_id: 'd1', script_id: 's1' }, /show_history must be true or false/],
  ])('refuses %j, naming the parameter', (params, message) => {
    const search = new URLSearchParams(params);
    const parsed = parseRecordQuery(search);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.message).toMatch(message);
  });
});
