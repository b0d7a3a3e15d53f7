import { BaseProvider } from '@aws-lambda-powertools/parameters/base';
import { AwsJsonClient, type AwsJsonOptions, type AwsJsonService } from './aws-json.js';

/**
 * Powertools Parameters' provider for Secrets Manager on the AWS JSON
 * transport (lib/platform/aws-json.ts) instead of the SDK's client, which
 * was most of what a cold start still imported once DynamoDB left the SDK
 * (docs/performance.md). BaseProvider is made for this: it keeps the cache,
 * `maxAge`, `forceFetch`, the `json` transform and its errors
 * (GetParameterError with what AWS answered as its cause); this class only
 * reads one secret. GetSecretValue:
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
 */

/** Retries as the SDK's Secrets Manager client: 3 attempts, first wait under 50 ms. */
export const SECRETS_MANAGER: AwsJsonService = { signingName: 'secretsmanager', targetPrefix: 'secretsmanager', jsonVersion: '1.1', endpointVariable: 'AWS_ENDPOINT_URL_SECRETS_MANAGER', maxAttempts: 3, baseDelayMs: 50 };

export class SecretsManagerProvider extends BaseProvider {
  private readonly secrets: AwsJsonClient;

  constructor(options?: AwsJsonOptions) {
    super({});
    this.secrets = new AwsJsonClient(SECRETS_MANAGER, options);
  }

  /** The secret's string, or its binary as bytes (base64 on the wire). */
  protected async _get(name: string): Promise<string | Uint8Array | undefined> {
    const result = (await this.secrets.call('GetSecretValue', { SecretId: name })) as { SecretString?: unknown; SecretBinary?: unknown };
    if (typeof result.SecretString === 'string') return result.SecretString;
    return typeof result.SecretBinary === 'string' ? Uint8Array.from(Buffer.from(result.SecretBinary, 'base64')) : undefined;
  }

  protected _getMultiple(): Promise<Record<string, unknown> | undefined> {
    return Promise.reject(new Error('Secrets Manager has no paths: read one secret with get()'));
  }
}

/** What made a read fail, by name (`ResourceNotFoundException`, `TimeoutError`): Powertools wraps it in a GetParameterError. Never a value. */
export function readFailureName(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  return (cause instanceof Error ? cause : (error as Error)).name;
}
