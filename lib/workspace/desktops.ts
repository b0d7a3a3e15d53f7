/**
 * Shapes of Workspace's desktop calls and how we build their requests and
 * read their answers (docs/workspace-api.md, "Desktops"): ShowDesktopDetail,
 * ListDesktopsDetail, BatchRunDesktops and ShowJob, as Huawei's SDKs define
 * them. No I/O here; lib/workspace/desktop-calls.ts sends them.
 */

import { assertSafeId } from '../events/identifiers.js';
import { inBatches } from '../platform/batches.js';
import type { QueryParams } from './signer.js';

/**
 * A desktop as ShowDesktopDetail (`{desktop}`) and ListDesktopsDetail (`{desktops, total_count}`) answer it: the fields
 * we read.
 */
export interface DesktopDetail {
  readonly desktop_id: string;
  readonly computer_name?: string;
  /** An open string; the SDKs name ACTIVE, SHUTOFF, ERROR and HIBERNATED. */
  readonly status?: string;
  /** What is in progress (`powering-on`, `rebooting`, `deleting`, …); empty or absent when nothing is. */
  readonly task_status?: string;
  /** UNREGISTER, REGISTERED, CONNECTED or DISCONNECTED. */
  readonly login_status?: string;
  readonly in_maintenance_mode?: boolean;
  readonly created?: string;
}

/** BatchRunDesktops' `op_type`. */
export type DesktopOperation = 'os-start' | 'reboot' | 'os-stop' | 'os-hibernate';
/** Every DesktopOperation BatchRunDesktops takes. */
export const DESKTOP_OPERATIONS: readonly DesktopOperation[] = ['os-start', 'reboot', 'os-stop', 'os-hibernate'];

/** One BatchRunDesktops request: what to do to which desktops, gently (SOFT) or by force (HARD). */
export interface DesktopAction {
  readonly desktopIds: readonly string[];
  readonly opType: DesktopOperation;
  readonly type?: 'SOFT' | 'HARD';
}

/** A desktop the action was refused for, as `failed_operation_list` gives it. */
export interface FailedDesktopOperation {
  readonly desktop_id?: string;
  readonly desktop_name?: string;
  readonly error_code?: string;
  readonly error_msg?: string;
}

/** BatchRunDesktops' answer: the job that follows it (when Workspace names one) and the desktops refused at once. */
export interface DesktopActionAccepted {
  readonly jobId?: string | undefined;
  readonly failed: readonly FailedDesktopOperation[];
  readonly requestId?: string | undefined;
}

/** One desktop's part of a job (`sub_jobs[]`). */
export interface WorkspaceSubJob {
  readonly id?: string;
  readonly job_type?: string;
  readonly entities?: { readonly desktop_id?: string; readonly desktop_name?: string };
  readonly status?: string;
  readonly error_code?: string;
  readonly fail_reason?: string;
  readonly begin_time?: string;
  readonly end_time?: string;
}

/** ShowJob's answer. */
export interface WorkspaceJob {
  readonly id?: string;
  readonly job_type?: string;
  readonly status?: string;
  readonly job_error_code?: string;
  readonly fail_reason?: string;
  readonly begin_time?: string;
  readonly end_time?: string;
  readonly sub_jobs_total?: number;
  readonly sub_jobs?: readonly WorkspaceSubJob[];
}

/** Filters of GET /v2/{project_id}/desktops/detail that we use. */
export interface DesktopFilters {
  readonly desktopIds?: readonly string[];
  readonly status?: string;
  readonly inMaintenanceMode?: boolean;
}

/** ListDesktopsDetail's largest page (its `limit` is 0–500, default 500). */
export const MAX_DESKTOPS_PER_PAGE = 500;

/**
 * Room for the repeated `desktop_id` parameters of one list request. Huawei's
 * API gateway refuses a request URI of 32 KB or more (414); 500 desktop ids
 * of 36 characters take 24,000.
 */
export const MAX_DESKTOP_ID_QUERY_CHARS = 28_000;

/** One page's query: the filters, plus where the page starts and how long it is. */
export function desktopListQuery(filters: DesktopFilters, offset: number, limit: number): QueryParams {
  const query: Record<string, string | readonly string[]> = { offset: String(offset), limit: String(limit) };
  if (filters.desktopIds?.length) query['desktop_id'] = filters.desktopIds.map((id) => assertSafeId('desktop_id', id));
  if (filters.status) query['status'] = filters.status;
  if (filters.inMaintenanceMode !== undefined) query['in_maintenance_mode'] = String(filters.inMaintenanceMode);
  return query;
}

