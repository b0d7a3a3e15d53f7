import { isThrottlingError, isTransientError } from '@smithy/core/retry';
import type { SdkError } from '@smithy/types';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AwsJsonClient,
  type AwsJsonOptions,
  type AwsJsonService,
  AwsServiceError,
} from '../../lib/platform/aws-json.js';
import { DYNAMODB } from '../../lib/platform/dynamodb-client.js';
import { type HttpRequest, type HttpResponse, TransportError } from '../../lib/platform/keep-alive-http.js';
import { SECRETS_MANAGER } from '../../lib/platform/secrets-provider.js';
import { rejectionOf } from '../helpers/rejection.js';

/**
 * The AWS JSON client (lib/platform/aws-json.ts) over a transport that
 * answers as told, without a wire: which answers it tries again and how (as
 * the AWS SDK's standard retries classify them), how it names what it throws,
 * and what it hands the transport.
 */

/** What the transport does with the n-th request (0-based): answer it, or throw `fails`. */
type Reply = Omit<HttpResponse, 'headers'> & { headers?: HttpResponse['headers'] };
type Script = (n: number) => Reply | { fails: unknown };

const ok: Reply = { status: 200, body: '{}' };
const awsError = (status: number, type: string): Reply => ({
  status,
  body: JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: `${type} said so` }),
});

