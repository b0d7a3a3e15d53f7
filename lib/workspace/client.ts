import { handleWhen, retry } from 'cockatiel';
import { inCallBackoff } from '../platform/backoff.js';
import { resolveEndpoint, type EndpointOverrides } from './endpoints.js';
import { TransportError, undiciTransport, type HttpResponse, type HttpTransport } from './http-transport.js';
import { assertSafeId } from '../events/identifiers.js';
import { signRequest, type QueryParams, type SigningCredentials } from './signer.js';
import { certainlyNotApplied, parseErrorBody, parseRetryAfter, WorkspaceApiError } from './errors.js';
import type { ExecutionRecord, ProjectRef, RecordFilters, RetryAccepted, RetryTarget } from './types.js';
import { recordQuery } from './record-query.js';

/** How the client reaches Workspace and how hard it tries. */
export interface WorkspaceClientOptions {
  readonly defaultRegion: string;
  readonly endpoints: EndpointOverrides;
  /** Per HTTP request, including reading the body. */
  readonly timeoutMs: number;
  /** In-call retries of a transient failure (so at most 1 + this many requests). */
  readonly maxInCallRetries: number;
  readonly backoffBaseMs: number;
  readonly backoffCapMs: number;
  /** How requests reach the network (tests stand in for it); undici with keep-alive by default. */
  readonly transport?: HttpTransport;
  readonly now?: () => Date;
  readonly random?: () => number;
}

/** A request ready to send, and what a dry run shows of it (no signature, no key). */
export interface PreparedRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly body?: string | undefined;
  readonly signedHeaderNames: readonly string[];
}

interface Prepared extends PreparedRequest {
  readonly headers: Record<string, string>;
}

/** Bodies we read at most: a list page of 100 records is far below this. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * Calls Huawei Cloud Workspace's script-execution API, signed with AK/SK.
 * undici (keep-alive connections are reused across calls), a timeout
 * per request, and bounded in-call retries with full-jitter backoff that
 * honour Retry-After. Authentication failures are thrown as `kind: 'auth'`
 * and never retried here: the caller refreshes the credentials once.
 */
export class WorkspaceClient {
  private readonly transport: HttpTransport;
  private readonly now: () => Date;
  private readonly random: () => number;
  /** Reads repeat any transient failure; the retry POST only those that certainly did not run. Built once per client. */
  private readonly retryPolicies: Record<'GET' | 'POST', ReturnType<WorkspaceClient['retryPolicy']>>;

  constructor(private readonly options: WorkspaceClientOptions) {
    this.transport = options.transport ?? undiciTransport;
    this.now = options.now ?? (() => new Date());
    this.random = options.random ?? Math.random;
    this.retryPolicies = { GET: this.retryPolicy(() => true), POST: this.retryPolicy(certainlyNotApplied) };
  }

  /** POST /v2/{project_id}/script-executions/retry: returns the new task id. */
  async retry(project: ProjectRef, target: RetryTarget, credentials: SigningCredentials): Promise<RetryAccepted> {
    const { json, requestId } = await this.call(() => this.prepareRetry(project, target, credentials), 'POST');
    const taskId = (json as { task_id?: unknown } | undefined)?.task_id;
    if (typeof taskId !== 'string' || taskId === '') {
      throw new WorkspaceApiError({ status: 200, code: 'MALFORMED_RESPONSE', message: 'retry answer has no task_id', requestId });
    }
    return { taskId, requestId };
  }

  /** The retry request exactly as it would be sent, for dry runs. */
  describeRetry(project: ProjectRef, target: RetryTarget, credentials: SigningCredentials): PreparedRequest {
    const { method, url, body, signedHeaderNames } = this.prepareRetry(project, target, credentials);
    return { method, url, body, signedHeaderNames };
  }

  /** The origin calls for this project go to (for circuit breakers and logs). */
  endpointOf(project: ProjectRef): string {
    return resolveEndpoint(project.region ?? this.options.defaultRegion, this.options.endpoints).origin;
  }

  /** GET /v2/{project_id}/script-execution-records/{record_id}. */
  async getRecord(project: ProjectRef, recordId: string, credentials: SigningCredentials): Promise<ExecutionRecord> {
    const segments = ['v2', assertSafeId('project_id', project.projectId), 'script-execution-records', assertSafeId('record_id', recordId)];
    const { json } = await this.call(() => this.prepare(project, 'GET', segments, undefined, undefined, credentials), 'GET');
    return json as ExecutionRecord;
  }

