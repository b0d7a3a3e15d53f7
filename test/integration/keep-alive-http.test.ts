import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type HttpRequest,
  type HttpResponse,
  keepAliveTransport,
  TransportError,
} from '../../lib/platform/keep-alive-http.js';
import { type LocalServer, localHttpServer, localTcpServer, refusingUrl } from '../helpers/http-server.js';
import { rejectionOf } from '../helpers/rejection.js';

/**
 * The keep-alive transport (lib/platform/keep-alive-http.ts) against servers
 * started here on 127.0.0.1, over real connections: what it sends and reads,
 * the limits it puts on an answer, how each way of getting no answer fails,
 * and which connections it reuses.
 */

const servers: LocalServer[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function serve(answer: RequestListener): Promise<LocalServer> {
  const server = await localHttpServer(answer);
  servers.push(server);
  return server;
}

/** A server that holds every request unanswered, and says when each has arrived whole. */
async function holding(): Promise<{ server: LocalServer; arrived: () => Promise<ServerResponse> }> {
  const waiting: ((res: ServerResponse) => void)[] = [];
  const held: ServerResponse[] = [];
  const server = await serve((req, res) => {
    req.resume().on('end', () => {
      const next = waiting.shift();
      if (next) next(res);
      else held.push(res);
    });
  });
  const arrived = () =>
    new Promise<ServerResponse>((resolve) => {
      const res = held.shift();
      if (res) resolve(res);
      else waiting.push(resolve);
    });
  return { server, arrived };
}

const post = (url: string, limits: Partial<HttpRequest> = {}): HttpRequest => ({
  method: 'POST',
  url,
  headers: { 'content-type': 'application/json' },
  body: '{}',
  timeoutMs: 5_000,
  maxBytes: 1_024,
  ...limits,
});

/** What `promise` was rejected with: a TransportError. */
const failure = (promise: Promise<HttpResponse>) => rejectionOf(promise, TransportError);

/** Resolves when the server sees `socket` closed. */
const closed = (socket: Socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()));

describe('an exchange', () => {
  it('sends the method, path, query, headers and body, and answers the status, the headers in lower case and the body whole', async () => {
    // Prepare
    const seen: { method?: string; url?: string; headers?: IncomingMessage['headers']; body?: string } = {};
    const server = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        Object.assign(seen, {
          method: req.method,
          url: req.url,
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        });
        res.writeHead(201, { 'X-Answer-Kind': 'created', 'content-type': 'text/plain; charset=utf-8' });
        // "é" split between two writes: the body is decoded whole, not chunk by chunk
        const accent = Buffer.from('é');
        res.write(Buffer.concat([Buffer.from('caf'), accent.subarray(0, 1)]));
        res.end(accent.subarray(1));
      });
    });

    // Act
    const answer = await keepAliveTransport(
      post(`${server.url}/v1/records?limit=2&offset=4`, { headers: { 'x-request-kind': 'probe' }, body: '{"a":1}' }),
    );

    // Assess
    expect(seen).toMatchObject({ method: 'POST', url: '/v1/records?limit=2&offset=4', body: '{"a":1}' });
    expect(seen.headers).toMatchObject({ 'x-request-kind': 'probe', connection: 'keep-alive' });
    expect(answer).toMatchObject({ status: 201, body: 'café' });
    expect(answer.headers).toMatchObject({ 'x-answer-kind': 'created' });
  });

  it('sends a GET without a body', async () => {
    let seen = '';
    const server = await serve((req, res) => {
      seen = `${req.method} ${req.url} ${req.headers['content-length'] ?? 'no length'}`;
      res.end('[]');
    });
    const answer = await keepAliveTransport({ ...post(`${server.url}/list`), method: 'GET', body: undefined });
    expect(seen).toBe('GET /list no length');
    expect(answer).toMatchObject({ status: 200, body: '[]' });
  });

  it('refuses a protocol other than http and https without sending anything', async () => {
    const error = await failure(keepAliveTransport(post('ftp://127.0.0.1:21/')));
    expect(error).toMatchObject({ name: 'TransportError', failure: 'refused', message: 'unsupported protocol ftp:' });
  });

  it('reaches an IPv6 address, written in brackets in the URL', async () => {
    const server = await localHttpServer((req, res) => req.resume().on('end', () => res.end('{"v6":true}')), '::1');
    servers.push(server);
    expect(server.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
    expect(await keepAliveTransport(post(server.url))).toMatchObject({ status: 200, body: '{"v6":true}' });
  });

  it('speaks TLS to an https URL, naming no address as the server name', async () => {
    const warnings: Error[] = [];
    const warned = (warning: Error) => warnings.push(warning);
    process.on('warning', warned);
    const firstBytes: Buffer[] = [];
    const server = await localTcpServer((socket) =>
      socket.once('data', (chunk: Buffer) => {
        firstBytes.push(chunk);
        socket.destroy();
      }),
    );
    servers.push(server);
    const error = await failure(keepAliveTransport(post(`https://127.0.0.1:${server.port}/`)));
    // 0x16: a TLS handshake record, the client hello; the server hung up on it
    expect(firstBytes[0]?.[0]).toBe(0x16);
    expect(error.failure).toBe('network');
    // Node warns (DEP0123) when a server name is an IP address; SNI is for host names (RFC 6066, 3).
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', warned);
    expect(warnings.map((w) => w.message)).not.toContainEqual(expect.stringMatching(/servername|IP address/i));
  });
});

