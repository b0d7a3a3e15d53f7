/**
 * Powertools Parameters' provider for Secrets Manager on the AWS JSON
 * transport (lib/platform/aws-json-provider.ts): it reads one secret.
 * GetSecretValue: https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
 */

import type { AwsJsonOptions, AwsJsonService } from './aws-json.js';
import { AwsJsonProvider } from './aws-json-provider.js';

/** Retries as the SDK's Secrets Manager client: 3 attempts, first wait under 50 ms. */
export const SECRETS_MANAGER: AwsJsonService = {
  signingName: 'secretsmanager',
  targetPrefix: 'secretsmanager',
  jsonVersion: '1.1',
  endpointVariable: 'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  maxAttempts: 3,
  baseDelayMs: 50,
};

/** Reads a secret with GetSecretValue: its string, or its binary as bytes. */
export class SecretsManagerProvider extends AwsJsonProvider {
  constructor(options?: AwsJsonOptions) {
    super(SECRETS_MANAGER, options);
  }

  /** The secret's string, or its binary as bytes (base64 on the wire). */
  protected async _get(name: string): Promise<string | Uint8Array | undefined> {
    const result = (await this.aws.call('GetSecretValue', { SecretId: name })) as {
      SecretString?: unknown;
      SecretBinary?: unknown;
    };
    if (typeof result.SecretString === 'string') return result.SecretString;
    return typeof result.SecretBinary === 'string'
      ? Uint8Array.from(Buffer.from(result.SecretBinary, 'base64'))
      : undefined;
  }
}

/**
 * What made a read fail, by name (`ResourceNotFoundException`, `TimeoutError`): Powertools wraps it in a
 * GetParameterError. Never a value.
 */
export function readFailureName(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  return (cause instanceof Error ? cause : (error as Error)).name;
}
