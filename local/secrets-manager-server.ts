import { type AwsJsonAnswer, AwsJsonStandIn, awsError, ok } from './aws-json-server.js';

/**
 * A Secrets-Manager-compatible server for the local stack: GetSecretValue and
 * DescribeSecret over the AWS JSON 1.1 protocol (local/aws-json-server.ts),
 * enough for the AWS SDK (and so Powertools' SecretsProvider) pointed at it
 * with AWS_ENDPOINT_URL_SECRETS_MANAGER.
 */
export class SecretsManagerServer extends AwsJsonStandIn {
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

  static start(): Promise<SecretsManagerServer> {
    return new SecretsManagerServer().listen();
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

  protected handle(target: string, body: Record<string, unknown>): AwsJsonAnswer {
    const isRead = target === 'secretsmanager.GetSecretValue';
    if (this.down || (isRead && this.failRead(++this.readCalls))) {
      if (isRead) this.refusedReads++;
      return awsError(500, 'InternalServiceError', 'Secrets Manager is unavailable.');
    }
    const id = typeof body['SecretId'] === 'string' ? body['SecretId'] : '';
    const secret = this.secrets.get(id);
    if (!secret) return awsError(400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    const arn = `arn:aws:secretsmanager:us-east-1:000000000000:secret:${id}`;
    if (isRead) {
      this.reads.set(id, this.readCount(id) + 1);
      return ok({
        ARN: arn,
        Name: id,
        SecretString: secret.value,
        VersionId: `v${secret.version}`,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: Date.now() / 1000,
      });
    }
    if (target === 'secretsmanager.DescribeSecret')
      return ok({ ARN: arn, Name: id, LastChangedDate: Date.now() / 1000 });
    return awsError(400, 'InvalidAction', `${target} is not supported by the local server.`);
  }
}
