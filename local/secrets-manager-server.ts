import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A Secrets-Manager-compatible HTTP server for the local stack: the AWS JSON
 * 1.1 protocol's GetSecretValue and DescribeSecret, enough for the AWS SDK
 * (and so Powertools' SecretsProvider) pointed at it with
 * AWS_ENDPOINT_URL_SECRETS_MANAGER. No emulator for it exists on npm.
 */
export class SecretsManagerServer {
  readonly url: string;
  /** GetSecretValue calls answered, by secret id. */
  readonly reads = new Map<string, number>();
  /** When true, every call fails with a 500 (the service down). */
  down = false;
  /** Fails the n-th GetSecretValue call (1-based, counting refused ones) when it says so: an outage by call count. */
  failRead: (call: number) => boolean = () => false;
  /** GetSecretValue calls refused by `failRead` or `down`. */
  refusedReads = 0;
  private readCalls = 0;

  private readonly secrets = new Map<string, { value: string; version: number }>();
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(): Promise<SecretsManagerServer> {
    let instance: SecretsManagerServer | undefined;
    const server = createServer((req, res) => void instance!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    instance = new SecretsManagerServer(server);
    return instance;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Creates or rotates a secret (objects are stored as JSON, as the console does). */
  putSecret(id: string, value: string | object): void {
    const version = (this.secrets.get(id)?.version ?? 0) + 1;
    this.secrets.set(id, { value: typeof value === 'string' ? value : JSON.stringify(value), version });
  }

  deleteSecret(id: string): void {
    this.secrets.delete(id);
  }

  readCount(id: string): number {
    return this.reads.get(id) ?? 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target0 = String(req.headers['x-amz-target'] ?? '');
    const isRead = target0 === 'secretsmanager.GetSecretValue';
    if (this.down || (isRead && this.failRead(++this.readCalls))) {
      if (isRead) this.refusedReads++;
      return this.fail(res, 500, 'InternalServiceError', 'Secrets Manager is unavailable.');
    }
    let body: { SecretId?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { SecretId?: unknown };
    } catch {
      return this.fail(res, 400, 'InvalidRequestException', 'Body is not JSON.');
    }
    const id = typeof body.SecretId === 'string' ? body.SecretId : '';
    const secret = this.secrets.get(id);
    const target = String(req.headers['x-amz-target'] ?? '');
    if (!secret) return this.fail(res, 400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    const arn = `arn:aws:secretsmanager:us-east-1:000000000000:secret:${id}`;
    if (target === 'secretsmanager.GetSecretValue') {
      this.reads.set(id, this.readCount(id) + 1);
      return this.json(res, 200, { ARN: arn, Name: id, SecretString: secret.value, VersionId: `v${secret.version}`, VersionStages: ['AWSCURRENT'], CreatedDate: Date.now() / 1000 });
    }
    if (target === 'secretsmanager.DescribeSecret') return this.json(res, 200, { ARN: arn, Name: id, LastChangedDate: Date.now() / 1000 });
    this.fail(res, 400, 'InvalidAction', `${target} is not supported by the local server.`);
  }

  private json(res: ServerResponse, status: number, body: object): void {
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(JSON.stringify(body));
  }

  private fail(res: ServerResponse, status: number, type: string, message: string): void {
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': type });
    res.end(JSON.stringify({ __type: type, message }));
  }
}
