/**
 * One HTTP/1.1 exchange over a kept connection (node:net, or node:tls for
 * https): connections are reused across calls and invocations. Both wires go
 * this way, the Workspace calls (lib/workspace/client.ts) and the AWS JSON
 * calls (lib/platform/aws-json.ts). The request's head and body go in one
 * write; the answer is framed by http-parser-js (Content-Length, chunked, or
 * until the server closes) and its body read whole, as text; its size is
 * bounded. node:http's client cost about a third of a record's CPU for the
 * same exchange (docs/performance.md), so this does its part of it and no
 * more: no redirects, no request streaming, no pipelining, HTTP/1.1 only.
 */

import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { HTTPParser as Framer } from 'http-parser-js';

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
/** A server's `Keep-Alive: timeout=N` is N seconds; a connection is let go this long before it. */
const SERVER_IDLE_MARGIN_MS = 1_000;

/**
 * One exchange's side of a connection: what it does with the answer's head
 * and body as they are framed, and with a failure.
 */
interface Exchange {
  /** `raw`: the answer's header names and values in turn, as framed (a new list for each answer). */
  head(status: number, raw: readonly string[], contentLength: string | undefined, keepAlive: boolean): 'read' | 'stop';
  body(chunk: Buffer): void;
  /** The answer is whole; `clean`: nothing came after it, so its connection can carry the next one. */
  done(clean: boolean): void;
  fail(error: TransportError): void;
}

/** A kept connection to one origin: its socket, its answer framer, and the exchange it is serving, if any. */
interface Connection {
  readonly socket: Socket;
  readonly parser: InstanceType<typeof Framer>;
  exchange: Exchange | undefined;
  /** Whether any of the answer to the exchange in hand has come. */
  heard: boolean;
  /** How long it may wait idle, from the last answer's Keep-Alive. */
  idleMs: number;
}

/** Opens a socket to `url`'s origin; `ready` is the event that says it can carry a request. */
type Connect = (url: URL) => { socket: Socket; ready: 'connect' | 'secureConnect' };
/** net or tls, loaded on the first exchange of its protocol, not at import. */
const connectors = new Map<string, Promise<Connect>>();
/** Idle connections by origin; the one freed last is taken first. */
const idle = new Map<string, Connection[]>();

function connectorFor(protocol: string): Promise<Connect> {
  let connector = connectors.get(protocol);
  if (!connector) {
    if (protocol === 'https:')
      connector = Promise.all([import('node:tls'), import('node:net')]).then(
        ([{ connect }, { isIP }]) =>
          (url: URL) => ({
            socket: connect({
              host: hostOf(url),
              port: Number(url.port || 443),
              // SNI names a host, never an address (RFC 6066, 3).
              ...(isIP(hostOf(url)) ? {} : { servername: hostOf(url) }),
              ALPNProtocols: ['http/1.1'],
            }),
            ready: 'secureConnect' as const,
          }),
      );
    else if (protocol === 'http:')
      connector = import('node:net').then(({ connect }) => (url: URL) => ({
        socket: connect({ host: hostOf(url), port: Number(url.port || 80), noDelay: true }),
        ready: 'connect' as const,
      }));
    else return Promise.reject(new TransportError('refused', `unsupported protocol ${protocol}`));
    connectors.set(protocol, connector);
  }
  return connector;
}

/** The host to connect to: a URL writes an IPv6 address in brackets (`[::1]`), which a connect does not take. */
const hostOf = (url: URL): string => (url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname);

/** http-parser-js, loaded with the first connection, not at import: an invocation that sends nothing never pays for it. */
let framer: Promise<typeof Framer> | undefined;
const loadFramer = () =>
  // A CommonJS module: its exports are the default export, in Node and in a bundle's chunk alike (a chunk has no other).
  (framer ??= import('http-parser-js').then(
    (module) => (module as unknown as { default: { HTTPParser: typeof Framer } }).default.HTTPParser,
  ));

/**
 * A new connection: its answers are framed by http-parser-js (HTTP/1.1:
 * Content-Length, chunked, or until the server closes), each handed to the
 * exchange in hand. Whatever ends the socket ends that exchange.
 */