describe('the size of an answer', () => {
  const declared = (length: number, sent: string) =>
    serve((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': String(length) });
      res.write(sent);
    });
  const streamed = (parts: string[]) =>
    serve((req, res) => {
      req.resume();
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      for (const part of parts) res.write(part);
      res.end();
    });

  it('is refused as soon as its declared length is over the limit, before its body is read', async () => {
    // The server declares 1000 bytes and sends 10: only the declared length can tell
    const server = await declared(1_000, 'x'.repeat(10));
    const error = await failure(keepAliveTransport(post(server.url, { maxBytes: 999, timeoutMs: 2_000 })));
    expect(error).toMatchObject({ failure: 'too-large', message: 'answer is larger than 999 bytes' });
  });

  it('is read when its declared length is the limit exactly', async () => {
    const server = await serve((req, res) => {
      req.resume();
      res.end('y'.repeat(100));
    });
    expect((await keepAliveTransport(post(server.url, { maxBytes: 100 }))).body).toBe('y'.repeat(100));
  });

  it('is refused when the bytes streamed without a declared length go over the limit', async () => {
    const server = await streamed(['z'.repeat(60), 'z'.repeat(41)]);
    const error = await failure(keepAliveTransport(post(server.url, { maxBytes: 100 })));
    expect(error).toMatchObject({ failure: 'too-large', message: 'answer is larger than 100 bytes' });
  });

  it('is read when the bytes streamed are the limit exactly', async () => {
    const server = await streamed(['z'.repeat(60), 'z'.repeat(40)]);
    expect((await keepAliveTransport(post(server.url, { maxBytes: 100 }))).body).toBe('z'.repeat(100));
  });

  it('over the limit closes its connection: the unread rest is never taken for the next answer', async () => {
    const server = await declared(1_000, 'x'.repeat(10));
    await failure(keepAliveTransport(post(server.url, { maxBytes: 100 })));
    await closed(server.sockets[0]!);
  });
});

