import { DelegateBackoff, handleWhen, retry } from 'cockatiel';
import { fullJitterDelay } from './backoff.js';
import { resolveEndpoint, type EndpointOverrides } from './endpoints.js';
import { assertSafeId } from './identifiers.js';
import { signRequest, type QueryParams, type SigningCredentials } from './signer.js';
import { certainlyNotApplied, parseErrorBody, parseRetryAfter, WorkspaceApiError } from './workspace-errors.js';
import type { ExecutionRecord, ProjectRef, RecordFilters, RetryAccepted, RetryTarget } from './workspace-types.js';

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
  readonly fetch?: typeof fetch;
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
 * Built-in fetch (keep-alive connections are reused across calls), a timeout
 * per request, and bounded in-call retries with full-jitter backoff that
 * honour Retry-After. Authentication failures are thrown as `kind: 'auth'`
 * and never retried here: the caller refreshes the credentials once.
 */
export class WorkspaceClient {
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => Date;
  private readonly random: () => number;
  /** Reads repeat any transient failure; the retry POST only those that certainly did not run. Built once per client. */
  private readonly retryPolicies: Record<'GET' | 'POST', ReturnType<WorkspaceClient['retryPolicy']>>;

  constructor(private readonly options: WorkspaceClientOptions) {
    this.fetchImpl = options.fetch ?? fetch;
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
      backoff: new DelegateBackoff((context) => {
        const error = 'error' in context.result ? context.result.error : undefined;
        const jitter = fullJitterDelay(context.attempt - 1, backoffBaseMs, backoffCapMs, this.random);
        const retryAfterMs = error instanceof WorkspaceApiError && error.retryAfterSeconds !== undefined ? error.retryAfterSeconds * 1000 : 0;
        return Math.min(Math.max(jitter, retryAfterMs), backoffCapMs);
      }),
    });
  }

  private async send(request: Prepared): Promise<{ json: unknown; requestId?: string | undefined }> {
    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      text = await readLimited(response);
      // undici frees the socket for the next request a tick after the body ends; without this
      // yield a caller that sends its next request at once opens a second connection.
      await new Promise<void>((resolve) => setImmediate(resolve));
    } catch (error) {
      throw networkError(error, this.options.timeoutMs);
    }
    const requestId = response.headers.get('x-request-id') ?? undefined;
    if (!response.ok) {
      const parsed = parseErrorBody(text);
      throw new WorkspaceApiError({
        status: response.status,
        code: parsed?.code ?? `HTTP_${response.status}`,
        message: parsed?.message ?? (response.statusText || 'no error body'),
        requestId,
        retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after')),
      });
    }
    if (text === '') return { json: undefined, requestId };
    try {
      return { json: JSON.parse(text), requestId };
    } catch {
      throw new WorkspaceApiError({ status: response.status, code: 'MALFORMED_RESPONSE', message: 'answer is not JSON', requestId });
    }
  }
}

function recordQuery(filters: RecordFilters, offset: number, limit: number): QueryParams {
  const query: Record<string, string | readonly string[]> = { offset: String(offset), limit: String(limit) };
  if (filters.status) query['status'] = filters.status;
  if (filters.scriptTaskId) query['script_task_id'] = assertSafeId('script_task_id', filters.scriptTaskId);
  if (filters.scriptIds?.length) query['script_id'] = filters.scriptIds.map((id) => assertSafeId('script_id', id));
  if (filters.resourceIds?.length) query['resource_id'] = filters.resourceIds.map((id) => assertSafeId('resource_id', id));
  if (filters.taskType) query['task_type'] = filters.taskType;
  if (filters.executeTimeStart) query['execute_time_start'] = huaweiTime(filters.executeTimeStart);
  if (filters.executeTimeEnd) query['execute_time_end'] = huaweiTime(filters.executeTimeEnd);
  return query;
}

/** `2021-10-01T12:00:00Z`: Workspace's time format, without milliseconds. */
export function huaweiTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

async function readLimited(response: Response): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > MAX_RESPONSE_BYTES) {
    await response.body?.cancel();
    throw new WorkspaceApiError({ status: response.status, code: 'MALFORMED_RESPONSE', message: `answer of ${declared} bytes is too large` });
  }
  const text = await response.text();
  if (text.length > MAX_RESPONSE_BYTES) {
    throw new WorkspaceApiError({ status: response.status, code: 'MALFORMED_RESPONSE', message: 'answer is too large' });
  }
  return text;
}

function networkError(error: unknown, timeoutMs: number): WorkspaceApiError {
  if (error instanceof WorkspaceApiError) return error;
  const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') {
    return new WorkspaceApiError({ code: 'TIMEOUT', message: `no complete answer within ${timeoutMs} ms` });
  }
  const cause = err?.cause?.code;
  // A refused connection never reached Workspace, so even a POST may be sent again.
  const code = cause === 'ECONNREFUSED' ? 'CONNECT' : 'NETWORK';
  return new WorkspaceApiError({ code, message: `${cause ?? err?.name ?? 'error'}: ${err?.cause?.message ?? err?.message ?? 'network failure'}` });
}
