/**
 * One project's execution records as the simulated Workspace keeps them: the
 * current run of every record, the tasks they belong to, and the runs a retry
 * superseded (docs/workspace-api.md, "What a retry does"), which the list call
 * shows only with `show_history=true`. Every run has a key of its own
 * (`<record id>#<run number>`), so a record run again in place is a new run.
 */

import type { ExecutionRecord } from '../lib/workspace/types.js';
import { inListOrder, type ListOrder, matchesQuery, type RecordQuery, type TaskType } from './record-filters.js';

export type MutableRecord = { -readonly [K in keyof ExecutionRecord]: ExecutionRecord[K] };

interface Task {
  readonly taskType: TaskType;
  readonly recordIds: string[];
}

interface StoredRecord {
  readonly current: MutableRecord;
  /** 0 for the record's first run; one more each time it runs again in place. */
  runNumber: number;
  /** A later record of the same script and desktop replaced it: listed only as history. */
  superseded: boolean;
}

export class ProjectRecords {
  private readonly records = new Map<string, StoredRecord>();
  private readonly tasks = new Map<string, Task>();
  /** Earlier runs of records run again in place, as they were when superseded. */
  private readonly history: ExecutionRecord[] = [];

  has(recordId: string): boolean {
    return this.records.has(recordId);
  }

  /** The record's current run (a live object: callers that change it change Workspace). */
  current(recordId: string): MutableRecord | undefined {
    return this.records.get(recordId)?.current;
  }

  runKey(recordId: string): string | undefined {
    const stored = this.records.get(recordId);
    return stored && `${recordId}#${stored.runNumber}`;
  }

  /** Adds a record (or replaces one), moving it to its task. */
  put(record: ExecutionRecord): void {
    const previous = this.records.get(record.id)?.current.script_task_id;
    if (previous !== undefined)
      this.tasks.get(previous)?.recordIds.splice(this.tasks.get(previous)!.recordIds.indexOf(record.id), 1);
    this.records.set(record.id, { current: { ...record }, runNumber: 0, superseded: false });
    if (record.script_task_id !== undefined) this.task(record.script_task_id).recordIds.push(record.id);
  }

  supersede(recordId: string): void {
    const stored = this.records.get(recordId);
    if (stored) stored.superseded = true;
  }

  /** The record runs again in place: its current run becomes history, and `next` is its new run. */
  runAgain(recordId: string, next: MutableRecord): void {
    const stored = this.records.get(recordId)!;
    this.history.push({ ...stored.current });
    Object.assign(stored, { current: next, runNumber: stored.runNumber + 1 });
  }

  task(taskId: string, taskType: TaskType = 'SCRIPT'): Task {
    let task = this.tasks.get(taskId);
    if (!task) this.tasks.set(taskId, (task = { taskType, recordIds: [] }));
    return task;
  }

  hasTask(taskId: string): boolean {
    return this.tasks.has(taskId);
  }

  /** The current runs of a task's records, in the order they were added. */
  ofTask(taskId: string): MutableRecord[] {
    return (this.tasks.get(taskId)?.recordIds ?? []).map((id) => this.records.get(id)!.current);
  }

  /** GET .../script-execution-records, in the order runs were created (history first, as it is older). */
  list(query: RecordQuery, order?: ListOrder): { count: number; script_records: ExecutionRecord[] } {
    const taskTypeOf = (r: ExecutionRecord) => this.tasks.get(r.script_task_id ?? '')?.taskType ?? 'SCRIPT';
    const live = [...this.records.values()]
      .filter((r) => query.showHistory === true || !r.superseded)
      .map((r) => r.current);
    const runs = query.showHistory === true ? [...this.history, ...live] : live;
    const matching = inListOrder(runs, order).filter((r) => matchesQuery(r, query, taskTypeOf));
    return {
      count: matching.length,
      script_records: matching.slice(query.offset, query.offset + query.limit).map((r) => ({ ...r })),
    };
  }
}