  /** Every execution record matching the filters, walking every page. */
  async *listRecords(project: ProjectRef, filters: RecordFilters, credentials: SigningCredentials): AsyncGenerator<ExecutionRecord> {
    const segments = ['v2', assertSafeId('project_id', project.projectId), 'script-execution-records'];
    const limit = Math.min(100, Math.max(1, filters.pageSize ?? 100));
    for (let offset = filters.offset ?? 0; ; offset += limit) {
      const query = recordQuery(filters, offset, limit);
      const { json } = await this.call(() => this.prepare(project, 'GET', segments, query, undefined, credentials), 'GET');
      const page = json as { count?: unknown; script_records?: unknown };
      const records = Array.isArray(page?.script_records) ? (page.script_records as ExecutionRecord[]) : [];
      yield* records;
      const count = typeof page?.count === 'number' ? page.count : undefined;
      if (records.length < limit || (count !== undefined && offset + limit >= count)) return;
    }
  }

  private prepareRetry(project: ProjectRef, target: RetryTarget, credentials: SigningCredentials): Prepared {
    const segments = ['v2', assertSafeId('project_id', project.projectId), 'script-executions', 'retry'];
    const body =
      target.recordId !== undefined
        ? { record_id: assertSafeId('record_id', target.recordId) }
        : { task_id: assertSafeId('task_id', target.taskId) };
    return this.prepare(project, 'POST', segments, undefined, JSON.stringify(body), credentials);
  }

  private prepare(
    project: ProjectRef,
    method: 'GET' | 'POST',
    segments: readonly string[],
    query: QueryParams | undefined,
    body: string | undefined,
    credentials: SigningCredentials,
  ): Prepared {
    const base = resolveEndpoint(project.region ?? this.options.defaultRegion, this.options.endpoints);
    // A base URL may carry a path prefix (a proxy); its segments come first.
    const prefix = base.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const signed = signRequest(
      {
        method,
        host: base.host,
        pathSegments: [...prefix, ...segments],
        query,
        headers: { 'content-type': 'application/json' },
        body,
        projectId: project.projectId,
        date: this.now(),
      },
      credentials,
    );
    const { host: _host, ...headers } = signed.headers;
    return { method, url: `${base.origin}${signed.pathAndQuery}`, body, headers, signedHeaderNames: signed.signedHeaderNames };
  }

  /** Sends with bounded in-call retries; each attempt is prepared (and signed) afresh. */
  private async call(prepare: () => Prepared, method: 'GET' | 'POST'): Promise<{ json: unknown; requestId?: string | undefined }> {
    return this.retryPolicies[method].execute(() => this.send(prepare()));
  }

  private retryPolicy(repeatable: (error: WorkspaceApiError) => boolean) {
    const { backoffBaseMs, backoffCapMs, maxInCallRetries } = this.options;
    return retry(handleWhen((error) => error instanceof WorkspaceApiError && error.kind === 'transient' && repeatable(error)), {
      maxAttempts: maxInCallRetries,
      backoff: inCallBackoff({ baseMs: backoffBaseMs, capMs: backoffCapMs, random: this.random, retryAfterMs: (error) => (error instanceof WorkspaceApiError ? (error.retryAfterSeconds ?? 0) * 1000 : 0) }),
    });
  }

  private async send(request: Prepared): Promise<{ json: unknown; requestId?: string | undefined }> {
    let response: HttpResponse;
    try {
      response = await this.transport({ method: request.method, url: request.url, headers: request.headers, body: request.body, timeoutMs: this.options.timeoutMs, maxBytes: MAX_RESPONSE_BYTES });
    } catch (error) {
      throw transportError(error);
    }
    const requestId = firstHeader(response.headers['x-request-id']);
    if (response.status < 200 || response.status > 299) {
      const parsed = parseErrorBody(response.body);
      throw new WorkspaceApiError({
        status: response.status,
        code: parsed?.code ?? `HTTP_${response.status}`,
        message: parsed?.message ?? 'no error body',
        requestId,
        retryAfterSeconds: parseRetryAfter(firstHeader(response.headers['retry-after']) ?? null),
      });
    }
    if (response.body === '') return { json: undefined, requestId };
    try {
      return { json: JSON.parse(response.body), requestId };
    } catch {
      throw new WorkspaceApiError({ status: response.status, code: 'MALFORMED_RESPONSE', message: 'answer is not JSON', requestId });
    }
  }
}

function firstHeader(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
}

/** What callers rely on: TIMEOUT and NETWORK may have reached Workspace; CONNECT (refused) never did. */
const TRANSPORT_CODES = { timeout: 'TIMEOUT', refused: 'CONNECT', network: 'NETWORK', 'too-large': 'MALFORMED_RESPONSE' } as const;

function transportError(error: unknown): WorkspaceApiError {
  if (error instanceof WorkspaceApiError) return error;
  if (error instanceof TransportError) return new WorkspaceApiError({ code: TRANSPORT_CODES[error.failure], message: error.message });
  const err = error as { name?: string; message?: string };
  return new WorkspaceApiError({ code: 'NETWORK', message: `${err?.name ?? 'error'}: ${err?.message ?? 'network failure'}` });
}
