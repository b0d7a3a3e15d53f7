/**
 * What Workspace keeps behind its script-execution API, without HTTP: tasks,
 * their execution records, and what a retry does to them. Huawei documents
 * the retry's answer only as "Script execution task ID", so the simulator
 * offers every reading of it (docs/workspace-api.md, "What a retry does"):
 *
 * - `new-task` (the default): a NEW task whose new records run the same
 *   script on the same desktops; the retried records keep their FAILED run.
 * - `original-task`: the answer is the retried record's own task; new records
 *   are added to it, and the runs they supersede are listed only with
 *   `show_history=true`.
 * - `in-place`: the failed record itself runs again, same id and task, with a
 *   new `start_time` and status; its earlier run is kept as history.
 *
 * Every applied retry is logged, including those whose answer a fault then
 * lost, by run (`<record id>#<run number>`), so a test can prove that no run
 * was retried twice under any reading. The simulator serves this over HTTP; a
 * model-based test can drive it in-process.
 */

import { randomBytes } from 'node:crypto';
import { huaweiTime } from '../lib/workspace/record-query.js';
import type { ExecutionRecord } from '../lib/workspace/types.js';
import type { ListOrder, RecordQuery, TaskType } from './record-filters.js';
import { type AppliedRetry, type Rerun, RetryLog, type RetryTargetIds } from './retry-log.js';
import { DesktopFleet, type DesktopFleetOptions } from './workspace-desktops.js';
import { type MutableRecord, ProjectRecords } from './workspace-records.js';

export type { AppliedRetry, Rerun, RetryTargetIds } from './retry-log.js';

export type RetryReading = 'new-task' | 'original-task' | 'in-place';
export const RETRY_READINGS: readonly RetryReading[] = ['new-task', 'original-task', 'in-place'];

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
  /** What a retry does (default `new-task`). */
  readonly reading?: RetryReading;
  /** Under `new-task`, list a retried record only with `show_history=true`, as `original-task` does. */
  readonly hideSuperseded?: boolean;
  /** The order the list call pages in (default `created`). */
  readonly listOrder?: ListOrder;
  /** How desktops boot, register and fail to start (local/workspace-desktops.ts). */
  readonly desktops?: DesktopFleetOptions;
}

export interface RetryContext {
  readonly ak?: string | undefined;
  /** The fault that will lose this answer, if any (the simulator knows before it applies the retry). */
  readonly lostBy?: string | undefined;
}

export type RetryResult =
  | { readonly ok: true; readonly applied: AppliedRetry }
  | { readonly ok: false; readonly message: string };

export interface RunEnd {
  readonly status: 'FAILED' | 'SUCCESS';
  readonly reason?: string;
  readonly result_code?: string;
}

export class WorkspaceState {
  /** Every applied retry, in order, with `retryCount(id)`, `rerunsOf(recordId)` and `rerunsOfRun(runKey)`. */
  readonly log = new RetryLog();
  readonly now: () => Date;
  readonly reading: RetryReading;
  /**
   * Desktops, their power states and the jobs of desktop actions; a script on a seeded desktop that cannot run it
   * fails.
   */
  readonly desktops: DesktopFleet;
  private readonly projects = new Map<string, ProjectRecords>();
  private readonly newId: () => string;

  constructor(private readonly options: WorkspaceStateOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.newId = options.newId ?? (() => randomBytes(16).toString('hex'));
    this.reading = options.reading ?? 'new-task';
    this.desktops = new DesktopFleet(this.now, this.newId, options.desktops);
  }

  /** Adds or replaces records; their `script_task_id`s become known SCRIPT tasks. */
  seedRecords(projectId: string, records: readonly ExecutionRecord[]): void {
    const project = this.project(projectId);
    for (const record of records) project.put(record);
  }

  /** Makes a task known, with no records of its own (a task-level failure). */
  seedTask(projectId: string, taskId: string, taskType: TaskType = 'SCRIPT'): void {
    this.project(projectId).task(taskId, taskType);
  }

  /**
   * POST .../script-executions/retry. A record: one new run of that record's
   * script on its desktop. A task: one new run per FAILED record of that task
   * (none if it has no failed records). Where the runs go and which task id is
   * answered depend on the reading.
   */
  retry(projectId: string, target: RetryTargetIds, context: RetryContext = {}): RetryResult {
    const project = this.project(projectId);
    const known = this.options.acceptAnyId === true;
    let originals: MutableRecord[];
    let ownTask: string | undefined;
    if (target.recordId !== undefined) {
      const record = project.current(target.recordId);
      if (!record && !known) return { ok: false, message: `Record ${target.recordId} not found.` };
      originals = [record ?? { id: target.recordId }];
      ownTask = record?.script_task_id;
    } else if (target.taskId !== undefined) {
      if (!project.hasTask(target.taskId) && !known) return { ok: false, message: `Task ${target.taskId} not found.` };
      originals = project.ofTask(target.taskId).filter((r) => r.status === 'FAILED');
      ownTask = target.taskId;
    } else {
      return { ok: false, message: 'A retry names a record_id or a task_id.' };
    }
    const answered = this.reading === 'new-task' || ownTask === undefined ? this.newId() : ownTask;
    project.task(answered);
    const reruns = originals.map((original) => this.rerun(projectId, project, answered, original));
    const applied: AppliedRetry = {
      projectId,
      target,
      newTaskId: answered,
      reruns,
      at: this.now(),
      ak: context.ak,
      answerLost: context.lostBy !== undefined,
      lostBy: context.lostBy,
    };
    this.log.add(applied);
    return { ok: true, applied };
  }

