import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import type { ExecutionRecord, RecordFilters, RetryAccepted, RetryTarget } from '../../lib/workspace/types.js';
import type { RetryReading } from '../../local/workspace-state.js';

/**
 * Workspace as the protocol sees it: tasks of execution records, one per
 * desktop, and what a retry does to them under each reading of Huawei's
 * one-line documentation (docs/workspace-api.md, "What a retry does"): a new
 * task with new records (`new-task`), new records in the retried record's own
 * task with the superseded runs listed only as history (`original-task`), or
 * the failed record run again in place (`in-place`). Workspace's clock may
 * run ahead of or behind the model's by `skewMs`; runs of one record start one
 * after the other. It keeps its own count of the retries it applied to each
 * run (`<record id>#<run number>`): the model's ground truth for P1 and P2.
 * Faults are armed by the model for the next retry call (or read):
 * `before-*` throw without applying, `lose-*` apply and then lose the answer.
 */

export type RetryFault =
  | 'before-503'
  | 'before-429'
  | 'lose-TIMEOUT'
  | 'lose-NETWORK'
  | 'lose-502'
  | 'lose-MALFORMED'
  | 'permanent-404';

export interface ModelRecord extends ExecutionRecord {
  readonly id: string;
  script_task_id: string;
  readonly resource_id: string;
  readonly script_id: string;
  status: string;
  start_time: string;
  end_time?: string;
  reason?: string;
  result_code?: string;
}

export interface WorkspaceModelOptions {
  readonly reading?: RetryReading;
  /** Workspace's clock minus the model's. */
  readonly skewMs?: number;
  /**
   * Why a desktop cannot run a script now (undefined: it can): a retry applied then is an attempt spent for nothing.
   */
  readonly desktopRefusal?: (desktopId: string) => string | undefined;
}

/** A fault armed for the next desktop start: refused before it reaches Workspace, or applied and its answer lost. */
export type StartFault = 'before-503' | 'lose-TIMEOUT';

export class WorkspaceModel {
  /** Every record's current run. */
  readonly records = new Map<string, ModelRecord>();
  /** Retries Workspace applied to each run (P1: at most one). */
  readonly applied = new Map<string, number>();
  /** New run → the run whose retry started it (the true lineage, for P2). */
  readonly parent = new Map<string, string>();
  /** When each run failed, in the model's time (P3: a dead letter decided after it covers it). */
  readonly failedAt = new Map<string, number>();
  readonly reading: RetryReading;
  private readonly runNumber = new Map<string, number>();
  /** Runs a later run superseded: listed only with `show_history`. */
  private readonly history: ModelRecord[] = [];
  private readonly superseded = new Set<string>();
  /** Retries applied to a run whose desktop could not run the script then (the desktop invariant: none). */
  readonly unreadyRetries: string[] = [];
  private retryFaults: RetryFault[] = [];
  private startFaults: StartFault[] = [];
  private readFaults = 0;
  private sequence = { task: 0, record: 0 };
  retryCalls = 0;

  constructor(
    private readonly now: () => number,
    private readonly options: WorkspaceModelOptions = {},
  ) {
    this.reading = options.reading ?? 'new-task';
  }

  armRetry(fault: RetryFault): void {
    this.retryFaults.push(fault);
  }

  armRead(count: number): void {
    this.readFaults += count;
  }

  armStart(fault: StartFault): void {
    this.startFaults.push(fault);
  }

  /** The fault for this desktop start, if one is armed. */
  takeStartFault(): StartFault | undefined {
    return this.startFaults.shift();
  }

  disarm(): void {
    this.retryFaults = [];
    this.startFaults = [];
    this.readFaults = 0;
  }

  /** A new task with one record per desktop, all failed with `reason`. */
  seedTask(desktops: readonly string[], scriptId: string, reason: string): ModelRecord[] {
    const taskId = `t${++this.sequence.task}`;
    return desktops.map((desktop) => {
      const record = this.add({
        id: `r${++this.sequence.record}`,
        taskId,
        desktop,
        scriptId,
        status: 'FAILED',
        reason,
      });
      this.failedAt.set(this.runOf(record.id), this.now());
      return record;
    });
  }

