/**
 * A small HTTP server on 127.0.0.1 speaking the AWS JSON 1.1 protocol (the
 * operation in X-Amz-Target, JSON in and out, errors as `__type` with the
 * x-amzn-errortype header), enough for the AWS SDK pointed at it with
 * AWS_ENDPOINT_URL_<SERVICE>. The local stand-ins for Secrets Manager and SSM
 * are built on it (AwsJsonStandIn); no emulator for either exists on npm.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What one call answers: a status and a JSON body, and for an error its type. */
export interface AwsJsonAnswer {
  readonly status: number;
  readonly body: object;
  readonly errorType?: string | undefined;
}

/** One operation's answer from its target (`secretsmanager.GetSecretValue`) and its parsed body. */
export type AwsJsonHandler = (target: string, body: Record<string, unknown>) => AwsJsonAnswer;

export const ok = (body: object): AwsJsonAnswer => ({ status: 200, body });

export function awsError(status: number, type: string, message: string): AwsJsonAnswer {
  return { status, body: { __type: type, message }, errorType: type };
}

export class AwsJsonServer {
  readonly url: string;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(handle: AwsJsonHandler): Promise<AwsJsonServer> {
    const server = createServer((req, res) => void answer(req, res, handle));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new AwsJsonServer(server);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function answer(req: IncomingMessage, res: ServerResponse, handle: AwsJsonHandler): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
  } catch {
    return send(res, awsError(400, 'InvalidRequestException', 'Body is not JSON.'));
  }
  send(res, handle(String(req.headers['x-amz-target'] ?? ''), body));
}

function send(res: ServerResponse, { status, body, errorType }: AwsJsonAnswer): void {
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  res.end(JSON.stringify(body));
}

/**
 * A stand-in for one AWS service: it answers each call with `handle`, on a server of its own once `listen` resolves.
 */
export abstract class AwsJsonStandIn {
  private server: AwsJsonServer | undefined;

  /** The endpoint to point the SDK at (AWS_ENDPOINT_URL_<SERVICE>). */
  get url(): string {
    if (!this.server) throw new Error('the stand-in is not listening yet');
    return this.server.url;
  }

  protected abstract handle(target: string, body: Record<string, unknown>): AwsJsonAnswer;

  protected async listen(): Promise<this> {
    this.server = await AwsJsonServer.start((target, body) => this.handle(target, body));
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }
}
