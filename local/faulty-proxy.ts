import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An AWS JSON error answer: the HTTP status and the error code (`__type`). */
export interface Refusal {
  readonly status: number;
  readonly type: string;
}

/** What `refuse: () => true` answers: AWS failing on its side. */
const INTERNAL_ERROR: Refusal = { status: 500, type: 'InternalError' };

/**
 * An HTTP proxy in front of a local AWS emulator that can refuse chosen
 * calls, for fault injection: e.g. every SendMessageBatch to the DLQ fails
 * while `refuse` says so. Everything else is passed through unchanged.
 */
export class FaultyProxy {
  readonly url: string;
  /** Return true to answer this call with a 500 instead of forwarding it, or the error AWS should answer with. */
  refuse: (target: string, body: string) => boolean | Refusal = () => false;
  refused = 0;

  private constructor(
    private readonly server: Server,
    private readonly upstream: URL,
  ) {
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  static async start(upstream: string): Promise<FaultyProxy> {
    let proxy: FaultyProxy | undefined;
    const server = createServer((req, res) => void proxy!.handle(req, res));
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new FaultyProxy(server, new URL(upstream));
    return proxy;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const target = String(req.headers['x-amz-target'] ?? '');
    const refusal = this.refuse(target, body.toString('utf8'));
    if (refusal) {
      this.refused++;
      const { status, type } = refusal === true ? INTERNAL_ERROR : refusal;
      res.writeHead(status, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-query-error': `${type};${status >= 500 ? 'Receiver' : 'Sender'}`,
      });
      res.end(JSON.stringify({ __type: type, message: 'injected fault' }));
      return;
    }
    const forward = request(
      {
        host: this.upstream.hostname,
        port: this.upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: this.upstream.host },
      },
      (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, upstream.headers);
        upstream.pipe(res);
      },
    );
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    forward.end(body);
  }
}