describe('an answer that does not come in time', () => {
  it('fails as a timeout once the whole exchange has taken timeoutMs, not before, and closes its connection', async () => {
    // Prepare
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { server, arrived } = await holding();
    let settled = false;
    const exchange = failure(keepAliveTransport(post(server.url, { timeoutMs: 500 }))).finally(() => (settled = true));

    // Act
    const res = await arrived();
    res.writeHead(200, { 'content-length': '10' });
    res.write('12345');
    await vi.advanceTimersByTimeAsync(499);

    // Assess: the headers and half the body came, not the whole answer
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await exchange).toMatchObject({
      failure: 'timeout',
      message: 'no complete answer within 500 ms',
    });
    await closed(server.sockets[0]!);
  });

  it('leaves no timer behind once answered', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const server = await serve((req, res) => req.resume().on('end', () => res.end('{}')));
    await keepAliveTransport(post(server.url, { timeoutMs: 60_000 }));
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('a connection that breaks', () => {
  it('refused (nothing listens) fails as refused: the request was never sent', async () => {
    const error = await failure(keepAliveTransport(post(await refusingUrl())));
    expect(error.failure).toBe('refused');
    expect(error.message).toMatch(/^ECONNREFUSED: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
  });

  it('reset before the answer fails as a network failure, with its code', async () => {
    const server = await serve((req) => req.resume().on('end', () => req.socket.destroy()));
    const error = await failure(keepAliveTransport(post(server.url)));
    expect(error).toMatchObject({ failure: 'network', message: 'ECONNRESET: socket hang up' });
  });

  it('reset in the middle of the answer fails as a network failure, with its code', async () => {
    const server = await serve((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial', () => res.socket?.destroy());
    });
    const error = await failure(keepAliveTransport(post(server.url)));
    expect(error).toMatchObject({ failure: 'network', message: 'ECONNRESET: aborted' });
  });
});

describe('the connections an exchange goes over', () => {
  it('are kept from the first exchange of a container: exchanges one after another share one connection', async () => {
    vi.resetModules();
    const cold = await import('../../lib/platform/keep-alive-http.js');
    const server = await serve((req, res) => req.resume().on('end', () => res.end('{}')));
    for (let i = 0; i < 3; i++) expect((await cold.keepAliveTransport(post(server.url))).body).toBe('{}');
    expect(server.sockets).toHaveLength(1);
  });

  it('reuses an idle connection, the one freed last first', async () => {
    // Prepare: two exchanges at once open two connections
    const { server, arrived } = await holding();
    const first = keepAliveTransport(post(server.url));
    const second = keepAliveTransport(post(server.url));
    const [a, b] = [await arrived(), await arrived()];
    const [socketA, socketB] = [a.socket, b.socket];

    // Act: the first connection is freed, then the second, then a third exchange goes
    a.end('a');
    await first;
    b.end('b');
    await second;
    const third = keepAliveTransport(post(server.url));
    const c = await arrived();
    const socketC = c.socket;
    c.end('c');

    // Assess
    expect((await third).body).toBe('c');
    expect(server.sockets).toHaveLength(2);
    expect(socketA).not.toBe(socketB);
    expect(socketC).toBe(socketB);
  });
});

describe('an answer framed by the transport itself', () => {
  it('reads a chunked answer whole, and keeps its connection for the next exchange', async () => {
    const server = await serve((req, res) => {
      req.resume().on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"a":');
        setTimeout(() => res.end('1}'), 5);
      });
    });
    const first = await keepAliveTransport(post(server.url));
    const second = await keepAliveTransport(post(server.url));
    expect(first).toMatchObject({ status: 200, body: '{"a":1}' });
    expect(first.headers['transfer-encoding']).toBe('chunked');
    expect(second.body).toBe('{"a":1}');
    expect(server.sockets).toHaveLength(1);
  });

  it('lets go of a connection the server closes after its answer (Connection: close)', async () => {
    const server = await serve((req, res) =>
      req.resume().on('end', () => res.writeHead(200, { connection: 'close', 'content-length': '2' }).end('{}')),
    );
    await keepAliveTransport(post(server.url));
    await keepAliveTransport(post(server.url));
    expect(server.sockets).toHaveLength(2);
  });

  it("does not keep a connection the server's Keep-Alive timeout would close too soon to use", async () => {
    const server = await serve((req, res) =>
      req.resume().on('end', () => res.writeHead(200, { 'keep-alive': 'timeout=1', 'content-length': '2' }).end('{}')),
    );
    await keepAliveTransport(post(server.url));
    await keepAliveTransport(post(server.url));
    expect(server.sockets).toHaveLength(2);
  });

  it('opens a new connection when the server has closed the idle one, and the exchange does not fail', async () => {
    const server = await serve((req, res) => req.resume().on('end', () => res.end('{}')));
    await keepAliveTransport(post(server.url));
    const [idleSocket] = server.sockets;
    const gone = closed(idleSocket!);
    idleSocket!.destroy();
    await gone;
    await new Promise((resolve) => setImmediate(resolve));
    expect((await keepAliveTransport(post(server.url))).body).toBe('{}');
    expect(server.sockets).toHaveLength(2);
  });

  it('reads an answer with neither a length nor chunks until the server closes, and does not reuse it', async () => {
    const server = await localTcpServer((socket) =>
      socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"whole":true}')),
    );
    servers.push(server);
    const answer = await keepAliveTransport(post(`http://127.0.0.1:${server.port}/`));
    expect(answer).toMatchObject({ status: 200, body: '{"whole":true}' });
  });

  it('fails an answer that is not HTTP as a network failure, and closes the connection', async () => {
    const server = await localTcpServer((socket) => socket.once('data', () => socket.write('SSH-2.0-OpenSSH\r\n\r\n')));
    servers.push(server);
    const error = await failure(keepAliveTransport(post(`http://127.0.0.1:${server.port}/`)));
    expect(error.failure).toBe('network');
    expect(error.message).toMatch(/^answer is not HTTP\/1\.1/);
  });

  it('sends Host, Content-Length and Connection once, whatever the caller gave, and refuses a line break in a header', async () => {
    let seen: IncomingMessage | undefined;
    const server = await serve((req, res) => {
      seen = req;
      req.resume().on('end', () => res.end('{}'));
    });
    await keepAliveTransport(
      post(server.url, { headers: { 'content-length': '999', Connection: 'close', 'x-amz-target': 'T' }, body: 'é' }),
    );
    expect(seen?.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase())).toEqual([
      'x-amz-target',
      'host',
      'content-length',
      'connection',
    ]);
    expect(seen?.headers['content-length']).toBe('2');
    await expect(keepAliveTransport(post(server.url, { headers: { 'x-a': 'b\r\nx-injected: 1' } }))).rejects.toThrow(
      new TypeError('header x-a: its value holds a character a header cannot'),
    );
    await expect(keepAliveTransport(post(server.url, { headers: { 'x a': 'b' } }))).rejects.toThrow(
      new TypeError('header name "x a" is not a token'),
    );
  });

  it('says a POST without a body has a length of 0', async () => {
    let length: string | undefined;
    const server = await serve((req, res) => {
      length = req.headers['content-length'];
      req.resume().on('end', () => res.end('{}'));
    });
    await keepAliveTransport(post(server.url, { body: undefined }));
    expect(length).toBe('0');
  });
});

