import type { Dispatcher } from 'undici';

/**
 * How the Workspace client puts a request on the wire: one undici Agent per
 * container, keep-alive connections reused across calls and invocations.
 * undici's `request` costs about half the CPU of node:http's client and a
 * seventh of `fetch`'s per call (bench/workspace-call.ts measures it), and
 * this path adds no WHATWG Request/Response/AbortSignal objects per call.
 */

export interface HttpRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | undefined;
  /** The whole exchange, from connecting to the last byte of the body. */
  readonly timeoutMs: number;
  /** Bodies longer than this are refused (declared ones before reading); the first request's value holds for the container. */
  readonly maxBytes: number;
}

export interface HttpResponse {
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** Sends one request; fails with a TransportError. Injectable, so tests can stand in for the network. */
export type HttpTransport = (request: HttpRequest) => Promise<HttpResponse>;

/**
 * Why no answer came. `refused`: the connection was refused, so the request
 * never reached the server (even a POST may be sent again); `network`: reset
 * or broken mid-way, so it may have been applied.
 */
export type TransportFailure = 'timeout' | 'refused' | 'network' | 'too-large';

export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly failure: TransportFailure,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Idle connections are closed after 4 s (undici's default, shorter than the
 * usual server keep-alive), so a POST is not sent on a socket the server is
 * closing: a reset POST has an unknown outcome and is not repeated in-call.
 */
const KEEP_ALIVE_MS = 4_000;

type Send = (options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
let shared: Promise<Send> | undefined;

/**
 * undici is loaded on the first call, not at import: an invocation that calls
 * no Workspace API (duplicates, dry runs, the kill switch) never pays for it.
 * Only its Agent and request API are loaded (lib/workspace/undici-parts.d.ts).
 */
function sharedSend(maxBytes: number): Promise<Send> {
  shared ??= Promise.all([import('undici/lib/dispatcher/agent.js'), import('undici/lib/api/api-request.js')]).then(([{ default: Agent }, { default: request }]) => {
    const agent = new Agent({ keepAliveTimeout: KEEP_ALIVE_MS, maxResponseSize: maxBytes });
    return (options) => request.call(agent, options);
  });
  return shared;
}

export const undiciTransport: HttpTransport = async (request) => {
  const send = await sharedSend(request.maxBytes);
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, request.timeoutMs);
  try {
    const response = await send({ origin: originOf(request.url), path: pathOf(request.url), method: request.method, headers: request.headers, body: request.body, signal: abort.signal });
    const body = await response.body.text();
    // undici frees the connection a tick after the body ends; without this yield a caller that
    // sends its next request at once opens another connection instead of reusing this one.
    await new Promise<void>((resolve) => setImmediate(resolve));
    return { status: response.statusCode, headers: response.headers, body };
  } catch (error) {
    throw transportError(error, timedOut, request);
  } finally {
    clearTimeout(timer);
  }
};

function originOf(url: string): string {
  return url.slice(0, url.indexOf('/', url.indexOf('//') + 2));
}

function pathOf(url: string): string {
  return url.slice(url.indexOf('/', url.indexOf('//') + 2));
}

function transportError(error: unknown, timedOut: boolean, { timeoutMs, maxBytes }: HttpRequest): TransportError {
  if (error instanceof TransportError) return error;
  if (timedOut) return new TransportError('timeout', `no complete answer within ${timeoutMs} ms`);
  const err = error as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = err?.code ?? err?.cause?.code;
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return new TransportError('too-large', `answer is larger than ${maxBytes} bytes`);
  // https://man7.org/linux/man-pages/man2/connect.2.html: ECONNREFUSED, no one listening; nothing was sent.
  if (code === 'ECONNREFUSED') return new TransportError('refused', `ECONNREFUSED: ${err?.message ?? 'connection refused'}`);
  return new TransportError('network', `${code ?? err?.name ?? 'error'}: ${err?.message ?? 'network failure'}`);
}
