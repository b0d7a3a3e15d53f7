import { type AwsJsonAnswer, AwsJsonStandIn, awsError, ok } from './aws-json-server.js';

/**
 * An SSM-Parameter-Store-compatible server for the local stack: GetParameter
 * and PutParameter over the AWS JSON 1.1 protocol (local/aws-json-server.ts),
 * enough for the AWS SDK (and so Powertools' SSMProvider, which reads the kill
 * switch) pointed at it with AWS_ENDPOINT_URL_SSM.
 */
export class SsmServer extends AwsJsonStandIn {
  /** GetParameter calls answered, by name. */
  readonly reads = new Map<string, number>();
  /** When true, every call fails with a 500 (the service down). */
  down = false;

  private readonly parameters = new Map<string, { value: string; version: number }>();

  static start(): Promise<SsmServer> {
    return new SsmServer().listen();
  }

  /** Creates or overwrites a String parameter, as `aws ssm put-parameter --overwrite` does. */
  putParameter(name: string, value: string): void {
    this.parameters.set(name, { value, version: (this.parameters.get(name)?.version ?? 0) + 1 });
  }

  deleteParameter(name: string): void {
    this.parameters.delete(name);
  }

  readCount(name: string): number {
    return this.reads.get(name) ?? 0;
  }

  protected handle(target: string, body: Record<string, unknown>): AwsJsonAnswer {
    if (this.down) return awsError(500, 'InternalServerError', 'SSM is unavailable.');
    const name = typeof body['Name'] === 'string' ? body['Name'] : '';
    if (target === 'AmazonSSM.PutParameter' && typeof body['Value'] === 'string') {
      this.putParameter(name, body['Value']);
      return ok({ Version: this.parameters.get(name)!.version, Tier: 'Standard' });
    }
    if (target !== 'AmazonSSM.GetParameter')
      return awsError(400, 'InvalidAction', `${target} is not supported by the local server.`);
    const parameter = this.parameters.get(name);
    if (!parameter) return awsError(400, 'ParameterNotFound', `Parameter ${name} not found.`);
    this.reads.set(name, this.readCount(name) + 1);
    const arn = `arn:aws:ssm:us-east-1:000000000000:parameter${name.startsWith('/') ? '' : '/'}${name}`;
    return ok({
      Parameter: {
        Name: name,
        Type: 'String',
        Value: parameter.value,
        Version: parameter.version,
        ARN: arn,
        DataType: 'text',
        LastModifiedDate: Date.now() / 1000,
      },
    });
  }
}
