/**
 * Errors from Workspace calls, as values the caller can act on. The split
 * follows docs/workspace-api.md ("Errors"): transient failures are worth another
 * try, permanent ones are not, and authentication failures get exactly one
 * credential refresh (more than five refused signatures lock the key).
 */

/** How a failed call is treated: tried again, not tried again, or one credential refresh. */
export type ErrorKind = 'transient' | 'permanent' | 'auth';

/** What a failed Workspace call tells us, never including credentials. */
export interface WorkspaceErrorEvidence {
  /** HTTP status, or undefined when no answer came (network error, timeout). */
  readonly status?: number | undefined;
  /** Huawei's error code (`APIG.0308`, `WKS.00211102`, …) or ours (`NETWORK`, `TIMEOUT`, `MALFORMED_RESPONSE`). */
  readonly code: string;
  readonly message: string;
  readonly requestId?: string | undefined;
  /** Seconds from a Retry-After header, when the answer had one. */
  readonly retryAfterSeconds?: number | undefined;
}

/** A Workspace call that failed, classified. */
export class WorkspaceApiError extends Error implements WorkspaceErrorEvidence {
  override readonly name = 'WorkspaceApiError';
  readonly kind: ErrorKind;
  readonly status?: number | undefined;
  readonly code: string;
  readonly requestId?: string | undefined;
  readonly retryAfterSeconds?: number | undefined;

  constructor(evidence: WorkspaceErrorEvidence) {
    super(
      `Workspace ${evidence.status ?? 'call'} ${evidence.code}: ${evidence.message}` +
        (evidence.requestId ? ` (X-Request-Id ${evidence.requestId})` : ''),
    );
    this.kind = classifyError(evidence.status, evidence.code);
    this.status = evidence.status;
    this.code = evidence.code;
    this.requestId = evidence.requestId;
    this.retryAfterSeconds = evidence.retryAfterSeconds;
  }
}

/** Whether an error is a WorkspaceApiError. */
export function isWorkspaceApiError(error: unknown): error is WorkspaceApiError {
  return error instanceof WorkspaceApiError;
}

/** Whether an error is a WorkspaceApiError worth another try. */
export function isTransient(error: unknown): boolean {
  return isWorkspaceApiError(error) && error.kind === 'transient';
}

const TRANSIENT_CODES = new Set([
  'APIG.0308',
  'APIG.0613',
  'APIG.0601',
  'APIG.0610',
  'WKS.00211401',
  'NETWORK',
  'CONNECT',
  'TIMEOUT',
  'MALFORMED_RESPONSE',
]);
const AUTH_CODES = new Set(['APIG.0301', 'APIGW.0301', 'APIG.0303', 'APIG.0305', 'APIG.0307']);
const PERMANENT_CODES = new Set([
  'APIG.0302',
  'APIG.0306',
  'APIG.0310',
  'WKS.00211102',
  'WKS.00081102',
  'WKS.00000405',
]);
const TRANSIENT_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/**
 * Transient: 429/APIG.0308, 5xx, APIG.0613, WKS.00211401, network errors and
 * timeouts. Auth: 401 (and the APIG 03xx credential codes). Everything else
 * (400, 403, 404, 405, APIG.0302/0306/0310) is permanent. Codes win over
 * statuses: APIG.0201 is permanent on 400 but transient on 502/504.
 */
export function classifyError(status: number | undefined, code: string): ErrorKind {
  if (AUTH_CODES.has(code) || status === 401) return 'auth';
  if (PERMANENT_CODES.has(code)) return 'permanent';
  if (TRANSIENT_CODES.has(code)) return 'transient';
  if (status === undefined || TRANSIENT_STATUSES.has(status)) return 'transient';
  return 'permanent';
}

/** How deep an error body may nest its code: `{"error": {"code": …}}` is one level. */
const MAX_ERROR_NESTING = 3;

/**
 * Workspace's code and message from an error body, read as Huawei's SDKs read
 * them (docs/workspace-api.md, "Errors"): `{error_code, error_msg}` first, then
 * `{code, message}`, then the same inside a nested object such as
 * `{"error": {"code", "message"}}`. A code is a non-empty string; a missing
 * message reads as empty. Undefined when no code is found (not JSON, or no code).
 */
export function parseErrorBody(text: string): { code: string; message: string } | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  return findErrorCode(body, 0);
}

const CODE_FIELDS = [
  ['error_code', 'error_msg'],
  ['code', 'message'],
] as const;

function findErrorCode(value: unknown, depth: number): { code: string; message: string } | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || depth > MAX_ERROR_NESTING)
    return undefined;
  const fields = value as Record<string, unknown>;
  for (const [codeField, messageField] of CODE_FIELDS) {
    const code = fields[codeField];
    if (typeof code === 'string' && code !== '') {
      const message = fields[messageField];
      return { code, message: typeof message === 'string' ? message : '' };
    }
  }
  // `error` first, as both SDKs look there; then any other nested object, in order.
  const nested = ['error', ...Object.keys(fields).filter((key) => key !== 'error')];
  for (const key of nested) {
    const found = findErrorCode(fields[key], depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** Retry-After as seconds: a number of seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * Answers that say the call never reached the backend, so the script did not
 * run again: a non-idempotent POST may be sent again, and the attempt is not
 * counted. Anything else (a timeout, a reset, a 500/502/504, a malformed 200)
 * may have retried the script already.
 */
export function certainlyNotApplied(error: WorkspaceApiError): boolean {
  return (
    error.status === 429 ||
    error.status === 503 ||
    ['APIG.0308', 'APIG.0613', 'WKS.00211401', 'CONNECT'].includes(error.code)
  );
}

/**
 * A Workspace refusal as evidence for a reason: status, code and request id (`404 WKS.00210404 (X-Request-Id r-1)`).
 */
export function describeRefusal(error: WorkspaceApiError): string {
  return `${error.status ?? '-'} ${error.code}${error.requestId ? ` (X-Request-Id ${error.requestId})` : ''}`;
}
