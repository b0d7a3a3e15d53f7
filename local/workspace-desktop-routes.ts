/**
 * The desktop calls of docs/workspace-api.md ("Desktops"), from an
 * authenticated request to the answer Workspace would give:
 * ShowDesktopDetail, ListDesktopsDetail, BatchRunDesktops and ShowJob.
 * local/workspace-routes.ts hands these paths here.
 */

import { DESKTOP_OPERATIONS, type DesktopOperation, MAX_DESKTOPS_PER_PAGE } from '../lib/workspace/desktops.js';
import type { SimulatorRoute } from './simulator-faults.js';
import { DESKTOP_NOT_FOUND, type DesktopFleet, JOB_NOT_FOUND } from './workspace-desktops.js';

interface DesktopRequest {
  readonly method: string;
  readonly query: URLSearchParams;
  readonly body: Buffer;
}

interface DesktopAnswer {
  readonly status: number;
  readonly body: string;
}

/** Huawei's API gateway refuses a request URI of 32 KB or more. */
const MAX_QUERY_CHARS = 32 * 1024;

/** Which desktop call a path is, or undefined when it is none of them. */
export function desktopRouteOf(
  method: string,
  collection: string | undefined,
  id: string | undefined,
): SimulatorRoute | undefined {
  if (collection === 'desktops' && id === 'action') return method === 'POST' ? 'desktop-action' : 'other';
  if (collection === 'desktops' && id !== undefined)
    return method === 'GET' ? (id === 'detail' ? 'list-desktops' : 'desktop-detail') : 'other';
  if (collection === 'workspace-jobs' && id !== undefined) return method === 'GET' ? 'job-detail' : 'other';
  return undefined;
}

/** The answer to a desktop call, or undefined when the path is not one. */
export function answerDesktops(
  fleet: DesktopFleet,
  projectId: string,
  collection: string | undefined,
  id: string | undefined,
  req: DesktopRequest,
): DesktopAnswer | undefined {
  const route = desktopRouteOf(req.method, collection, id);
  if (route === undefined || id === undefined) return undefined;
  if (route === 'other') return refuse(405, 'WKS.00000405', 'Method not allowed.');
  if (req.query.toString().length >= MAX_QUERY_CHARS) return refuse(414, 'APIG.0201', 'Request URI too large.');
  if (route === 'desktop-detail') {
    const desktop = fleet.detail(projectId, id);
    return desktop ? ok({ desktop }) : refuse(404, DESKTOP_NOT_FOUND, `The desktop ${id} does not exist.`);
  }
  if (route === 'list-desktops') {
    const parsed = parseListQuery(req.query);
    if (typeof parsed === 'string') return refuse(400, 'WKS.00211102', parsed);
    return ok(fleet.list(projectId, parsed, parsed.offset, parsed.limit));
  }
  if (route === 'job-detail') {
    const job = fleet.job(projectId, id);
    return job ? ok(job) : refuse(404, JOB_NOT_FOUND, `The job ${id} does not exist.`);
  }
  const action = parseAction(req.body);
  if (typeof action === 'string') return refuse(400, 'WKS.00211102', action);
  const result = fleet.run(projectId, action.desktopIds, action.opType);
  if (!result.ok) return refuse(result.status, result.code, result.message);
  return ok({ job_id: result.jobId, failed_operation_list: result.failed });
}

interface ListQuery {
  readonly desktopIds: string[];
  readonly status?: string;
  readonly inMaintenanceMode?: boolean;
  readonly offset: number;
  readonly limit: number;
}

/**
 * ListDesktopsDetail's query: repeated `desktop_id`, `status`, `in_maintenance_mode`, `offset` (≥ 0) and `limit`
 * (0–500, default 500).
 */
function parseListQuery(query: URLSearchParams): ListQuery | string {
  const offset = whole(query.get('offset') ?? '0');
  const limit = whole(query.get('limit') ?? String(MAX_DESKTOPS_PER_PAGE));
  if (offset === undefined) return 'Invalid parameter: offset must be a whole number from 0.';
  if (limit === undefined || limit > MAX_DESKTOPS_PER_PAGE)
    return `Invalid parameter: limit must be a whole number from 0 to ${MAX_DESKTOPS_PER_PAGE}.`;
  const maintenance = query.get('in_maintenance_mode');
  if (maintenance !== null && maintenance !== 'true' && maintenance !== 'false')
    return 'Invalid parameter: in_maintenance_mode must be true or false.';
  return {
    desktopIds: query.getAll('desktop_id'),
    ...(query.get('status') !== null ? { status: query.get('status')! } : {}),
    ...(maintenance !== null ? { inMaintenanceMode: maintenance === 'true' } : {}),
    offset,
    limit,
  };
}

/** `{desktop_ids: [string, …], op_type, type?}` as the SDKs send it. */
function parseAction(body: Buffer): { desktopIds: string[]; opType: DesktopOperation } | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return 'Invalid parameter: the body is not JSON.';
  }
  const {
    desktop_ids: ids,
    op_type: opType,
    type,
  } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => typeof id === 'string' && id !== ''))
    return 'Invalid parameter: desktop_ids must be a non-empty list of desktop ids.';
  if (!DESKTOP_OPERATIONS.includes(opType as DesktopOperation))
    return `Invalid parameter: op_type must be one of ${DESKTOP_OPERATIONS.join(', ')}.`;
  if (type !== undefined && type !== 'SOFT' && type !== 'HARD') return 'Invalid parameter: type must be SOFT or HARD.';
  return { desktopIds: ids as string[], opType: opType as DesktopOperation };
}

function whole(text: string): number | undefined {
  return /^\d{1,9}$/.test(text) ? Number(text) : undefined;
}

function ok(body: unknown): DesktopAnswer {
  return { status: 200, body: JSON.stringify(body) };
}

function refuse(status: number, code: string, message: string): DesktopAnswer {
  return { status, body: JSON.stringify({ error_code: code, error_msg: message }) };
}