  /** POST .../script-executions/stop: accepted for a known record or task (runs are not modelled as stoppable). */
  stop(projectId: string, target: RetryTargetIds): boolean {
    const project = this.project(projectId);
    return target.recordId !== undefined ? project.has(target.recordId) : project.hasTask(target.taskId ?? '');
  }

  /** Record detail: the record's current run. */
  record(projectId: string, recordId: string): ExecutionRecord | undefined {
    const record = this.project(projectId).current(recordId);
    return record && { ...record };
  }

  /** The key of a record's current run (`<record id>#<run number>`), the unit the retry log counts. */
  runKey(projectId: string, recordId: string): string | undefined {
    return this.project(projectId).runKey(recordId);
  }

  recordsOfTask(projectId: string, taskId: string): ExecutionRecord[] {
    return this.project(projectId)
      .ofTask(taskId)
      .map((r) => ({ ...r }));
  }

  /** GET .../script-execution-records, in the configured list order: superseded runs only with `show_history`. */
  listRecords(projectId: string, query: RecordQuery): { count: number; script_records: ExecutionRecord[] } {
    return this.project(projectId).list(query, this.options.listOrder);
  }

  /** Ends a record's current run as Workspace would report it: status, end_time now, and why. */
  finishRun(projectId: string, recordId: string, end: RunEnd): ExecutionRecord {
    const record = this.project(projectId).current(recordId);
    if (!record) throw new Error(`finishRun: project ${projectId} has no record ${recordId}`);
    endRun(record, end, this.now());
    return { ...record };
  }

  private rerun(projectId: string, project: ProjectRecords, taskId: string, original: MutableRecord): Rerun {
    const originalRun = project.runKey(original.id) ?? `${original.id}#0`;
    const inPlace = this.reading === 'in-place' && project.has(original.id);
    // A retry's run starts in a later second than the run it retries started and ended: Workspace's times have no finer
    // grain.
    const previous = Math.max(
      -Infinity,
      ...[original.start_time, original.end_time]
        .map((time) => Date.parse(time ?? ''))
        .filter((ms) => !Number.isNaN(ms)),
    );
    const start = new Date(Math.max(this.now().getTime(), previous + 1000));
    const run: MutableRecord = {
      id: inPlace ? original.id : this.newId(),
      script_id: original.script_id,
      script_name: original.script_name,
      script_task_id: inPlace ? (original.script_task_id ?? taskId) : taskId,
      resource_id: original.resource_id,
      resource_name: original.resource_name,
      resource_type: original.resource_type,
      start_time: huaweiTime(start),
      status: 'RUNNING',
      execute_order: original.execute_order ?? 0,
    };
    const before = project.has(original.id) ? { ...original } : undefined;
    if (inPlace) project.runAgain(original.id, run);
    else {
      project.put(run);
      if (this.reading !== 'new-task' || this.options.hideSuperseded === true) project.supersede(original.id);
    }
    const live = project.current(run.id)!;
    // A desktop that cannot run the script now fails it, whatever else is configured.
    const refusal = this.desktops.scriptRefusal(projectId, run.resource_id);
    const outcome = refusal ? 'REFUSED' : (this.options.newRunOutcome?.({ ...live }, before) ?? 'RUNNING');
    if (refusal) endRun(live, refusal, start);
    // A script that failed on a desktop usually fails there again the same way.
    if (outcome === 'FAILED')
      endRun(
        live,
        {
          status: 'FAILED',
          reason: original.reason ?? 'Script execution failed',
          result_code: original.result_code ?? 'WKS.SCRIPT_FAILED',
        },
        start,
      );
    if (outcome === 'SUCCESS') endRun(live, { status: 'SUCCESS' }, start);
    return {
      originalId: original.id,
      newRecordId: run.id,
      originalRun,
      newRun: project.runKey(run.id)!,
      scriptId: run.script_id,
      resourceId: run.resource_id,
      ...(refusal ? { desktopRefused: refusal.reason } : {}),
    };
  }

  private project(projectId: string): ProjectRecords {
    let project = this.projects.get(projectId);
    if (!project) this.projects.set(projectId, (project = new ProjectRecords()));
    return project;
  }
}

function endRun(record: MutableRecord, end: RunEnd, now: Date): void {
  record.status = end.status;
  record.end_time = huaweiTime(now);
  if (end.reason !== undefined) record.reason = end.reason;
  if (end.result_code !== undefined) record.result_code = end.result_code;
}