function open(connect: Connect, HTTPParser: typeof Framer, url: URL, origin: string): Connection {
  const { socket, ready } = connect(url);
  const parser = new HTTPParser(HTTPParser.RESPONSE);
  const connection: Connection = { socket, parser, exchange: undefined, heard: false, idleMs: IDLE_MS };
  let connected = false;
  /** A 1xx answer came: its end is not the exchange's. */
  let interim = false;
  /** The exchange answered in the bytes being framed: settled once they all are. */
  let answered: Exchange | undefined;
  /** Bytes no exchange asked for: the connection is not reused. */
  let stray = false;
  const fail = (error: TransportError) => {
    const exchange = connection.exchange;
    connection.exchange = undefined;
    exchange?.fail(error);
  };
  parser[HTTPParser.kOnHeadersComplete] = (info) => {
    const exchange = connection.exchange;
    if (!exchange) {
      stray = true;
      return 1;
    }
    const status = info.statusCode;
    // 100 Continue, 103 Early Hints: the answer is still to come (RFC 9110, 15.2).
    if (status >= 100 && status < 200) {
      interim = true;
      return 1;
    }
    const length = headerValue(info.headers, 'content-length');
    if (length !== undefined && !/^\d+$/.test(length)) {
      fail(
        new TransportError('network', `answer is not HTTP/1.1 (Content-Length ${JSON.stringify(length.slice(0, 20))})`),
      );
      socket.destroy();
      return 1;
    }
    const keepAlive = info.shouldKeepAlive && keptFor(connection, info.headers);
    const read = exchange.head(status, info.headers, length, keepAlive) === 'read';
    // 204 and 304 have no body, whatever their headers say (RFC 9110, 6.4.1).
    return read && status !== 204 && status !== 304 ? 0 : 1;
  };
  parser[HTTPParser.kOnBody] = (chunk, offset, length) => {
    if (connection.exchange) connection.exchange.body(chunk.subarray(offset, offset + length));
    else stray = true;
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    if (interim) interim = false;
    else if (connection.exchange) {
      answered = connection.exchange;
      connection.exchange = undefined;
    } else stray = true;
  };
  /** Settles the exchange answered, kept only if the framer is back at the start of an answer with nothing read of it. */
  const settleAnswered = () => {
    const exchange = answered;
    answered = undefined;
    // http-parser-js (pinned) keeps its state and the line it has begun in these fields.
    const framer = parser as unknown as { state: string; line: string };
    exchange?.done(!stray && framer.state === 'RESPONSE_LINE' && framer.line === '');
  };
  socket.on(ready, () => {
    connected = true;
  });
  socket.on('data', (chunk: Buffer) => {
    // Bytes no request asked for: the connection can no longer be trusted to frame the next answer.
    if (!connection.exchange) return void socket.destroy();
    connection.heard = true;
    const framed = parser.execute(chunk);
    if (framed instanceof Error) {
      fail(new TransportError('network', `answer is not HTTP/1.1 (${framed.message})`));
      socket.destroy();
    }
    settleAnswered();
  });
  socket.on('end', () => {
    // An answer without a length ends when the server closes.
    if (parser.finish() instanceof Error) fail(hangUp(connection));
    settleAnswered();
  });
  socket.on('error', (error: Error & { code?: string }) => fail(transportError(error, connected)));
  socket.on('close', () => {
    drop(origin, connection);
    fail(hangUp(connection));
  });
  socket.on('timeout', () => socket.destroy());
  return connection;
}

/** Whether the connection may be kept after this answer, and for how long (the server's Keep-Alive timeout, if shorter). */
function keptFor(connection: Connection, raw: string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    if (!named(raw[i]!, 'keep-alive')) continue;
    const seconds = /timeout=(\d+)/i.exec(raw[i + 1]!)?.[1];
    if (seconds !== undefined) connection.idleMs = Math.min(IDLE_MS, Number(seconds) * 1000 - SERVER_IDLE_MARGIN_MS);
  }
  return connection.idleMs > 0;
}

/** Whether a header's name, in any case, is `lower`. */
const named = (name: string, lower: string): boolean => name.length === lower.length && name.toLowerCase() === lower;

