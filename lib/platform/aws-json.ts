/**
 * A client for AWS services that speak the AWS JSON protocol (DynamoDB,
 * Secrets Manager): one POST per operation, `X-Amz-Target` naming it, the
 * request signed with SigV4 (lib/platform/sigv4.ts), sent over the kept connections of
 * lib/platform/keep-alive-http.ts. It does what the SDK's clients do where the
 * callers rely on it, and nothing else (docs/performance.md says why):
 *
 * - credentials from the environment Lambda sets (AWS_ACCESS_KEY_ID,
 *   AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), region from AWS_REGION, the
 *   endpoint from the service's AWS_ENDPOINT_URL_<SERVICE> (or AWS_ENDPOINT_URL),
 *   else the service's regional endpoint;
 * - the SDK's standard retries (@smithy/core's StandardRetryStrategy, as pinned):
 *   throttling and transient errors (5xx, 429, a timeout, a broken
 *   connection) tried again up to the service's attempts after a full-jitter
 *   wait (the service's base, 1 s when throttled, doubling), while the
 *   client's retry quota lasts (500 tokens, 14 a transient retry, 5 a
 *   throttled one, given back by successes), so an outage fails fast;
 * - an error answer thrown as an AwsServiceError named by the `__type` AWS
 *   answered (`ConditionalCheckFailedException`), so callers tell a refused
 *   condition from an unavailable service by name, as they did with the SDK.
 *
 * Protocol: https://smithy.io/2.0/aws/protocols/aws-json-1_0-protocol.html
 */

import { fullJitterDelay } from './backoff.js';
import { type HttpResponse, type HttpTransport, keepAliveTransport, TransportError } from './keep-alive-http.js';
import { SigV4Signer } from './sigv4.js';

