import { randomBytes } from 'node:crypto';
import { huaweiTime } from '../lib/workspace/record-query.js';
import type { ExecutionRecord } from '../lib/workspace/types.js';
import { inListOrder, matchesQuery, type ListOrder, type RecordQuery, type TaskType } from './record-filters.js';
import { RetryLog, type AppliedRetry, type Rerun, type RetryTargetIds } from './retry-log.js';

export type { AppliedRetry, Rerun, RetryTargetIds } from './retry-log.js';

/**
 * What Workspace keeps behind its script-execution API, without HTTP: tasks,
 * their execution records, and what a retry does to them
 * (docs/workspace-api.md, "What a retry does"). A retry never changes the
 * record it names: it starts a NEW task whose new records run the same script
 * on the same desktop. Every applied retry is logged, including those whose
 * answer a fault then lost, so a test can prove that no script ran twice.
 * The simulator serves this over HTTP; a model-based test can drive it in-process.
 */

export type RunStatus = 'FAILED' | 'SUCCESS' | 'RUNNING';

export interface WorkspaceStateOptions {
  /** The clock for start_time, end_time and the retry log (default: the real one). */
  readonly now?: () => Date;
  /** New task and record ids (default: 32 random hex characters, as Workspace's look). */
  readonly newId?: () => string;
  /** How a re-run ends on its own (default: it stays RUNNING until `finishRun`). */
  readonly newRunOutcome?: (run: ExecutionRecord, original: ExecutionRecord | undefined) => RunStatus;
  /** Treat every record and task id as known (benchmarks: no seeding of thousands of ids). */
  readonly acceptAnyId?: boolean;
  /** The order the list call pages in (default `created`). */
  readonly listOrder?: ListOrder;
}

export interface RetryContext {
  readonly ak?: string | undefined;
  /** The fault that will lose this answer, if any (the simulator knows before it applies the retry). */
  readonly lostBy?: string | undefined;
}

export type RetryResult = { readonly ok: true; readonly applied: AppliedRetry } | { readonly ok: false; readonly message: string };

export interface RunEnd {
  readonly status: 'FAILED' | 'SUCCESS';
  readonly reason?: string;
  readonly result_code?: string;
}

type MutableRecord = { -readonly [K in keyof ExecutionRecord]: ExecutionRecord[K] };
interface Task {
  readonly taskType: TaskType;
  readonly recordIds: string[];
}
interface Project {
  readonly records: Map<string, MutableRecord>;
  readonly tasks: Map<string, Task>;
}

export class WorkspaceState {
  /** Every applied retry, in order, with `retryCount(id)` and `rerunsOf(recordId)`. */
  readonly log = new RetryLog();
  readonly now: () => Date;
  private readonly projects = new Map<string, Project>();
  private readonly newId: () => string;

  constructor(private readonly options: WorkspaceStateOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.newId = options.newId ?? (() => randomBytes(16).toString('hex'));
  }

  /** Adds or replaces records; their `script_task_id`s become known SCRIPT tasks. */
  seedRecords(projectId: string, records: readonly ExecutionRecord[]): void {
    const project = this.project(projectId);
    for (const record of records) {
      const previous = project.tasks.get(project.records.get(record.id)?.script_task_id ?? '')?.recordIds;
      if (previous) previous.splice(previous.indexOf(record.id), 1);
      project.records.set(record.id, { ...record });
      if (record.script_task_id !== undefined) this.taskOf(project, record.script_task_id).recordIds.push(record.id);
    }
  }

  /** Makes a task known, with no records of its own (a task-level failure). */
  seedTask(projectId: string, taskId: string, taskType: TaskType = 'SCRIPT'): void {
    this.taskOf(this.project(projectId), taskId, taskType);
  }

