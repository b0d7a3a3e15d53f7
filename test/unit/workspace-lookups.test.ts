import { describe, expect, it } from 'vitest';
import {
  factsOf,
  failedRecordsOf,
  hasRecords,
  lookUpRun,
  runFailed,
  runsSince,
  type WorkspaceReader,
} from '../../lib/pipeline/workspace-lookups.js';
import type { ExecutionRecord, RecordFilters } from '../../lib/workspace/types.js';

/**
 * The read calls the protocol makes to Workspace (lib/pipeline/workspace-lookups.ts),
 * against a reader that answers from a list and keeps the filters it was asked with.
 */

const KEY = { ak: 'AK', sk: 'SK' };
const project = { projectId: 'p', region: 'cn-north-4' };
const START = '2026-11-29T12:00:00Z';
const END = '2026-11-29T12:00:30Z';

function reader(records: ExecutionRecord[]) {
  const asked: RecordFilters[] = [];
  const gets: string[] = [];
  let yielded = 0;
  const workspace: WorkspaceReader = {
    getRecord: async (_project, recordId) => {
      gets.push(recordId);
      return records.find((r) => r.id === recordId)!;
    },
    async *listRecords(_project, filters) {
      asked.push(filters);
      for (const record of records) {
        yielded++;
        yield record;
      }
    },
  };
  return { workspace, asked, gets, yielded: () => yielded };
}

const record: ExecutionRecord = {
  id: 'r1',
  script_task_id: 't1',
  resource_id: 'd1',
  script_id: 's1',
  start_time: START,
  end_time: END,
  status: 'FAILED',
};

describe('what an execution record says of its run', () => {
  it('its record, task, desktop, script, region, start and end; failed at its end', () => {
    expect(factsOf('p', record, 'cn-north-4')).toEqual({
      projectId: 'p',
      recordId: 'r1',
      taskId: 't1',
      resourceId: 'd1',
      scriptId: 's1',
      region: 'cn-north-4',
      failedAt: Date.parse(END),
      startedAt: Date.parse(START),
      endedAt: Date.parse(END),
    });
  });

  it('no times when the record has none', () => {
    expect(factsOf('p', { id: 'r2' })).toEqual({
      projectId: 'p',
      recordId: 'r2',
      taskId: undefined,
      resourceId: undefined,
      scriptId: undefined,
      region: undefined,
      failedAt: undefined,
      startedAt: undefined,
      endedAt: undefined,
    });
  });

  it('failed only when its status says so, or says nothing', () => {
    expect(runFailed({ status: 'FAILED' })).toBe(true);
    expect(runFailed({})).toBe(true);
    expect(runFailed({ status: 'SUCCESS' })).toBe(false);
    expect(runFailed({ status: 'RUNNING' })).toBe(false);
  });
});

describe('the lookups', () => {
  it("a record's detail: its current run, and whether it failed", async () => {
    const { workspace, gets } = reader([record, { ...record, id: 'r3', status: 'SUCCESS' }]);
    expect(await lookUpRun(workspace, project, 'r1', KEY)).toEqual({
      ...factsOf('p', record, 'cn-north-4'),
      failed: true,
    });
    expect(await lookUpRun(workspace, project, 'r3', KEY)).toMatchObject({ recordId: 'r3', failed: false });
    expect(gets).toEqual(['r1', 'r3']);
  });

  it("a task's failed records, every one listed", async () => {
    const { workspace, asked } = reader([record, { ...record, id: 'r2' }]);
    expect((await failedRecordsOf(workspace, project, 't1', KEY)).map((r) => r.id)).toEqual(['r1', 'r2']);
    expect(asked).toEqual([{ status: 'FAILED', scriptTaskId: 't1' }]);
  });

  it('whether a task has any record: one page of one is enough', async () => {
    const some = reader([record, { ...record, id: 'r2' }]);
    expect(await hasRecords(some.workspace, project, 't1', KEY)).toBe(true);
    expect(some.asked).toEqual([{ scriptTaskId: 't1', pageSize: 1 }]);
    expect(some.yielded()).toBe(1);
    expect(await hasRecords(reader([]).workspace, project, 't1', KEY)).toBe(false);
  });

  it("a script's runs on a desktop since a time, superseded runs included", async () => {
    const { workspace, asked } = reader([record, { ...record, id: 'r2', start_time: END }]);
    const since = Date.parse(START);
    const runs = await runsSince(workspace, project, { resourceId: 'd1', scriptId: 's1', since }, KEY);
    expect(runs).toEqual([
      factsOf('p', record, 'cn-north-4'),
      factsOf('p', { ...record, id: 'r2', start_time: END }, 'cn-north-4'),
    ]);
    expect(asked).toEqual([
      { resourceIds: ['d1'], scriptIds: ['s1'], executeTimeStart: new Date(since), showHistory: true },
    ]);
  });
});