/** One header's value, repeats joined with ", " as headersOf joins them; undefined when absent. */
function headerValue(raw: readonly string[], lower: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2)
    if (named(raw[i]!, lower)) value = value === undefined ? raw[i + 1]! : `${value}, ${raw[i + 1]!}`;
  return value;
}

/**
 * An answer whose headers are made into an object only when read: most callers read the status and the body alone.
 * `raw` is not changed after its answer is framed (http-parser-js, as pinned, starts a new list for each answer).
 */
function answer(status: number, raw: readonly string[], body: string): HttpResponse {
  let headers: IncomingHttpHeaders | undefined;
  return {
    status,
    body,
    get headers() {
      headers ??= headersOf(raw);
      return headers;
    },
  };
}

/** The raw header list as IncomingHttpHeaders: names in lower case, repeated ones joined with ", " as node:http does. */
function headersOf(raw: readonly string[]): IncomingHttpHeaders {
  const headers: Record<string, string> = Object.create(null);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return headers;
}

function drop(origin: string, connection: Connection): void {
  const list = idle.get(origin);
  const at = list?.indexOf(connection) ?? -1;
  if (at >= 0) list!.splice(at, 1);
}

/** An idle connection to `origin` (the one freed last), or a new one. */
async function connectionTo(url: URL, origin: string): Promise<Connection> {
  const list = idle.get(origin);
  while (list?.length) {
    const connection = list.pop()!;
    const { socket } = connection;
    // Closed, or closing: the server's end came and its close has not yet (nothing would be sent on it).
    if (socket.destroyed || socket.readableEnded || socket.writableEnded) {
      socket.destroy();
      continue;
    }
    socket.setTimeout(0);
    return connection;
  }
  const [connect, HTTPParser] = await Promise.all([connectorFor(url.protocol), loadFramer()]);
  return open(connect, HTTPParser, url, origin);
}

/** Back to the idle list, closed after its idle time. */
function release(origin: string, connection: Connection): void {
  connection.socket.setTimeout(connection.idleMs);
  const list = idle.get(origin);
  if (list) list.push(connection);
  else idle.set(origin, [connection]);
}

/** RFC 9110 5.1 and 5.5, as node:http checks them: a token for a name, no control character but tab in a value. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * The request's head: the request line, the caller's headers (one of each
 * name, whatever its case: the last given), Host unless given, and the body's
 * length. Written as latin1, as node:http writes a head: a value's characters
 * are its bytes, and nothing in one can end a line.
 */
function requestHead(request: HttpRequest, url: URL, bodyBytes: number | undefined): string {
  const headers = new Map<string, string>();
  for (const name in request.headers) {
    const value = request.headers[name]!;
    if (!HEADER_NAME.test(name)) throw new TypeError(`header name ${JSON.stringify(name)} is not a token`);
    if (INVALID_VALUE.test(value)) throw new TypeError(`header ${name}: its value holds a character a header cannot`);
    const lower = name.toLowerCase();
    if (lower === 'content-length' || lower === 'connection') continue;
    headers.set(lower, `${name}: ${value}\r\n`);
  }
  let head = `${request.method} ${url.pathname}${url.search} HTTP/1.1\r\n`;
  for (const line of headers.values()) head += line;
  if (!headers.has('host')) head += `Host: ${url.host}\r\n`;
  if (bodyBytes !== undefined) head += `Content-Length: ${bodyBytes}\r\n`;
  return `${head}Connection: keep-alive\r\n\r\n`;
}

/** The HttpTransport of the functions: HTTP/1.1 over the container's kept connections (node:net, node:tls). */
export const keepAliveTransport: HttpTransport = async (request) => {
  const { url, origin } = parsed(request.url);
  const body = request.body;
  const head = requestHead(
    request,
    url,
    body === undefined ? (request.method === 'POST' ? 0 : undefined) : Buffer.byteLength(body, 'utf8'),
  );
  const wire = onTheWire(head, body);
  const connection = await connectionTo(url, origin);
  return new Promise<HttpResponse>((resolve, reject) => {
    connection.heard = false;
    connection.exchange = new PendingExchange(connection, origin, request, resolve, reject);
    connection.socket.write(wire);
  });
};

/**
 * One request's side of its connection: it gathers the answer as it is framed and settles the caller's promise once,
 * freeing the connection first (kept if the answer allows, else closed). A class, not closures: one object an exchange.
 */