  /**
   * POST .../script-executions/retry. A record: a new task with one new run of
   * that record's script on its desktop. A task: a new task with one new run
   * per FAILED record of that task (none if it has no failed records).
   */
  retry(projectId: string, target: RetryTargetIds, context: RetryContext = {}): RetryResult {
    const project = this.project(projectId);
    const known = this.options.acceptAnyId === true;
    let originals: (MutableRecord | { id: string })[];
    if (target.recordId !== undefined) {
      const record = project.records.get(target.recordId);
      if (!record && !known) return { ok: false, message: `Record ${target.recordId} not found.` };
      originals = [record ?? { id: target.recordId }];
    } else if (target.taskId !== undefined) {
      const task = project.tasks.get(target.taskId);
      if (!task && !known) return { ok: false, message: `Task ${target.taskId} not found.` };
      originals = (task?.recordIds ?? []).map((id) => project.records.get(id)!).filter((r) => r.status === 'FAILED');
    } else {
      return { ok: false, message: 'A retry names a record_id or a task_id.' };
    }
    const newTaskId = this.newId();
    const task = this.taskOf(project, newTaskId);
    const reruns = originals.map((original) => this.rerun(project, task, newTaskId, original));
    const applied: AppliedRetry = { projectId, target, newTaskId, reruns, at: this.now(), ak: context.ak, answerLost: context.lostBy !== undefined, lostBy: context.lostBy };
    this.log.add(applied);
    return { ok: true, applied };
  }

  /** POST .../script-executions/stop: accepted for a known record or task (runs are not modelled as stoppable). */
  stop(projectId: string, target: RetryTargetIds): boolean {
    const project = this.project(projectId);
    return target.recordId !== undefined ? project.records.has(target.recordId) : project.tasks.has(target.taskId ?? '');
  }

  record(projectId: string, recordId: string): ExecutionRecord | undefined {
    const record = this.project(projectId).records.get(recordId);
    return record && { ...record };
  }

  recordsOfTask(projectId: string, taskId: string): ExecutionRecord[] {
    const project = this.project(projectId);
    return (project.tasks.get(taskId)?.recordIds ?? []).map((id) => ({ ...project.records.get(id)! }));
  }

  /** GET .../script-execution-records, in the configured list order. */
  listRecords(projectId: string, query: RecordQuery): { count: number; script_records: ExecutionRecord[] } {
    const project = this.project(projectId);
    const taskTypeOf = (r: ExecutionRecord) => project.tasks.get(r.script_task_id ?? '')?.taskType ?? 'SCRIPT';
    const matching = inListOrder([...project.records.values()], this.options.listOrder).filter((r) => matchesQuery(r, query, taskTypeOf));
    return { count: matching.length, script_records: matching.slice(query.offset, query.offset + query.limit).map((r) => ({ ...r })) };
  }

  /** Ends a run as Workspace would report it: status, end_time now, and why. */
  finishRun(projectId: string, recordId: string, end: RunEnd): ExecutionRecord {
    const record = this.project(projectId).records.get(recordId);
    if (!record) throw new Error(`finishRun: project ${projectId} has no record ${recordId}`);
    endRun(record, end, this.now());
    return { ...record };
  }

  private rerun(project: Project, task: Task, taskId: string, original: MutableRecord | { id: string }): Rerun {
    const source = original as MutableRecord;
    const run: MutableRecord = {
      id: this.newId(),
      script_id: source.script_id,
      script_name: source.script_name,
      script_task_id: taskId,
      resource_id: source.resource_id,
      resource_name: source.resource_name,
      resource_type: source.resource_type,
      start_time: huaweiTime(this.now()),
      status: 'RUNNING',
      execute_order: source.execute_order ?? 0,
    };
    project.records.set(run.id, run);
    task.recordIds.push(run.id);
    const outcome = this.options.newRunOutcome?.({ ...run }, project.records.has(source.id) ? { ...source } : undefined) ?? 'RUNNING';
    // A script that failed on a desktop usually fails there again the same way.
    if (outcome === 'FAILED') endRun(run, { status: 'FAILED', reason: source.reason ?? 'Script execution failed', result_code: source.result_code ?? 'WKS.SCRIPT_FAILED' }, this.now());
    if (outcome === 'SUCCESS') endRun(run, { status: 'SUCCESS' }, this.now());
    return { originalId: source.id, newRecordId: run.id, scriptId: run.script_id, resourceId: run.resource_id };
  }

  private project(projectId: string): Project {
    let project = this.projects.get(projectId);
    if (!project) this.projects.set(projectId, (project = { records: new Map(), tasks: new Map() }));
    return project;
  }

  private taskOf(project: Project, taskId: string, taskType: TaskType = 'SCRIPT'): Task {
    let task = project.tasks.get(taskId);
    if (!task) project.tasks.set(taskId, (task = { taskType, recordIds: [] }));
    return task;
  }
}

function endRun(record: MutableRecord, end: RunEnd, now: Date): void {
  record.status = end.status;
  record.end_time = huaweiTime(now);
  if (end.reason !== undefined) record.reason = end.reason;
  if (end.result_code !== undefined) record.result_code = end.result_code;
}
