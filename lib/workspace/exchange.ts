import { type HttpResponse, type HttpTransport, TransportError } from '../platform/keep-alive-http.js';
import { parseErrorBody, parseRetryAfter, WorkspaceApiError } from './errors.js';

/** A signed request, ready for the wire. */
export interface WireRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body?: string | undefined;
}

/** A 2xx answer: its body as JSON (undefined when empty) and its X-Request-Id. */
export interface Answer {
  readonly json: unknown;
  readonly requestId?: string | undefined;
}

/** Bodies we read at most: a list page of 100 records is far below this. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * One signed request sent and its answer read: a 2xx body as JSON, anything
 * else as a classified WorkspaceApiError carrying Workspace's code, its
 * X-Request-Id and Retry-After (docs/workspace-api.md, "Errors").
 * A transport failure is a WorkspaceApiError too (`TIMEOUT`, `NETWORK`, …), and so is a 2xx body that is not JSON
 * (`MALFORMED_RESPONSE`); an empty body is `json: undefined`.
 */
export async function exchange(transport: HttpTransport, request: WireRequest, timeoutMs: number): Promise<Answer> {
  let response: HttpResponse;
  try {
    response = await transport({
      method: request.method,
      url: request.url,
      headers: request.headers,
      body: request.body,
      timeoutMs,
      maxBytes: MAX_RESPONSE_BYTES,
    });
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
    throw new WorkspaceApiError({
      status: response.status,
      code: 'MALFORMED_RESPONSE',
      message: 'answer is not JSON',
      requestId,
    });
  }
}

function firstHeader(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
}

/** What callers rely on: TIMEOUT and NETWORK may have reached Workspace; CONNECT (refused) never did. */
const TRANSPORT_CODES = {
  timeout: 'TIMEOUT',
  refused: 'CONNECT',
  network: 'NETWORK',
  'too-large': 'MALFORMED_RESPONSE',
} as const;

function transportError(error: unknown): WorkspaceApiError {
  if (error instanceof WorkspaceApiError) return error;
  if (error instanceof TransportError)
    return new WorkspaceApiError({ code: TRANSPORT_CODES[error.failure], message: error.message });
  const err = error as { name?: string; message?: string };
  return new WorkspaceApiError({
    code: 'NETWORK',
    message: `${err?.name ?? 'error'}: ${err?.message ?? 'network failure'}`,
  });
}