class PendingExchange implements Exchange {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private status = 0;
  private raw: readonly string[] = [];
  private keepAlive = false;
  private settled = false;
  private readonly timer: NodeJS.Timeout;
  private readonly maxBytes: number;

  constructor(
    private readonly connection: Connection,
    private readonly origin: string,
    request: Pick<HttpRequest, 'maxBytes' | 'timeoutMs'>,
    private readonly resolve: (response: HttpResponse) => void,
    private readonly reject: (error: TransportError) => void,
  ) {
    this.maxBytes = request.maxBytes;
    this.timer = setTimeout(expire, request.timeoutMs, this, request.timeoutMs);
  }

  head(status: number, raw: readonly string[], contentLength: string | undefined, keepAlive: boolean): 'read' | 'stop' {
    this.status = status;
    this.raw = raw;
    this.keepAlive = keepAlive;
    if (Number(contentLength) > this.maxBytes) {
      this.tooLarge();
      return 'stop';
    }
    return 'read';
  }

  body(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) return this.tooLarge();
    this.chunks.push(chunk);
  }

  done(clean: boolean): void {
    if (!this.settle(this.keepAlive && clean)) return;
    const { chunks } = this;
    this.resolve(
      answer(
        this.status,
        this.raw,
        (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.size)).toString('utf8'),
      ),
    );
  }

  fail(error: TransportError): void {
    if (this.settle(false)) this.reject(error);
  }

  private tooLarge(): void {
    this.fail(new TransportError('too-large', `answer is larger than ${this.maxBytes} bytes`));
  }

  /** Frees the connection, once: back to the idle list when `keep`, else closed. False when already settled. */
  private settle(keep: boolean): boolean {
    if (this.settled) return false;
    this.settled = true;
    clearTimeout(this.timer);
    this.connection.exchange = undefined;
    if (keep) release(this.origin, this.connection);
    else this.connection.socket.destroy();
    return true;
  }
}

/** The exchange's time is up: a timeout covers the whole exchange, from connecting to the last byte. */
function expire(exchange: PendingExchange, timeoutMs: number): void {
  exchange.fail(new TransportError('timeout', `no complete answer within ${timeoutMs} ms`));
}

/** The URLs the functions call, parsed once: a few endpoints, called over and over. */
const parsedUrls = new Map<string, { readonly url: URL; readonly origin: string }>();
/** Beyond this many, the parsed URLs are forgotten and parsed again as they come. */
const PARSED_URLS_KEPT = 64;

function parsed(text: string): { readonly url: URL; readonly origin: string } {
  let known = parsedUrls.get(text);
  if (!known) {
    const url = new URL(text);
    known = { url, origin: `${url.protocol}//${url.host}` };
    if (parsedUrls.size >= PARSED_URLS_KEPT) parsedUrls.clear();
    parsedUrls.set(text, known);
  }
  return known;
}

const ASCII = /^[\x00-\x7f]*$/;

/**
 * The head (latin1) and the body (UTF-8) as one write. A head of ASCII alone, as every head the functions send is,
 * reads the same in UTF-8, so both go as one string, encoded once by the socket; otherwise as bytes.
 */
function onTheWire(head: string, body: string | undefined): string | Buffer {
  if (ASCII.test(head)) return body === undefined ? head : head + body;
  const headBytes = Buffer.from(head, 'latin1');
  return body === undefined ? headBytes : Buffer.concat([headBytes, Buffer.from(body, 'utf8')]);
}

/** The server closed the connection before the answer was whole: node:http's words for it, by whether any of it came. */
function hangUp(connection: Connection): TransportError {
  return new TransportError('network', connection.heard ? 'ECONNRESET: aborted' : 'ECONNRESET: socket hang up');
}

function transportError(error: Error & { code?: string }, connected: boolean): TransportError {
  // https://man7.org/linux/man-pages/man2/connect.2.html: ECONNREFUSED, no one listening; nothing was sent.
  if (!connected && error.code === 'ECONNREFUSED')
    return new TransportError('refused', `ECONNREFUSED: ${error.message}`);
  return new TransportError('network', `${error.code ?? error.name}: ${error.message}`);
}