const KEYS = { AWS_ACCESS_KEY_ID: 'AKIDUNITTEST', AWS_SECRET_ACCESS_KEY: 'unit-test-secret-access-key' };
const ENV = { ...KEYS, AWS_REGION: 'eu-west-3', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000' };

/** A DynamoDB client on a scripted transport: the requests it was handed, its waits recorded instead of slept. */
function scripted(script: Script, options: AwsJsonOptions = {}, service: AwsJsonService = DYNAMODB) {
  const sent: HttpRequest[] = [];
  const waits: number[] = [];
  const client = new AwsJsonClient(service, {
    env: { ...ENV, AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:8001' },
    random: () => 0.999,
    sleep: async (ms) => void waits.push(ms),
    transport: async (request) => {
      const reply = script(sent.push(request) - 1);
      if ('fails' in reply) throw reply.fails;
      return { headers: {}, ...reply };
    },
    ...options,
  });
  return { client, sent, waits };
}

/** What `promise` was rejected with: an AwsServiceError. */
const rejection = (promise: Promise<unknown>) => rejectionOf(promise, AwsServiceError);

/** An error as the SDK's classification reads it: its code and the status of the answer. */
const sdkError = (name: string, status: number): SdkError =>
  Object.assign(new Error(name), { name, cause: undefined, $metadata: { httpStatusCode: status } });

const THROTTLING_CODES = [
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
];
const TRANSIENT_CODES = ['TimeoutError', 'RequestTimeout', 'RequestTimeoutException'];

describe('which answers are tried again, as the AWS SDK classifies them', () => {
  it.each(THROTTLING_CODES)('%s is throttling: tried again after a wait from 1 s', async (code) => {
    expect(isThrottlingError(sdkError(code, 400))).toBe(true);
    const { client, sent, waits } = scripted((n) => (n === 0 ? awsError(400, code) : ok));
    expect(await client.call('PutItem', {})).toEqual({});
    expect(sent).toHaveLength(2);
    expect(waits).toEqual([999]);
  });

  it.each(TRANSIENT_CODES)("%s is transient: tried again after a wait from the service's base", async (code) => {
    expect(isThrottlingError(sdkError(code, 400))).toBe(false);
    expect(isTransientError(sdkError(code, 400))).toBe(true);
    const { client, sent, waits } = scripted((n) => (n === 0 ? awsError(400, code) : ok));
    expect(await client.call('PutItem', {})).toEqual({});
    expect(sent).toHaveLength(2);
    expect(waits).toEqual([24]);
  });

  it.each([500, 502, 503, 504])(
    "a %i whatever its code is transient: tried again after a wait from the service's base",
    async (status) => {
      expect(isTransientError(sdkError('SomethingWentWrong', status))).toBe(true);
      const { client, waits } = scripted((n) => (n === 0 ? awsError(status, 'SomethingWentWrong') : ok));
      expect(await client.call('PutItem', {})).toEqual({});
      expect(waits).toEqual([24]);
    },
  );

  it('a 429 whatever its code is throttling: tried again after a wait from 1 s', async () => {
    expect(isThrottlingError(sdkError('SomethingWentWrong', 429))).toBe(true);
    const { client, waits } = scripted((n) => (n === 0 ? awsError(429, 'SomethingWentWrong') : ok));
    expect(await client.call('PutItem', {})).toEqual({});
    expect(waits).toEqual([999]);
  });

  it.each([
    [400, 'ConditionalCheckFailedException'],
    [400, 'ValidationException'],
    [400, 'ResourceNotFoundException'],
    [501, 'NotImplemented'],
    [505, 'HttpVersionNotSupported'],
  ])('a %i %s is neither: thrown at once, as it came', async (status, code) => {
    expect(isThrottlingError(sdkError(code, status))).toBe(false);
    expect(isTransientError(sdkError(code, status))).toBe(false);
    const { client, sent, waits } = scripted(() => awsError(status, code));
    const error = await rejection(client.call('PutItem', {}));
    expect(error).toMatchObject({ name: code, status, retryable: false, message: `${code} said so` });
    expect(sent).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it("stops after the service's attempts, the first included: 3 for Secrets Manager, waits from 50 ms", async () => {
    const { client, sent, waits } = scripted(() => ({ status: 503, body: '' }), {}, SECRETS_MANAGER);
    expect(await rejection(client.call('GetSecretValue', { SecretId: 's' }))).toMatchObject({
      name: 'Http503',
      message: 'status 503',
      retryable: true,
    });
    expect(sent).toHaveLength(3);
    expect(waits).toEqual([49, 99]);
  });
});

describe('what a call that gets no answer throws', () => {
  it.each([
    ['timeout', 'TimeoutError'],
    ['network', 'NetworkingError'],
    ['refused', 'NetworkingError'],
  ] as const)(
    'a %s is tried again, as the SDK tries a %s, and thrown with its cause when it lasts',
    async (failure, name) => {
      const { client, sent, waits } = scripted(() => ({ fails: new TransportError(failure, `the ${failure} it was`) }));
      const error = await rejection(client.call('GetItem', {}));
      expect(error).toMatchObject({ name, message: `the ${failure} it was`, status: undefined, retryable: true });
      expect(sent).toHaveLength(4);
      expect(waits).toEqual([24, 49, 99]);
    },
  );

  it('an answer too large to read is not tried again: it would be as large the next time', async () => {
    const { client, sent } = scripted(() => ({
      fails: new TransportError('too-large', 'answer is larger than 9 bytes'),
    }));
    const error = await rejection(client.call('BatchGetItem', {}));
    expect(error).toMatchObject({
      name: 'MalformedAnswer',
      message: 'answer is larger than 9 bytes',
      status: undefined,
      retryable: false,
    });
    expect(sent).toHaveLength(1);
  });

  it.each([
    ['an Error', new TypeError('fetch failed'), { name: 'TypeError', message: 'fetch failed' }],
    ['a string', 'socket hang up', { name: 'NetworkingError', message: 'socket hang up' }],
    ['nothing', undefined, { name: 'NetworkingError', message: 'undefined' }],
  ])(
    'whatever else the transport throws (%s) is thrown as an AwsServiceError, not tried again',
    async (_, thrown, expected) => {
      const { client, sent } = scripted(() => ({ fails: thrown }));
      expect(await rejection(client.call('GetItem', {}))).toMatchObject({ ...expected, retryable: false });
      expect(sent).toHaveLength(1);
    },
  );
});

describe('what a call answers and what a failed call is named', () => {
  it('answers {} for an empty 2xx body, and the parsed body otherwise', async () => {
    expect(await scripted(() => ({ status: 200, body: '' })).client.call('PutItem', {})).toEqual({});
    expect(await scripted(() => ({ status: 299, body: '{"Count":2}' })).client.call('Scan', {})).toEqual({
      Count: 2,
    });
  });

  it('a 2xx answer that is not JSON is thrown as malformed, not tried again', async () => {
    const { client, sent } = scripted(() => ({ status: 200, body: '<html>' }));
    expect(await rejection(client.call('GetItem', {}))).toMatchObject({
      name: 'MalformedAnswer',
      message: 'answer of status 200 is not JSON',
      status: 200,
      retryable: false,
    });
    expect(sent).toHaveLength(1);
  });

  it.each([
    ['a 3xx, even with a JSON body', { status: 300, body: '{}' }, { name: 'Http300', message: 'status 300' }],
    ['a 1xx', { status: 199, body: '{}' }, { name: 'Http199', message: 'status 199' }],
    [
      'the Message of Secrets Manager',
      { status: 400, body: '{"__type":"ResourceNotFoundException","Message":"Secrets Manager can\'t find it"}' },
      { name: 'ResourceNotFoundException', message: "Secrets Manager can't find it" },
    ],
    [
      'the status when the body has no message',
      { status: 400, body: '{"__type":"ValidationException"}' },
      { name: 'ValidationException', message: 'status 400' },
    ],
    [
      'the header when the __type is not a string',
      { status: 400, body: '{"__type":7}', headers: { 'x-amzn-errortype': 'ValidationException:http://x/' } },
      { name: 'ValidationException', message: 'status 400' },
    ],
    [
      'the status when the header is not a string either',
      { status: 400, body: '{}', headers: { 'x-amzn-errortype': ['A', 'B'] as unknown as string } },
      { name: 'Http400', message: 'status 400' },
    ],
    [
      'the status when the message is not a string',
      { status: 403, body: '{"__type":"AccessDeniedException","message":{"text":"no"}}' },
      { name: 'AccessDeniedException', message: 'status 403' },
    ],
  ])('is not a result but an error named by %s', async (_, answer, expected) => {
    const { client, sent } = scripted(() => answer);
    expect(await rejection(client.call('GetItem', {}))).toMatchObject({
      ...expected,
      status: answer.status,
      retryable: false,
    });
    expect(sent).toHaveLength(1);
  });
});

describe("the client's retry quota, as the SDK's", () => {
  it('a throttled retry costs 5 of the 500 tokens: in an outage of throttling, the 100th retry is the last', async () => {
    const { client, sent } = scripted(() => awsError(400, 'ThrottlingException'));
    // 33 calls of 4 attempts spend 99 × 5 tokens; the 34th may still retry once, with the last 5.
    for (let i = 0; i < 34; i++) await rejection(client.call('PutItem', {}));
    expect(sent).toHaveLength(34 + 100);
    await rejection(client.call('PutItem', {}));
    expect(sent).toHaveLength(35 + 100);
  });

  it('a success gives back one token, or what its retry cost, and the quota never grows past 500', async () => {
    // Prepare: answers taken from `next` first, then an outage or not
    const next: Reply[] = [];
    let outage = false;
    const { client, sent } = scripted(() => next.shift() ?? (outage ? awsError(503, 'ServiceUnavailable') : ok));
    const attemptsOf = async (call: () => Promise<unknown>) => {
      const before = sent.length;
      await call().catch(() => undefined);
      return sent.length - before;
    };
    const failing = () => rejection(client.call('GetItem', {}));

    // Act, Assess: a full quota topped up by 10 successes stays at 500, so an outage still gets 35 retries
    for (let i = 0; i < 10; i++) await client.call('GetItem', {});
    outage = true;
    let retries = 0;
    for (let i = 0; i < 15; i++) retries += (await attemptsOf(failing)) - 1;
    expect(retries).toBe(35);

    // 10 tokens are left, short of a retry (14); 4 successes bring them to 14, one retry's worth
    expect(await attemptsOf(failing)).toBe(1);
    outage = false;
    for (let i = 0; i < 4; i++) await client.call('GetItem', {});
    outage = true;
    expect(await attemptsOf(failing)).toBe(2);

    // None left; 14 successes give back one retry, spent by a call that then succeeds and gives its 14 back
    outage = false;
    for (let i = 0; i < 14; i++) await client.call('GetItem', {});
    next.push(awsError(503, 'ServiceUnavailable'));
    expect(await attemptsOf(() => client.call('GetItem', {}))).toBe(2);
    outage = true;
    expect(await attemptsOf(failing)).toBe(2);
  });
});

describe('what a call hands the transport', () => {
  it('a signed POST to the endpoint, with the per-attempt timeout and the size bound', async () => {
    const { client, sent } = scripted(() => ok, { timeoutMs: 750 });
    await client.call('GetItem', { TableName: 'ledger' });
    const [request] = sent as [HttpRequest];
    expect(request).toMatchObject({
      method: 'POST',
      url: 'http://127.0.0.1:8000/',
      body: '{"TableName":"ledger"}',
      timeoutMs: 750,
      maxBytes: 32 * 1024 * 1024,
    });
    expect(request.headers).toMatchObject({
      host: '127.0.0.1:8000',
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'DynamoDB_20120810.GetItem',
    });
    expect(request.headers['authorization']).toContain(
      `Credential=${KEYS.AWS_ACCESS_KEY_ID}/${String(request.headers['x-amz-date']).slice(0, 8)}/eu-west-3/dynamodb/aws4_request`,
    );
    expect(request.headers).not.toHaveProperty('x-amz-security-token');
  });

  it('waits 3 s for an answer unless told otherwise', async () => {
    const { client, sent } = scripted(() => ok);
    await client.call('GetItem', {});
    expect(sent[0]!.timeoutMs).toBe(3_000);
  });

  it("speaks the service's JSON version to its regional endpoint, with AWS_DEFAULT_REGION when AWS_REGION is unset", async () => {
    const sent: HttpRequest[] = [];
    const secrets = new AwsJsonClient(SECRETS_MANAGER, {
      env: { ...KEYS, AWS_DEFAULT_REGION: 'cn-north-1' },
      transport: async (request) => (sent.push(request), { status: 200, headers: {}, body: '{}' }),
    });
    await secrets.call('GetSecretValue', { SecretId: 's' });
    expect(sent[0]).toMatchObject({ url: 'https://secretsmanager.cn-north-1.amazonaws.com.cn/' });
    expect(sent[0]!.headers).toMatchObject({
      host: 'secretsmanager.cn-north-1.amazonaws.com.cn',
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'secretsmanager.GetSecretValue',
    });
    expect(sent[0]!.headers['authorization']).toContain('/cn-north-1/secretsmanager/aws4_request');
  });

  it('reads the environment on the first call, not when the client is made, and only then', async () => {
    const env: Record<string, string | undefined> = {};
    const { client, sent } = scripted(() => ok, { env });
    Object.assign(env, ENV);
    await client.call('GetItem', {});
    env['AWS_ENDPOINT_URL_DYNAMODB'] = 'http://127.0.0.1:9999';
    await client.call('GetItem', {});
    expect(sent.map((r) => r.url)).toEqual(['http://127.0.0.1:8000/', 'http://127.0.0.1:8000/']);
  });

  it.each([
    ['the access key id', { AWS_SECRET_ACCESS_KEY: KEYS.AWS_SECRET_ACCESS_KEY, AWS_REGION: 'eu-west-3' }],
    ['the secret access key', { AWS_ACCESS_KEY_ID: KEYS.AWS_ACCESS_KEY_ID, AWS_REGION: 'eu-west-3' }],
  ])('sends nothing without %s, naming the variables', async (_, env) => {
    const { client, sent } = scripted(() => ok, { env });
    const error = await rejection(client.call('GetItem', {}));
    expect(error).toMatchObject({
      name: 'CredentialsProviderError',
      message: 'no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)',
      status: undefined,
      retryable: false,
    });
    expect(sent).toHaveLength(0);
  });

  it('sends nothing without a region, naming the variable', async () => {
    const { client, sent } = scripted(() => ok, { env: KEYS });
    expect(await rejection(client.call('GetItem', {}))).toMatchObject({
      name: 'ConfigError',
      message: 'no AWS region in the environment (AWS_REGION)',
      status: undefined,
      retryable: false,
    });
    expect(sent).toHaveLength(0);
  });
});

describe('the wait between two attempts, when no sleep is injected', () => {
  afterEach(() => void vi.useRealTimers());

  it('is a real timer of the drawn length', async () => {
    vi.useFakeTimers();
    const { client, sent } = scripted((n) => (n === 0 ? awsError(400, 'ThrottlingException') : ok), {
      sleep: undefined as unknown as AwsJsonOptions['sleep'],
      random: () => 0.5,
    });
    let result: unknown;
    const call = client.call('PutItem', {}).then((r) => (result = r));
    await vi.advanceTimersByTimeAsync(499);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await call;
    expect(sent).toHaveLength(2);
    expect(result).toEqual({});
  });
});