/**
 * Desktop ids in groups that each fit one list request: distinct, in first-seen
 * order, at most `maxIds` a group and at most `maxQueryChars` of
 * `desktop_id=…&` a group. Each id is checked to be a safe identifier.
 */
export function desktopIdBatches(
  ids: Iterable<string>,
  maxIds = MAX_DESKTOPS_PER_PAGE,
  maxQueryChars = MAX_DESKTOP_ID_QUERY_CHARS,
): string[][] {
  const cost = (id: string) => 'desktop_id='.length + encodeURIComponent(assertSafeId('desktop_id', id)).length + 1;
  return inBatches(new Set(ids), maxIds, maxQueryChars, cost);
}

/**
 * BatchRunDesktops' body, `{desktop_ids, op_type, type?}`; refuses an empty or unsafe list and an unknown operation.
 */
export function desktopActionBody(action: DesktopAction): string {
  if (!DESKTOP_OPERATIONS.includes(action.opType))
    throw new RangeError(
      `op_type must be one of ${DESKTOP_OPERATIONS.join(', ')}; got ${JSON.stringify(action.opType)}`,
    );
  if (action.type !== undefined && action.type !== 'SOFT' && action.type !== 'HARD')
    throw new RangeError(`type must be SOFT or HARD; got ${JSON.stringify(action.type)}`);
  if (action.desktopIds.length === 0) throw new RangeError('desktop_ids must name at least one desktop');
  const desktopIds = [...new Set(action.desktopIds.map((id) => assertSafeId('desktop_id', id)))];
  return JSON.stringify({
    desktop_ids: desktopIds,
    op_type: action.opType,
    ...(action.type ? { type: action.type } : {}),
  });
}

/** What a desktop's words say, compared trimmed and in upper case; `unknown` for any other word or none. */
export type DesktopPower = 'active' | 'shutoff' | 'hibernated' | 'error' | 'unknown';
/** A desktop's login state, read from its login_status (`unknown` for a word we do not know). */
export type DesktopLogin = 'unregistered' | 'registered' | 'connected' | 'disconnected' | 'unknown';

/** A desktop's state as the desktop gate judges it: power, what is in progress, login and maintenance. */
export interface DesktopState {
  readonly desktopId: string;
  readonly power: DesktopPower;
  /** The status word as Workspace gave it (empty while a desktop is being deleted). */
  readonly status: string;
  /** What is in progress, e.g. `powering-on`; undefined when nothing is. */
  readonly taskStatus?: string | undefined;
  readonly login: DesktopLogin;
  readonly inMaintenance: boolean;
}

const POWER: Readonly<Record<string, DesktopPower>> = {
  ACTIVE: 'active',
  SHUTOFF: 'shutoff',
  HIBERNATED: 'hibernated',
  ERROR: 'error',
};
const LOGIN: Readonly<Record<string, DesktopLogin>> = {
  UNREGISTER: 'unregistered',
  REGISTERED: 'registered',
  CONNECTED: 'connected',
  DISCONNECTED: 'disconnected',
};

/** A desktop's detail read into what the function cares about. */
export function desktopStateOf(detail: DesktopDetail): DesktopState {
  const word = (value: unknown) => (typeof value === 'string' ? value.trim().toUpperCase() : '');
  const task = typeof detail.task_status === 'string' ? detail.task_status.trim() : '';
  return {
    desktopId: detail.desktop_id,
    power: POWER[word(detail.status)] ?? 'unknown',
    status: typeof detail.status === 'string' ? detail.status : '',
    taskStatus: task === '' ? undefined : task,
    login: LOGIN[word(detail.login_status)] ?? 'unknown',
    inMaintenance: detail.in_maintenance_mode === true,
  };
}

/** Where a job (or one desktop's sub-job) stands: `running` until it ends; any other word is `unknown`. */
export type JobOutcome = 'running' | 'succeeded' | 'failed' | 'unknown';

const JOB_OUTCOMES: Readonly<Record<string, JobOutcome>> = {
  INIT: 'running',
  WAITING: 'running',
  RUNNING: 'running',
  SUCCESS: 'succeeded',
  COMPLETE: 'succeeded',
  FAIL: 'failed',
  FAILED: 'failed',
};

/** What a job's status word says (`unknown` for a word we do not know). */
export function jobOutcomeOf(status: string | undefined): JobOutcome {
  return JOB_OUTCOMES[(status ?? '').trim().toUpperCase()] ?? 'unknown';
}
