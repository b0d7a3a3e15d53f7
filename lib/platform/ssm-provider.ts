/**
 * Powertools Parameters' provider for SSM Parameter Store on the AWS JSON
 * transport (lib/platform/aws-json-provider.ts): it reads one String
 * parameter (the kill switch, lib/config/kill-switch.ts). Through the SDK's
 * client (Powertools' SSMProvider), every function's cold start imported it
 * (docs/performance.md). GetParameter:
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html
 */

import type { AwsJsonOptions, AwsJsonService } from './aws-json.js';
import { AwsJsonProvider } from './aws-json-provider.js';

/** Retries as the SDK's SSM client: 3 attempts, first wait under 50 ms. */
export const SSM: AwsJsonService = {
  signingName: 'ssm',
  targetPrefix: 'AmazonSSM',
  jsonVersion: '1.1',
  endpointVariable: 'AWS_ENDPOINT_URL_SSM',
  maxAttempts: 3,
  baseDelayMs: 50,
};

/** Reads a String parameter with GetParameter (undefined when it has no string value). */
export class SsmParameterProvider extends AwsJsonProvider {
  constructor(options?: AwsJsonOptions) {
    super(SSM, options);
  }

  protected async _get(name: string): Promise<string | undefined> {
    const result = (await this.aws.call('GetParameter', { Name: name })) as { Parameter?: { Value?: unknown } };
    return typeof result.Parameter?.Value === 'string' ? result.Parameter.Value : undefined;
  }
}