describe('what goes on the wire', () => {
  it.each([
    ['an ASCII head', { 'x-amz-target': 'T' }],
    ['a head with a latin1 value', { 'x-name': 'caf\u00e9' }],
  ])('%s: its header values as latin1 bytes and the body as UTF-8, its length in bytes', async (_, headers) => {
    let seen: { headers: IncomingMessage['headers']; body: Buffer } | undefined;
    const server = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen = { headers: req.headers, body: Buffer.concat(chunks) };
        res.end('{}');
      });
    });
    const body = '{"reason":"d\u00e9j\u00e0 vu \u2014 \ud83d\udd01"}';
    await keepAliveTransport(post(server.url, { headers, body }));
    expect(seen?.body.equals(Buffer.from(body, 'utf8'))).toBe(true);
    expect(seen?.headers['content-length']).toBe(String(Buffer.byteLength(body, 'utf8')));
    for (const [name, value] of Object.entries(headers)) expect(seen?.headers[name]).toBe(value);
  });
});

describe('an answer the transport must not take at its word', () => {
  /** A raw server: each request on a connection gets `answers(n)` (n counts requests on that connection), as bytes. */
  async function raw(answers: (n: number) => string): Promise<{ url: string; connections: () => number }> {
    let connections = 0;
    const server = await localTcpServer((socket) => {
      connections++;
      let n = 0;
      socket.on('data', (chunk) => {
        if (chunk.includes('\r\n\r\n')) socket.write(answers(n++));
      });
    });
    servers.push(server);
    return { url: `http://127.0.0.1:${server.port}/`, connections: () => connections };
  }
  const ok = (body: string, extra = '') => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;

  it('waits past a 100 Continue or 103 Early Hints for the answer, and keeps the connection', async () => {
    const server = await raw(
      (n) => `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n${ok(`answer ${n}`)}`,
    );
    expect((await keepAliveTransport(post(server.url))).body).toBe('answer 0');
    expect((await keepAliveTransport(post(server.url))).body).toBe('answer 1');
    expect(server.connections()).toBe(1);
  });

  it.each([
    ['a whole second answer', ok('STALE')],
    ['the start of a second answer', 'HTTP/1.1 409 Conflict\r\nContent-Length: 5\r\n'],
    ['the start of a second status line', 'HTTP/1.1 2'],
  ])('never reuses a connection that sent %s after the answer: the next exchange gets its own', async (_, after) => {
    const server = await raw((n) => (n === 0 ? `${ok('first')}${after}` : '\r\nSTALE'));
    expect((await keepAliveTransport(post(server.url))).body).toBe('first');
    expect((await keepAliveTransport(post(server.url))).body).toBe('first');
    expect(server.connections()).toBe(2);
  });

  it.each([
    ['abc', '"abc"'],
    ['2abc', '"2abc"'],
    ['abc2', '"abc2"'],
    ['9'.repeat(12) + 'x'.repeat(18), JSON.stringify('9'.repeat(12) + 'x'.repeat(8))],
  ])('fails an answer whose Content-Length is %j, not a number, as a network failure', async (length, quoted) => {
    const server = await raw(() => `HTTP/1.1 200 OK\r\nContent-Length: ${length}\r\n\r\n{}`);
    const error = await failure(keepAliveTransport(post(server.url)));
    expect(error).toMatchObject({ failure: 'network', message: `answer is not HTTP/1.1 (Content-Length ${quoted})` });
  });

  it('reads only Content-Length as the length, not another header of its size', async () => {
    const server = await raw(() => ok('{}', 'Content-Digest: sha-256=:x:\r\n'));
    expect(await keepAliveTransport(post(server.url))).toMatchObject({ status: 200, body: '{}' });
  });

  it.each([
    ['timeout=10', 'a timeout of ten seconds'],
    ['max=100', 'no timeout'],
  ])('keeps a connection whose Keep-Alive says %s (%s)', async (keepAlive) => {
    const server = await raw(() => ok('{}', `Keep-Alive: ${keepAlive}\r\n`));
    await keepAliveTransport(post(server.url));
    await keepAliveTransport(post(server.url));
    expect(server.connections()).toBe(1);
  });

  it.each([204, 304])('answers a %i at once, whatever length it declares', async (status) => {
    const server = await raw(() => `HTTP/1.1 ${status} X\r\nContent-Length: 10\r\n\r\n`);
    expect(await keepAliveTransport(post(server.url, { timeoutMs: 2_000 }))).toMatchObject({ status, body: '' });
  });

  it("joins a repeated header's values as node:http does, and keeps each answer's headers its own", async () => {
    const server = await raw((n) => ok('{}', `X-Seen: a${n}\r\nx-seen: b${n}\r\n`));
    const first = await keepAliveTransport(post(server.url));
    const second = await keepAliveTransport(post(server.url));
    expect(server.connections()).toBe(1);
    expect(second.headers['x-seen']).toBe('a1, b1');
    expect(first.headers['x-seen']).toBe('a0, b0');
    expect(first.headers['content-length']).toBe('2');
  });

  it('fails an answer with two different lengths as a network failure', async () => {
    const server = await raw(() => 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 3\r\n\r\n{}}');
    expect(await failure(keepAliveTransport(post(server.url)))).toMatchObject({ failure: 'network' });
  });

  it("gives the answer's headers on an object without a prototype", async () => {
    const server = await raw(() => ok('{}', 'Constructor: v\r\n__proto__: p\r\n'));
    const { headers } = await keepAliveTransport(post(server.url));
    expect(headers['constructor']).toBe('v');
    expect(headers['__proto__']).toBe('p');
  });

  it('refuses a header whose characters would end a line on the wire, and sends one Host whatever its case', async () => {
    const server = await raw(() => ok('{}'));
    await expect(
      keepAliveTransport(post(server.url, { headers: { 'x-a': 'a\u010d\u010aInjected: yes' } })),
    ).rejects.toThrow(TypeError);
    await expect(keepAliveTransport(post(server.url, { headers: { 'x a': 'b' } }))).rejects.toThrow(TypeError);
    let seen: IncomingMessage | undefined;
    const http = await serve((req, res) => {
      seen = req;
      req.resume().on('end', () => res.end('{}'));
    });
    await keepAliveTransport(post(http.url, { headers: { Host: 'one.example', host: 'two.example' } }));
    expect(seen?.rawHeaders.filter((h) => h.toLowerCase() === 'host')).toHaveLength(1);
    expect(seen?.headers.host).toBe('two.example');
  });
});
