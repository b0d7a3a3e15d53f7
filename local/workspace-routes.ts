/**
 * The script-execution calls of docs/workspace-api.md ("Calls"), from an
 * authenticated request to the answer Workspace would give. No sockets here:
 * the simulator decides afterwards whether the answer reaches the caller.
 */

import { parseRecordQuery } from './record-filters.js';
import type { SimulatorRoute } from './simulator-faults.js';
import { answerDesktops, desktopRouteOf } from './workspace-desktop-routes.js';
import type { RetryContext, RetryTargetIds, WorkspaceState } from './workspace-state.js';

export interface RouteRequest {
  readonly method: string;
  /** Path segments after the leading `/`, still percent-encoded. */
  readonly segments: readonly string[];
  readonly query: URLSearchParams;
  readonly body: Buffer;
}

export interface Answer {
  readonly status: number;
  /** Empty for stop's 200. */
  readonly body: string;
}

const NO_API = error(404, 'APIG.0101', 'The API does not exist or has not been published.');
const NOT_ALLOWED = error(405, 'WKS.00000405', 'Method not allowed.');
const BAD_TARGET = error(
  400,
  'WKS.00211102',
  'Invalid parameter: body must be {"record_id": string} or {"task_id": string}.',
);

/** What kind of call a request is, for fault plans and counters. */
export function routeOf(method: string, segments: readonly string[]): SimulatorRoute {
  const [version, projectId, collection, id, extra] = segments;
  if (version !== 'v2' || !projectId || extra !== undefined) return 'other';
  if (collection === 'script-executions' && method === 'POST')
    return id === 'retry' ? 'retry' : id === 'stop' ? 'stop' : 'other';
  if (collection === 'script-execution-records' && method === 'GET')
    return id === undefined ? 'list-records' : 'record-detail';
  return desktopRouteOf(method, collection, id) ?? 'other';
}

export function answer(state: WorkspaceState, req: RouteRequest, context: RetryContext): Answer {
  const [version, projectId, collection, id, extra] = req.segments;
  if (version !== 'v2' || !projectId || extra !== undefined) return NO_API;
  if (collection === 'script-executions' && (id === 'retry' || id === 'stop')) {
    if (req.method !== 'POST') return NOT_ALLOWED;
    const target = parseTarget(req.body);
    if (!target) return BAD_TARGET;
    if (id === 'stop')
      return state.stop(projectId, target)
        ? { status: 200, body: '' }
        : error(404, 'WKS.00210404', 'Record or task not found.');
    const result = state.retry(projectId, target, context);
    return result.ok
      ? { status: 200, body: JSON.stringify({ task_id: result.applied.newTaskId }) }
      : error(404, 'WKS.00210404', result.message);
  }
  if (collection === 'script-execution-records') {
    if (req.method !== 'GET') return NOT_ALLOWED;
    if (id === undefined) {
      const parsed = parseRecordQuery(req.query);
      return parsed.ok
        ? { status: 200, body: JSON.stringify(state.listRecords(projectId, parsed.query)) }
        : error(400, 'WKS.00211102', parsed.message);
    }
    const record = state.record(projectId, id);
    return record
      ? { status: 200, body: JSON.stringify({ ...record, output: record.output ?? '' }) }
      : error(404, 'WKS.00210404', `Record ${id} not found.`);
  }
  return answerDesktops(state.desktops, projectId, collection, id, req) ?? NO_API;
}

export function error(status: number, code: string, message: string): Answer {
  return { status, body: JSON.stringify({ error_code: code, error_msg: message }) };
}

/**
 * `{record_id}` or `{task_id}`, plain non-empty strings, as the SDKs send them (a record id wins if both are given).
 */
function parseTarget(body: Buffer): RetryTargetIds | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { record_id: recordId, task_id: taskId } = parsed as { record_id?: unknown; task_id?: unknown };
  if (typeof recordId === 'string' && recordId !== '') return { recordId };
  if (typeof taskId === 'string' && taskId !== '') return { taskId };
  return undefined;
}
