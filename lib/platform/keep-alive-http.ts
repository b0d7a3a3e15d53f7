/**
 * One HTTP exchange over node:http or node:https, on one keep-alive agent per
 * protocol per container: connections are reused across calls and
 * invocations. Both wires go this way, the Workspace calls
 * (lib/workspace/client.ts) and the AWS JSON calls (lib/platform/aws-json.ts).
 * The body is read whole, as text; its size is bounded.
 */

import type { Agent, request as httpRequest, IncomingHttpHeaders } from 'node:http';

/** One HTTP request: its method, URL, headers and body, and the limits on the exchange. */
export interface HttpRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | undefined;
  /** The whole exchange, from connecting to the last byte of the body. */
  readonly timeoutMs: number;
  /** Bodies longer than this are refused (declared ones before reading). */
  readonly maxBytes: number;
}

/** An HTTP answer, its body read whole as text. */
export interface HttpResponse {
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: Readonly<IncomingHttpHeaders>;
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

/** An exchange that got no usable answer; `failure` says how it failed. */
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
 * Idle connections are closed after 4 s (shorter than the usual server
 * keep-alive, and shorter still when the server's Keep-Alive header asks),
 * so a POST is not sent on a socket the server is closing: a reset POST has
 * an unknown outcome and is not repeated.
 */
const IDLE_MS = 4_000;

interface Wire {
  readonly send: typeof httpRequest;
  readonly agent: Agent;
}

const wires = new Map<string, Promise<Wire>>();

/**
 * node:http (and node:https, with TLS) loaded on the first call, not at
 * import: an invocation that sends nothing never pays for them.
 */
function wireFor(protocol: string): Promise<Wire> {
  let wire = wires.get(protocol);
  if (!wire) {
    const options = { keepAlive: true, timeout: IDLE_MS, scheduling: 'lifo' } as const;
    if (protocol === 'https:')
      wire = import('node:https').then(({ Agent, request }) => ({
        send: request as typeof httpRequest,
        agent: new Agent(options),
      }));
    else if (protocol === 'http:')
      wire = import('node:http').then(({ Agent, request }) => ({ send: request, agent: new Agent(options) }));
    else return Promise.reject(new TransportError('refused', `unsupported protocol ${protocol}`));
    wires.set(protocol, wire);
  }
  return wire;
}

/** The HttpTransport of the functions: node:http or node:https on the container's keep-alive agents. */
export const keepAliveTransport: HttpTransport = async (request) => {
  const url = new URL(request.url);
  const { send, agent } = await wireFor(url.protocol);
  return new Promise<HttpResponse>((resolve, reject) => {
    let done = false;
    const finish = (settle: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      settle();
    };
    const fail = (error: TransportError) =>
      finish(() => {
        outgoing.destroy();
        reject(error);
      });
    const timer = setTimeout(
      () => fail(new TransportError('timeout', `no complete answer within ${request.timeoutMs} ms`)),
      request.timeoutMs,
    );
    const outgoing = send(
      {
        agent,
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: request.method,
        headers: request.headers,
      },
      (incoming) => {
        const tooLarge = () => fail(new TransportError('too-large', `answer is larger than ${request.maxBytes} bytes`));
        if (Number(incoming.headers['content-length']) > request.maxBytes) return tooLarge();
        const chunks: Buffer[] = [];
        let size = 0;
        incoming.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > request.maxBytes) return tooLarge();
          chunks.push(chunk);
        });
        incoming.on('end', () =>
          finish(() =>
            resolve({
              status: incoming.statusCode ?? 0,
              headers: incoming.headers,
              body: Buffer.concat(chunks, size).toString('utf8'),
            }),
          ),
        );
        incoming.on('error', (error) => fail(transportError(error)));
      },
    );
    outgoing.on('error', (error) => fail(transportError(error)));
    outgoing.end(request.body);
  });
};

function transportError(error: Error & { code?: string }): TransportError {
  // https://man7.org/linux/man-pages/man2/connect.2.html: ECONNREFUSED, no one listening; nothing was sent.
  if (error.code === 'ECONNREFUSED') return new TransportError('refused', `ECONNREFUSED: ${error.message}`);
  return new TransportError('network', `${error.code ?? error.name}: ${error.message}`);
}
