import { handleWhen, retry } from 'cockatiel';
import { assertSafeId } from '../events/identifiers.js';
import { inCallBackoff } from '../platform/backoff.js';
import { type HttpTransport, keepAliveTransport } from '../platform/keep-alive-http.js';
import { type EndpointOverrides, resolveEndpoint } from './endpoints.js';
import { certainlyNotApplied, WorkspaceApiError } from './errors.js';
import { type Answer, exchange, type WireRequest } from './exchange.js';
import { recordQuery } from './record-query.js';
import { type QueryParams, type SigningCredentials, signRequest } from './signer.js';
import type { ExecutionRecord, ProjectRef, RecordFilters, RetryAccepted, RetryTarget } from './types.js';

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
  /** How requests reach the network (tests stand in for it); lib/platform/keep-alive-http.ts by default. */
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

type Prepared = PreparedRequest & WireRequest;

/**
 * Another Workspace operation, for companions such as WorkspaceDesktops: path segments from `v2` on, already checked.
 */
export interface OperationCall {
  readonly method: 'GET' | 'POST';
  readonly segments: readonly string[];
  readonly query?: QueryParams | undefined;
  readonly body?: string | undefined;
}

/**
 * Calls Huawei Cloud Workspace's script-execution API, signed with AK/SK.
 * HTTP/1.1 on kept connections (reused across calls: lib/platform/keep-alive-http.ts), a timeout
 * per request, and bounded in-call retries with full-jitter backoff that
 * honour Retry-After. Authentication failures are thrown as `kind: 'auth'`
 * and never retried here: the caller refreshes the credentials once.
 */
export class WorkspaceClient {
  private readonly transport: HttpTransport;
  private readonly now: () => Date;
  private readonly random: () => number;
  /**
   * Reads repeat any transient failure; the retry POST only those that certainly did not run. Built once per client.
   */
  private readonly retryPolicies: Record<'GET' | 'POST', ReturnType<WorkspaceClient['retryPolicy']>>;

  constructor(private readonly options: WorkspaceClientOptions) {
    this.transport = options.transport ?? keepAliveTransport;
    this.now = options.now ?? (() => new Date());
    this.random = options.random ?? Math.random;
    this.retryPolicies = { GET: this.retryPolicy(() => true), POST: this.retryPolicy(certainlyNotApplied) };
  }

  /** POST /v2/{project_id}/script-executions/retry: returns the new task id. */
  async retry(project: ProjectRef, target: RetryTarget, credentials: SigningCredentials): Promise<RetryAccepted> {
    const { json, requestId } = await this.call(() => this.prepareRetry(project, target, credentials), 'POST');
    const taskId = (json as { task_id?: unknown } | undefined)?.task_id;
    if (typeof taskId !== 'string' || taskId === '') {
      throw new WorkspaceApiError({
        status: 200,
        code: 'MALFORMED_RESPONSE',
        message: 'retry answer has no task_id',
        requestId,
      });
    }
    return { taskId, requestId };
  }

  /** The retry request exactly as it would be sent, for dry runs. */
  describeRetry(project: ProjectRef, target: RetryTarget, credentials: SigningCredentials): PreparedRequest {
    const { method, url, body, signedHeaderNames } = this.prepareRetry(project, target, credentials);
    return { method, url, body, signedHeaderNames };
  }

  /** Sends another operation signed and retried in-call as these are (a POST only when it certainly did not run). */
  async send(project: ProjectRef, operation: OperationCall, credentials: SigningCredentials): Promise<Answer> {
    return this.call(
      () => this.prepare(project, operation.method, operation.segments, operation.query, operation.body, credentials),
      operation.method,
    );
  }

  /** Another operation's request exactly as it would be sent, for dry runs. */
  describe(project: ProjectRef, operation: OperationCall, credentials: SigningCredentials): PreparedRequest {
    const { method, url, body, signedHeaderNames } = this.prepare(
      project,
      operation.method,
      operation.segments,
      operation.query,
      operation.body,
      credentials,
    );
    return { method, url, body, signedHeaderNames };
  }

  /** The origin calls for this project go to (for circuit breakers and logs). */
  endpointOf(project: ProjectRef): string {
    return resolveEndpoint(project.region ?? this.options.defaultRegion, this.options.endpoints).origin;
  }

  /** GET /v2/{project_id}/script-execution-records/{record_id}. */
  async getRecord(project: ProjectRef, recordId: string, credentials: SigningCredentials): Promise<ExecutionRecord> {
    const segments = [
      'v2',
      assertSafeId('project_id', project.projectId),
      'script-execution-records',
      assertSafeId('record_id', recordId),
    ];
    const { json } = await this.call(
      () => this.prepare(project, 'GET', segments, undefined, undefined, credentials),
      'GET',
    );
    return json as ExecutionRecord;
  }

  /** Every execution record matching the filters, walking every page. */
  async *listRecords(
    project: ProjectRef,
    filters: RecordFilters,
    credentials: SigningCredentials,
  ): AsyncGenerator<ExecutionRecord> {
    const segments = ['v2', assertSafeId('project_id', project.projectId), 'script-execution-records'];
    const limit = Math.min(100, Math.max(1, filters.pageSize ?? 100));
    for (let offset = filters.offset ?? 0; ; offset += limit) {
      const query = recordQuery(filters, offset, limit);
      const { json } = await this.call(
        () => this.prepare(project, 'GET', segments, query, undefined, credentials),
        'GET',
      );
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
    return {
      method,
      url: `${base.origin}${signed.pathAndQuery}`,
      body,
      headers,
      signedHeaderNames: signed.signedHeaderNames,
    };
  }

  /** Sends with bounded in-call retries; each attempt is prepared (and signed) afresh. */
  private async call(prepare: () => Prepared, method: 'GET' | 'POST'): Promise<Answer> {
    return this.retryPolicies[method].execute(() => exchange(this.transport, prepare(), this.options.timeoutMs));
  }

  private retryPolicy(repeatable: (error: WorkspaceApiError) => boolean) {
    const { backoffBaseMs, backoffCapMs, maxInCallRetries } = this.options;
    return retry(
      handleWhen((error) => error instanceof WorkspaceApiError && error.kind === 'transient' && repeatable(error)),
      {
        maxAttempts: maxInCallRetries,
        backoff: inCallBackoff({
          baseMs: backoffBaseMs,
          capMs: backoffCapMs,
          random: this.random,
          retryAfterMs: (error) => (error instanceof WorkspaceApiError ? (error.retryAfterSeconds ?? 0) * 1000 : 0),
        }),
      },
    );
  }
}
