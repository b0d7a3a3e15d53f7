/**
 * The query of GET /v2/{project_id}/script-execution-records as Workspace
 * reads it (docs/workspace-api.md, "List execution records"): parsed and
 * checked once, then applied to records as a plain predicate.
 */

import { parseWorkspaceTime } from '../lib/events/workspace-time.js';
import type { ExecutionRecord } from '../lib/workspace/types.js';

export type TaskType = 'SCRIPT' | 'COMMAND';

export interface RecordQuery {
  readonly offset: number;
  /** 1–100; Workspace's default page is 10. */
  readonly limit: number;
  readonly status?: string;
  readonly scriptTaskId?: string;
  /** Any of these (the parameter repeats). */
  readonly scriptIds: readonly string[];
  readonly resourceIds: readonly string[];
  readonly taskType?: TaskType;
  /** Inclusive window on `start_time`, in ms since the epoch. */
  readonly executeTimeStart?: number;
  readonly executeTimeEnd?: number;
  /** Also runs a later run superseded (ListScriptRecords' `show_history`; needs `resource_id` and `script_id`). */
  readonly showHistory?: boolean;
}

export type ParsedQuery =
  | { readonly ok: true; readonly query: RecordQuery }
  | { readonly ok: false; readonly message: string };

/** `2021-10-01T12:00:00Z`: the only time format the list call takes. */
const HUAWEI_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

export function parseRecordQuery(params: URLSearchParams): ParsedQuery {
  const offset = Number(params.get('offset') ?? 0);
  const limit = Number(params.get('limit') ?? 10);
  if (!Number.isInteger(offset) || offset < 0) return refuse('offset must be an integer >= 0');
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) return refuse('limit must be an integer from 1 to 100');
  const taskType = params.get('task_type') ?? undefined;
  if (taskType !== undefined && taskType !== 'SCRIPT' && taskType !== 'COMMAND')
    return refuse('task_type must be SCRIPT or COMMAND');
  const history = params.get('show_history') ?? undefined;
  if (history !== undefined && history !== 'true' && history !== 'false')
    return refuse('show_history must be true or false');
  const showHistory = history === 'true';
  if (showHistory && (params.getAll('resource_id').length === 0 || params.getAll('script_id').length === 0))
    return refuse('show_history=true needs both resource_id and script_id');
  const window: Partial<Record<'executeTimeStart' | 'executeTimeEnd', number>> = {};
  for (const [name, key] of [
    ['execute_time_start', 'executeTimeStart'],
    ['execute_time_end', 'executeTimeEnd'],
  ] as const) {
    const value = params.get(name);
    if (value === null) continue;
    if (!HUAWEI_TIME.test(value) || Number.isNaN(Date.parse(value)))
      return refuse(`${name} must look like 2021-10-01T12:00:00Z`);
    window[key] = Date.parse(value);
  }
  return {
    ok: true,
    query: {
      offset,
      limit,
      ...optional('status', params.get('status')),
      ...optional('scriptTaskId', params.get('script_task_id')),
      scriptIds: params.getAll('script_id'),
      resourceIds: params.getAll('resource_id'),
      ...(taskType !== undefined ? { taskType } : {}),
      ...(showHistory ? { showHistory } : {}),
      ...window,
    },
  };
}

/** A query built in code (in-process tests): the listing's defaults, then `filters`. */
export function recordQuery(filters: Partial<RecordQuery> = {}): RecordQuery {
  return { offset: 0, limit: 100, scriptIds: [], resourceIds: [], ...filters };
}

/** Whether a record matches every filter of the query; `taskTypeOf` says what kind of task a record belongs to. */
export function matchesQuery(
  record: ExecutionRecord,
  query: RecordQuery,
  taskTypeOf: (record: ExecutionRecord) => TaskType,
): boolean {
  if (query.status !== undefined && record.status !== query.status) return false;
  if (query.scriptTaskId !== undefined && record.script_task_id !== query.scriptTaskId) return false;
  if (query.scriptIds.length > 0 && !query.scriptIds.includes(record.script_id ?? '')) return false;
  if (query.resourceIds.length > 0 && !query.resourceIds.includes(record.resource_id ?? '')) return false;
  if (query.taskType !== undefined && taskTypeOf(record) !== query.taskType) return false;
  if (query.executeTimeStart === undefined && query.executeTimeEnd === undefined) return true;
  const started = parseWorkspaceTime(record.start_time ?? '');
  if (started === undefined) return false;
  return started >= (query.executeTimeStart ?? -Infinity) && started <= (query.executeTimeEnd ?? Infinity);
}

/**
 * The order the list call pages in. Workspace documents none, so a walk must
 * hold in any: `created` (the order records were added, the default),
 * `oldest-first` and `newest-first` (by start time, ties as created), `by-id`.
 */
export type ListOrder = 'created' | 'oldest-first' | 'newest-first' | 'by-id';

/** `records` (in the order they were created) in `order`; a new array. */
export function inListOrder(records: readonly ExecutionRecord[], order: ListOrder = 'created'): ExecutionRecord[] {
  const started = (record: ExecutionRecord) => parseWorkspaceTime(record.start_time ?? '') ?? 0;
  const sorted = [...records];
  if (order === 'oldest-first') sorted.sort((a, b) => started(a) - started(b));
  if (order === 'newest-first') sorted.sort((a, b) => started(b) - started(a));
  if (order === 'by-id') sorted.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return sorted;
}

function refuse(message: string): ParsedQuery {
  return { ok: false, message: `Invalid parameter: ${message}.` };
}

function optional<K extends string>(key: K, value: string | null): Partial<Record<K, string>> {
  return value === null || value === '' ? {} : ({ [key]: value } as Record<K, string>);
}
