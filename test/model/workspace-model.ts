import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import type { ExecutionRecord, RecordFilters, RetryAccepted, RetryTarget } from '../../lib/workspace/types.js';

/**
 * Workspace as the protocol sees it: tasks of execution records, one per
 * desktop. A retry creates a new task whose records run the same script on
 * the same desktops (RUNNING, started now). It keeps its own count of the
 * retries it applied to each record: the model's ground truth for P1 and P2.
 * Faults are armed by the model for the next retry call (or read):
 * `before-*` throw without applying, `lose-*` apply and then lose the answer.
 */

export type RetryFault = 'before-503' | 'before-429' | 'lose-TIMEOUT' | 'lose-NETWORK' | 'lose-502' | 'lose-MALFORMED' | 'permanent-404';

export interface ModelRecord extends ExecutionRecord {
  readonly id: string;
  readonly script_task_id: string;
  readonly resource_id: string;
  readonly script_id: string;
  status: string;
  start_time: string;
  end_time?: string;
  reason?: string;
  result_code?: string;
}

export class WorkspaceModel {
  readonly records = new Map<string, ModelRecord>();
  /** Retries Workspace applied to each record (P1: at most one). */
  readonly applied = new Map<string, number>();
  /** New record → the record whose retry created it (the true lineage, for P2). */
  readonly parent = new Map<string, string>();
  private retryFaults: RetryFault[] = [];
  private readFaults = 0;
  private sequence = { task: 0, record: 0 };
  retryCalls = 0;

  constructor(private readonly now: () => number) {}

  armRetry(fault: RetryFault): void {
    this.retryFaults.push(fault);
  }

  armRead(count: number): void {
    this.readFaults += count;
  }

  disarm(): void {
    this.retryFaults = [];
    this.readFaults = 0;
  }

  /** A new task with one record per desktop, all failed with `reason`. */
  seedTask(desktops: readonly string[], scriptId: string, reason: string): ModelRecord[] {
    const taskId = `t${++this.sequence.task}`;
    return desktops.map((desktop) => this.add({ taskId, desktop, scriptId, status: 'FAILED', reason }));
  }

  fail(recordId: string, reason: string): void {
    const record = this.records.get(recordId)!;
    record.status = 'FAILED';
    record.reason = reason;
    record.end_time = isoSeconds(this.now());
  }

  retry(target: RetryTarget): RetryAccepted {
    this.retryCalls++;
    const fault = this.retryFaults.shift();
    if (fault === 'before-503') throw new WorkspaceApiError({ status: 503, code: 'HTTP_503', message: 'service unavailable (model)' });
    if (fault === 'before-429') throw new WorkspaceApiError({ status: 429, code: 'APIG.0308', message: 'throttled (model)' });
    if (fault === 'permanent-404') throw notFound(target.recordId ?? target.taskId!);
    const originals = target.recordId !== undefined ? [this.records.get(target.recordId)] : this.failedOf(target.taskId);
    if (originals.length === 0 || originals[0] === undefined) throw notFound(target.recordId ?? target.taskId!);
    const taskId = `t${++this.sequence.task}`;
    for (const original of originals as ModelRecord[]) {
      this.applied.set(original.id, (this.applied.get(original.id) ?? 0) + 1);
      const created = this.add({ taskId, desktop: original.resource_id, scriptId: original.script_id, status: 'RUNNING' });
      this.parent.set(created.id, original.id);
    }
    const requestId = `req-${taskId}`;
    if (fault === 'lose-TIMEOUT') throw new WorkspaceApiError({ code: 'TIMEOUT', message: 'no complete answer (model)' });
    if (fault === 'lose-NETWORK') throw new WorkspaceApiError({ code: 'NETWORK', message: 'ECONNRESET after processing (model)' });
    if (fault === 'lose-502') throw new WorkspaceApiError({ status: 502, code: 'HTTP_502', message: 'bad gateway after processing (model)', requestId });
    if (fault === 'lose-MALFORMED') throw new WorkspaceApiError({ status: 200, code: 'MALFORMED_RESPONSE', message: 'answer is not JSON (model)', requestId });
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
    const since = filters.executeTimeStart?.getTime() ?? -Infinity;
    const until = filters.executeTimeEnd?.getTime() ?? Infinity;
    const matching = [...this.records.values()].filter(
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

  /** The root of a record's true lineage. */
  rootOf(recordId: string): string {
    let id = recordId;
    while (this.parent.has(id)) id = this.parent.get(id)!;
    return id;
  }

  private failedOf(taskId: string): ModelRecord[] {
    return [...this.records.values()].filter((r) => r.script_task_id === taskId && r.status === 'FAILED');
  }

  private add(spec: { taskId: string; desktop: string; scriptId: string; status: string; reason?: string }): ModelRecord {
    const now = this.now();
    const record: ModelRecord = {
      id: `r${++this.sequence.record}`,
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

  private readFault(): void {
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
