/**
 * Workspace's desktop calls (docs/workspace-api.md, "Desktops"), signed,
 * retried in-call and classified exactly as the script-execution calls are:
 * each goes through WorkspaceClient.send. A failure is a WorkspaceApiError;
 * an unknown desktop or job is its 404 (`isNotFound`).
 */

import { assertSafeId } from '../events/identifiers.js';
import type { OperationCall, PreparedRequest, WorkspaceClient } from './client.js';
import {
  type DesktopAction,
  type DesktopActionAccepted,
  type DesktopDetail,
  type DesktopFilters,
  desktopActionBody,
  desktopIdBatches,
  desktopListQuery,
  type FailedDesktopOperation,
  MAX_DESKTOPS_PER_PAGE,
  type WorkspaceJob,
} from './desktops.js';
import { WorkspaceApiError } from './errors.js';
import type { Answer } from './exchange.js';
import type { SigningCredentials } from './signer.js';
import type { ProjectRef } from './types.js';

/** The desktops asked for: those Workspace listed, and the ids it did not list. */
export interface DesktopsRead {
  readonly found: ReadonlyMap<string, DesktopDetail>;
  /** Not listed: deleted, in another project, or never there. ShowDesktopDetail tells which (a 404 is gone). */
  readonly missing: readonly string[];
  /** List requests sent. */
  readonly calls: number;
}

/** How many desktop ids one list request may ask for. */
export interface WorkspaceDesktopsOptions {
  /** Ids per list request (1–500, default 500); fewer when long ids would make the URI too long. */
  readonly idsPerCall?: number;
}

/**
 * Workspace's desktop calls over a WorkspaceClient: show, list and read desktops, run an action on them, show a job.
 */
export class WorkspaceDesktops {
  private readonly idsPerCall: number;

  constructor(
    private readonly client: Pick<WorkspaceClient, 'send' | 'describe'>,
    options: WorkspaceDesktopsOptions = {},
  ) {
    this.idsPerCall = Math.min(MAX_DESKTOPS_PER_PAGE, Math.max(1, options.idsPerCall ?? MAX_DESKTOPS_PER_PAGE));
  }

  /** GET /v2/{project_id}/desktops/{desktop_id} (ShowDesktopDetail): the `desktop` of its answer. */
  async showDesktop(project: ProjectRef, desktopId: string, credentials: SigningCredentials): Promise<DesktopDetail> {
    const answer = await this.client.send(
      project,
      { method: 'GET', segments: [...base(project), 'desktops', assertSafeId('desktop_id', desktopId)] },
      credentials,
    );
    const desktop = (answer.json as { desktop?: unknown } | undefined)?.desktop;
    if (typeof desktop !== 'object' || desktop === null || Array.isArray(desktop))
      throw malformed(answer, 'desktop detail has no desktop object');
    const detail = desktop as Partial<DesktopDetail>;
    return { ...detail, desktop_id: typeof detail.desktop_id === 'string' ? detail.desktop_id : desktopId };
  }

  /** GET /v2/{project_id}/desktops/detail (ListDesktopsDetail): every desktop matching the filters, every page. */
  async *listDesktops(
    project: ProjectRef,
    filters: DesktopFilters,
    credentials: SigningCredentials,
  ): AsyncGenerator<DesktopDetail> {
    for (let offset = 0; ; ) {
      const page = await this.listPage(project, filters, offset, credentials);
      yield* page.desktops;
      offset += page.desktops.length;
      if (page.desktops.length === 0 || (page.totalCount !== undefined && offset >= page.totalCount)) return;
    }
  }

  /**
   * The desktops with these ids, in as few list requests as fit (up to 500 ids
   * each, repeated `desktop_id`), each paged while it brings desktops asked for
   * and not yet seen. A listing that ignored the filter ends at its first page
   * with none of them; the ids it did not list are `missing`.
   */
  async readDesktops(
    project: ProjectRef,
    desktopIds: Iterable<string>,
    credentials: SigningCredentials,
  ): Promise<DesktopsRead> {
    const found = new Map<string, DesktopDetail>();
    let calls = 0;
    const batches = desktopIdBatches(desktopIds, this.idsPerCall);
    for (const batch of batches) {
      const wanted = new Set(batch);
      for (let offset = 0; wanted.size > 0; ) {
        const page = await this.listPage(project, { desktopIds: batch }, offset, credentials);
        calls++;
        const fresh = page.desktops.filter((desktop) => wanted.delete(desktop.desktop_id));
        for (const desktop of fresh) found.set(desktop.desktop_id, desktop);
        offset += page.desktops.length;
        if (fresh.length === 0 || (page.totalCount !== undefined && offset >= page.totalCount)) break;
      }
    }
    const missing = batches.flat().filter((id) => !found.has(id));
    return { found, missing, calls };
  }