  /** The key of a record's current run. */
  runOf(recordId: string): string {
    return `${recordId}#${this.runNumber.get(recordId) ?? 0}`;
  }

  fail(recordId: string, reason: string): void {
    const record = this.records.get(recordId)!;
    record.status = 'FAILED';
    record.reason = reason;
    record.end_time = isoSeconds(Math.max(this.clock(), Date.parse(record.start_time)));
    this.failedAt.set(this.runOf(recordId), this.now());
  }

  retry(target: RetryTarget): RetryAccepted {
    this.retryCalls++;
    const fault = this.retryFaults.shift();
    if (fault === 'before-503')
      throw new WorkspaceApiError({ status: 503, code: 'HTTP_503', message: 'service unavailable (model)' });
    if (fault === 'before-429')
      throw new WorkspaceApiError({ status: 429, code: 'APIG.0308', message: 'throttled (model)' });
    if (fault === 'permanent-404') throw notFound(target.recordId ?? target.taskId!);
    const originals =
      target.recordId !== undefined ? [this.records.get(target.recordId)] : this.failedOf(target.taskId);
    if (originals.length === 0 || originals[0] === undefined) throw notFound(target.recordId ?? target.taskId!);
    const own = target.recordId !== undefined ? originals[0].script_task_id : target.taskId!;
    const taskId = this.reading === 'new-task' ? `t${++this.sequence.task}` : own;
    for (const original of originals as ModelRecord[]) {
      const before = this.runOf(original.id);
      const refusal = this.options.desktopRefusal?.(original.resource_id);
      if (refusal !== undefined) this.unreadyRetries.push(`${before} on desktop ${original.resource_id}: ${refusal}`);
      this.applied.set(before, (this.applied.get(before) ?? 0) + 1);
      this.parent.set(this.rerun(original, taskId), before);
    }
    const requestId = `req-${taskId}-${this.retryCalls}`;
    if (fault === 'lose-TIMEOUT')
      throw new WorkspaceApiError({ code: 'TIMEOUT', message: 'no complete answer (model)' });
    if (fault === 'lose-NETWORK')
      throw new WorkspaceApiError({ code: 'NETWORK', message: 'ECONNRESET after processing (model)' });
    if (fault === 'lose-502')
      throw new WorkspaceApiError({
        status: 502,
        code: 'HTTP_502',
        message: 'bad gateway after processing (model)',
        requestId,
      });
    if (fault === 'lose-MALFORMED')
      throw new WorkspaceApiError({
        status: 200,
        code: 'MALFORMED_RESPONSE',
        message: 'answer is not JSON (model)',
        requestId,
      });
    return { taskId, requestId };
  }

  getRecord(recordId: string): ExecutionRecord {
    this.readFault();
    const record = this.records.get(recordId);
    if (!record) throw notFound(recordId);
    return { ...record };
  }

  list(filters: RecordFilters): ExecutionRecord[] {
    this.readFault();
    if (filters.showHistory && (filters.resourceIds?.length !== 1 || filters.scriptIds?.length !== 1)) {
      throw new WorkspaceApiError({
        status: 400,
        code: 'WKS.00211102',
        message: 'show_history needs resource_id and script_id (model)',
      });
    }
    const since = filters.executeTimeStart?.getTime() ?? -Infinity;
    const until = filters.executeTimeEnd?.getTime() ?? Infinity;
    const live = [...this.records.values()].filter((r) => filters.showHistory || !this.superseded.has(r.id));
    const runs = filters.showHistory ? [...this.history, ...live] : live;
    const matching = runs.filter(
      (r) =>
        (filters.status === undefined || r.status === filters.status) &&
        (filters.scriptTaskId === undefined || r.script_task_id === filters.scriptTaskId) &&
        (filters.resourceIds === undefined || filters.resourceIds.includes(r.resource_id)) &&
        (filters.scriptIds === undefined || filters.scriptIds.includes(r.script_id)) &&
        Date.parse(r.start_time) >= since &&
        Date.parse(r.start_time) <= until,
    );
    return matching.slice(filters.offset ?? 0).map((r) => ({ ...r }));
  }

