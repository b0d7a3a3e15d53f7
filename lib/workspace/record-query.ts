/**
 * The query of GET /v2/{project_id}/script-execution-records: our record
 * filters as Workspace's parameters (docs/workspace-api.md, "Calls", list
 * records query parameters), and the time format those parameters use.
 */

import { assertSafeId } from '../events/identifiers.js';
import type { QueryParams } from './signer.js';
import type { RecordFilters } from './types.js';

/** One page's query: the filters, plus where the page starts and how long it is. */
export function recordQuery(filters: RecordFilters, offset: number, limit: number): QueryParams {
  const query: Record<string, string | readonly string[]> = { offset: String(offset), limit: String(limit) };
  if (filters.status) query['status'] = filters.status;
  if (filters.scriptTaskId) query['script_task_id'] = assertSafeId('script_task_id', filters.scriptTaskId);
  if (filters.scriptIds?.length) query['script_id'] = filters.scriptIds.map((id) => assertSafeId('script_id', id));
  if (filters.resourceIds?.length)
    query['resource_id'] = filters.resourceIds.map((id) => assertSafeId('resource_id', id));
  if (filters.taskType) query['task_type'] = filters.taskType;
  if (filters.executeTimeStart) query['execute_time_start'] = huaweiTime(filters.executeTimeStart);
  if (filters.executeTimeEnd) query['execute_time_end'] = huaweiTime(filters.executeTimeEnd);
  if (filters.showHistory) query['show_history'] = 'true';
  return query;
}

/** `2021-10-01T12:00:00Z`: Workspace's time format, without milliseconds. */
export function huaweiTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
