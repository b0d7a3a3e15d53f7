import { BaseProvider } from '@aws-lambda-powertools/parameters/base';
import { AwsJsonClient, type AwsJsonOptions, type AwsJsonService } from './aws-json.js';

/**
 * Powertools Parameters' BaseProvider on the AWS JSON transport
 * (lib/platform/aws-json.ts) instead of an SDK client: BaseProvider keeps the
 * cache, `maxAge`, `forceFetch`, the `json` transform and its errors
 * (GetParameterError with what AWS answered as its cause); a provider only
 * reads one value with `aws` (lib/platform/secrets-provider.ts,
 * lib/platform/ssm-provider.ts). The SDK's clients were most of what a cold
 * start imported (docs/performance.md).
 */
export abstract class AwsJsonProvider extends BaseProvider {
  protected readonly aws: AwsJsonClient;

  constructor(service: AwsJsonService, options?: AwsJsonOptions) {
    super({});
    this.aws = new AwsJsonClient(service, options);
  }

  protected _getMultiple(): Promise<Record<string, unknown> | undefined> {
    return Promise.reject(new Error(`${this.constructor.name} reads one value at a time: use get()`));
  }
}