  /** POST /v2/{project_id}/desktops/action (BatchRunDesktops). */
  async runDesktops(
    project: ProjectRef,
    action: DesktopAction,
    credentials: SigningCredentials,
  ): Promise<DesktopActionAccepted> {
    const answer = await this.client.send(project, actionCall(project, action), credentials);
    const json = answer.json as { job_id?: unknown; failed_operation_list?: unknown } | undefined;
    if (json !== undefined && !isObject(json)) throw malformed(answer, 'desktop action answer is not an object');
    const jobId = typeof json?.job_id === 'string' && json.job_id !== '' ? json.job_id : undefined;
    const failed = Array.isArray(json?.failed_operation_list)
      ? ((json.failed_operation_list as unknown[]).filter(isObject) as FailedDesktopOperation[])
      : [];
    return { jobId, failed, requestId: answer.requestId };
  }

  /** The desktop action exactly as it would be sent, for dry runs (no signature, no key). */
  describeAction(project: ProjectRef, action: DesktopAction, credentials: SigningCredentials): PreparedRequest {
    return this.client.describe(project, actionCall(project, action), credentials);
  }

  /** GET /v2/{project_id}/workspace-jobs/{job_id} (ShowJob). */
  async showJob(project: ProjectRef, jobId: string, credentials: SigningCredentials): Promise<WorkspaceJob> {
    const answer = await this.client.send(
      project,
      { method: 'GET', segments: [...base(project), 'workspace-jobs', assertSafeId('job_id', jobId)] },
      credentials,
    );
    if (!isObject(answer.json)) throw malformed(answer, 'job answer is not an object');
    return answer.json as WorkspaceJob;
  }

  private async listPage(
    project: ProjectRef,
    filters: DesktopFilters,
    offset: number,
    credentials: SigningCredentials,
  ): Promise<{ desktops: DesktopDetail[]; totalCount?: number | undefined }> {
    const call: OperationCall = {
      method: 'GET',
      segments: [...base(project), 'desktops', 'detail'],
      query: desktopListQuery(filters, offset, MAX_DESKTOPS_PER_PAGE),
    };
    const answer = await this.client.send(project, call, credentials);
    const page = answer.json as { desktops?: unknown; total_count?: unknown } | undefined;
    if (!isObject(page)) throw malformed(answer, 'desktop list answer is not an object');
    // An entry without a desktop_id cannot be told apart: it is not read (its id stays missing).
    const desktops = Array.isArray(page.desktops)
      ? (page.desktops as unknown[]).filter(
          (d): d is DesktopDetail => isObject(d) && typeof d['desktop_id'] === 'string',
        )
      : [];
    return { desktops, totalCount: typeof page.total_count === 'number' ? page.total_count : undefined };
  }
}

/**
 * Whether a desktop call's failure says the desktop (or job) does not exist:
 * Workspace's 404, whatever its code. Not the gateway's 404 (`APIG.*`, e.g.
 * APIG.0101, no such API in this region): that says nothing of the desktop.
 */
export function isNotFound(error: unknown): boolean {
  return error instanceof WorkspaceApiError && error.status === 404 && !/^APIGW?\./.test(error.code);
}

function base(project: ProjectRef): string[] {
  return ['v2', assertSafeId('project_id', project.projectId)];
}

function actionCall(project: ProjectRef, action: DesktopAction): OperationCall {
  return { method: 'POST', segments: [...base(project), 'desktops', 'action'], body: desktopActionBody(action) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function malformed(answer: Answer, message: string): WorkspaceApiError {
  return new WorkspaceApiError({ status: 200, code: 'MALFORMED_RESPONSE', message, requestId: answer.requestId });
}