/** One AWS JSON service: how it is signed, targeted and reached, and the SDK's retry defaults for it. */
export interface AwsJsonService {
  /** SigV4's service name, also the first label of the regional endpoint (`dynamodb`, `secretsmanager`). */
  readonly signingName: string;
  /** `X-Amz-Target` is `<targetPrefix>.<Operation>`. */
  readonly targetPrefix: string;
  readonly jsonVersion: '1.0' | '1.1';
  /** The service's own endpoint variable, as the SDK reads it (AWS_ENDPOINT_URL_DYNAMODB). */
  readonly endpointVariable: string;
  /** Attempts per call, the first included, and the first retry's longest wait: the SDK client's defaults. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
}

/** What AWS answered instead of a result, or why no answer came. `name` is AWS's error code. */
export class AwsServiceError extends Error {
  constructor(
    override readonly name: string,
    message: string,
    /** The HTTP status; undefined when no answer came. */
    readonly status: number | undefined,
    /** Throttling or transient: the SDK would have tried it again. */
    readonly retryable: boolean,
    /** The error's answer as the service sent it, when it was JSON (DynamoDB's `CancellationReasons` are in it). */
    readonly answer: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

/**
 * Where the client reads its environment, and its transport, per-attempt timeout, random and sleep (injected in tests).
 */
export interface AwsJsonOptions {
  /** Where credentials, region and endpoint are read (default: process.env, when the first call is made). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly transport?: HttpTransport;
  /** Per attempt, from connecting to the last byte of the answer. */
  readonly timeoutMs?: number;
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The SDK's retry classification (@smithy/service-error-classification): throttling codes, then transient ones. */
const THROTTLING = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);
const TRANSIENT = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const TRANSIENT_STATUS = new Set([500, 502, 503, 504]);

const THROTTLED_BASE_DELAY_MS = 1_000;
const MAX_DELAY_MS = 20_000;
const QUOTA = 500;
const RETRY_COST = 14;
const THROTTLED_RETRY_COST = 5;
/** The SDK waits without limit; a Lambda cannot. A DynamoDB call answers in milliseconds. */
const DEFAULT_TIMEOUT_MS = 3_000;
/** DynamoDB's largest answer is a BatchGetItem of 16 MB. */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

interface Target {
  readonly url: string;
  /** The Host header as signed and sent: the endpoint's host, with its port when it has one. */
  readonly host: string;
  readonly signer: SigV4Signer;
}

/**
 * A client for one AWS JSON service: `call` sends an operation with the retries above and throws an AwsServiceError
 * named by the error's `__type`. Credentials, region and endpoint are read on the first call.
 */
export class AwsJsonClient {
  private target: Target | undefined;
  private readonly transport: HttpTransport;
  private quota = QUOTA;
  private readonly timeoutMs: number;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly contentType: string;

  constructor(
    private readonly service: AwsJsonService,
    private readonly options: AwsJsonOptions = {},
  ) {
    this.transport = options.transport ?? keepAliveTransport;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.contentType = `application/x-amz-json-${service.jsonVersion}`;
  }

  /** Sends `operation` with `input` (JSON as the API reference gives it) and answers the parsed result. */
  async call(operation: string, input: unknown): Promise<unknown> {
    const body = JSON.stringify(input);
    let spent: number | undefined;
    for (let attempt = 1; ; attempt++) {
      const answer = await this.attempt(operation, body);
      if (!(answer instanceof AwsServiceError)) {
        this.quota = Math.min(QUOTA, this.quota + (spent ?? 1));
        return answer;
      }
      const throttled = THROTTLING.has(answer.name) || answer.status === 429;
      spent = throttled ? THROTTLED_RETRY_COST : RETRY_COST;
      if (!answer.retryable || attempt >= this.service.maxAttempts || this.quota < spent) throw answer;
      this.quota -= spent;
      await this.sleep(
        fullJitterDelay(
          attempt - 1,
          throttled ? THROTTLED_BASE_DELAY_MS : this.service.baseDelayMs,
          MAX_DELAY_MS,
          this.random,
        ),
      );
    }
  }

  /** One signed request: its result, or the error it ended with (thrown only when the call cannot be made at all). */
  private async attempt(operation: string, body: string): Promise<unknown> {
    const target = (this.target ??= this.resolveTarget());
    const headers = target.signer.sign({
      method: 'POST',
      path: '/',
      headers: {
        host: target.host,
        'content-type': this.contentType,
        'x-amz-target': `${this.service.targetPrefix}.${operation}`,
      },
      body,
    });
    let response: HttpResponse;
    try {
      response = await this.transport({
        method: 'POST',
        url: target.url,
        headers,
        body,
        timeoutMs: this.timeoutMs,
        maxBytes: MAX_ANSWER_BYTES,
      });
    } catch (error) {
      return noAnswer(error);
    }
    if (response.status >= 200 && response.status < 300) return parseResult(response);
    return errorOf(response);
  }

  private resolveTarget(): Target {
    const env = this.options.env ?? process.env;
    const accessKeyId = env['AWS_ACCESS_KEY_ID'];
    const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
    if (!accessKeyId || !secretAccessKey)
      throw new AwsServiceError(
        'CredentialsProviderError',
        'no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)',
        undefined,
        false,
      );
    const region = env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
    if (!region)
      throw new AwsServiceError('ConfigError', 'no AWS region in the environment (AWS_REGION)', undefined, false);
    const endpoint = serviceEndpoint(this.service, region, env);
    const sessionToken = env['AWS_SESSION_TOKEN'];
    return {
      url: `${endpoint.origin}/`,
      host: endpoint.host,
      signer: new SigV4Signer(
        { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
        region,
        this.service.signingName,
      ),
    };
  }
}

/**
 * Where a service is reached: its own AWS_ENDPOINT_URL_<SERVICE>, else
 * AWS_ENDPOINT_URL, else its regional endpoint (amazonaws.com.cn in the China
 * regions): https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
 */
export function serviceEndpoint(
  service: Pick<AwsJsonService, 'signingName' | 'endpointVariable'>,
  region: string,
  env: Readonly<Record<string, string | undefined>>,
): URL {
  const configured = env[service.endpointVariable] || env['AWS_ENDPOINT_URL'];
  return new URL(
    configured ??
      `https://${service.signingName}.${region}.${region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'}`,
  );
}

function parseResult(response: HttpResponse): unknown {
  if (response.body === '') return {};
  try {
    return JSON.parse(response.body);
  } catch {
    return new AwsServiceError(
      'MalformedAnswer',
      `answer of status ${response.status} is not JSON`,
      response.status,
      false,
    );
  }
}

/**
 * `__type` (or the x-amzn-errortype header) to the bare code:
 * `com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException` → `ConditionalCheckFailedException`.
 */
function errorOf(response: HttpResponse): AwsServiceError {
  let parsed: { __type?: unknown; message?: unknown; Message?: unknown } = {};
  try {
    const body: unknown = JSON.parse(response.body);
    if (typeof body === 'object' && body !== null) parsed = body as typeof parsed;
  } catch {
    // Not JSON (a proxy's error page): named by its status below.
  }
  const header = response.headers['x-amzn-errortype'];
  const raw = typeof parsed.__type === 'string' ? parsed.__type : typeof header === 'string' ? header : '';
  const code = raw.split(':')[0]!.split('#').pop() || `Http${response.status}`;
  const message =
    typeof parsed.message === 'string'
      ? parsed.message
      : typeof parsed.Message === 'string'
        ? parsed.Message
        : `status ${response.status}`;
  const retryable =
    THROTTLING.has(code) || TRANSIENT.has(code) || TRANSIENT_STATUS.has(response.status) || response.status === 429;
  return new AwsServiceError(code, message, response.status, retryable, parsed as Record<string, unknown>);
}

/** No answer: a timeout or a broken connection is transient, as the SDK counts them. */
function noAnswer(error: unknown): AwsServiceError {
  if (error instanceof TransportError) {
    if (error.failure === 'too-large') return new AwsServiceError('MalformedAnswer', error.message, undefined, false);
    return new AwsServiceError(
      error.failure === 'timeout' ? 'TimeoutError' : 'NetworkingError',
      error.message,
      undefined,
      true,
    );
  }
  const e = error as Error;
  return new AwsServiceError(e?.name ?? 'NetworkingError', e?.message ?? String(error), undefined, false);
}