  /** The root of a run's true lineage. */
  rootOf(run: string): string {
    let key = run;
    while (this.parent.has(key)) key = this.parent.get(key)!;
    return key;
  }

  /** The record of the newest run a retry of `recordId`'s runs started (itself when runs go in place). */
  rerunOf(recordId: string): string | undefined {
    const runs = [...this.parent]
      .filter(([, from]) => from.startsWith(`${recordId}#`))
      .map(([run]) => run.split('#')[0]!);
    return runs.at(-1);
  }

  /** Whether a record's current run was started by one of our retries. */
  isRetryRun(recordId: string): boolean {
    return this.parent.has(this.runOf(recordId));
  }

  /** Workspace's clock. */
  private clock(): number {
    return this.now() + (this.options.skewMs ?? 0);
  }

  /** The run a retry starts from `original`, by the reading; returns its key. */
  private rerun(original: ModelRecord, taskId: string): string {
    // A retry's run starts in a later second than the run it retries started and ended (Workspace's times are whole
    // seconds).
    const start = Math.max(
      this.clock(),
      Date.parse(original.end_time ?? original.start_time) + 1000,
      Date.parse(original.start_time) + 1000,
    );
    if (this.reading === 'in-place') {
      this.history.push({ ...original });
      Object.assign(original, {
        status: 'RUNNING',
        start_time: isoSeconds(start),
        end_time: undefined,
        reason: undefined,
        result_code: undefined,
      });
      this.runNumber.set(original.id, (this.runNumber.get(original.id) ?? 0) + 1);
      return this.runOf(original.id);
    }
    if (this.reading === 'original-task') this.superseded.add(original.id);
    const created = this.add({
      id: `r${++this.sequence.record}`,
      taskId,
      desktop: original.resource_id,
      scriptId: original.script_id,
      status: 'RUNNING',
      start,
    });
    return this.runOf(created.id);
  }

  /** The runs a task-level event names: the task's failed records as its listing shows them. */
  failedRunsOfTask(taskId: string): string[] {
    return this.failedOf(taskId).map((r) => this.runOf(r.id));
  }

  private failedOf(taskId: string): ModelRecord[] {
    return [...this.records.values()].filter(
      (r) => r.script_task_id === taskId && r.status === 'FAILED' && !this.superseded.has(r.id),
    );
  }

  private add(spec: {
    id: string;
    taskId: string;
    desktop: string;
    scriptId: string;
    status: string;
    reason?: string;
    start?: number;
  }): ModelRecord {
    const now = spec.start ?? this.clock();
    const record: ModelRecord = {
      id: spec.id,
      script_task_id: spec.taskId,
      resource_id: spec.desktop,
      script_id: spec.scriptId,
      status: spec.status,
      start_time: isoSeconds(now),
      ...(spec.status === 'FAILED' ? { end_time: isoSeconds(now), reason: spec.reason } : {}),
    };
    this.records.set(record.id, record);
    return record;
  }

  /** A read fault armed for the next read (record or desktop) is spent here. */
  readFault(): void {
    if (this.readFaults <= 0) return;
    this.readFaults--;
    throw new WorkspaceApiError({ status: 503, code: 'HTTP_503', message: 'read unavailable (model)' });
  }
}

function notFound(id: string): WorkspaceApiError {
  return new WorkspaceApiError({ status: 404, code: 'WKS.00210404', message: `${id} not found (model)` });
}

/** Workspace's time format: whole seconds. */
export function isoSeconds(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}
