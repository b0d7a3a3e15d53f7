import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, describe, expect, it } from 'vitest';
import { AwsJsonClient, type AwsJsonOptions, AwsServiceError } from '../../lib/platform/aws-json.js';
import { DYNAMODB } from '../../lib/platform/dynamodb-client.js';
import { localHttpServer } from '../helpers/http-server.js';
import { rejectionOf } from '../helpers/rejection.js';
import { Sha256 } from '../helpers/sha256.js';

/**
 * The AWS JSON transport (lib/platform/aws-json.ts) against a local server
 * that answers as DynamoDB would be made to answer, over real connections:
 * what it signs, what it tries again and how long it waits, what it throws.
 */

interface Seen {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** What the server does with the n-th request (0-based): answer it, or hold it unanswered. */
type Script = (n: number) => { status: number; body: string; headers?: Record<string, string> } | 'hold';

interface ScriptedServer {
  readonly url: string;
  readonly seen: Seen[];
  readonly connections: number;
  stop(): Promise<void>;
}

const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function scriptedServer(script: Script): Promise<ScriptedServer> {
  const held: ServerResponse[] = [];
  const seen: Seen[] = [];
  const server = await localHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const n = seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }) - 1;
      const answer = script(n);
      if (answer === 'hold') return void held.push(res);
      res.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.0', ...answer.headers });
      res.end(answer.body);
    });
  });
  const running: ScriptedServer = {
    url: server.url,
    seen,
    get connections() {
      return server.sockets.length;
    },
    stop: server.stop,
  };
  servers.push(running);
  return running;
}

const ok = () => ({ status: 200, body: '{}' });
const awsError = (status: number, type: string) => ({
  status,
  body: JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: `${type} said so` }),
});

const KEYS = {
  AWS_ACCESS_KEY_ID: 'AKIDLAMBDAROLE',
  AWS_SECRET_ACCESS_KEY: 'lambda-role-secret-access-key',
  AWS_SESSION_TOKEN: 'lambda-role-session-token',
};

/** A DynamoDB client on `server`, its waits recorded instead of slept, its jitter drawn at the top of the range. */
function clientOn(server: ScriptedServer, options: AwsJsonOptions = {}): { client: AwsJsonClient; waits: number[] } {
  const waits: number[] = [];
  const client = new AwsJsonClient(DYNAMODB, {
    env: { ...KEYS, AWS_REGION: 'eu-west-3', AWS_ENDPOINT_URL_DYNAMODB: server.url },
    random: () => 0.999,
    sleep: async (ms) => void waits.push(ms),
    ...options,
  });
  return { client, waits };
}

/** What `promise` was rejected with: an AwsServiceError. */
const rejection = (promise: Promise<unknown>) => rejectionOf(promise, AwsServiceError);

describe('what a call sends', () => {
  it('signs with SigV4 exactly as the AWS SDK signer does, with the session token, for the region and endpoint the environment names', async () => {
    // Prepare
    const server = await scriptedServer(() => ({ status: 200, body: '{"Item":{"pk":{"S":"k"}}}' }));
    const { client } = clientOn(server);

    // Act
    const result = await client.call('GetItem', { TableName: 'ledger', Key: { pk: { S: 'k' } } });

    // Assess
    expect(result).toEqual({ Item: { pk: { S: 'k' } } });
    const [{ headers, body }] = server.seen as [Seen];
    expect(headers).toMatchObject({
      'x-amz-target': 'DynamoDB_20120810.GetItem',
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-security-token': KEYS.AWS_SESSION_TOKEN,
    });
    // applyChecksum off: the SDK's signer would add x-amz-content-sha256, which DynamoDB does not ask for.
    const signer = new SignatureV4({
      service: 'dynamodb',
      region: 'eu-west-3',
      sha256: Sha256,
      applyChecksum: false,
      credentials: {
        accessKeyId: KEYS.AWS_ACCESS_KEY_ID,
        secretAccessKey: KEYS.AWS_SECRET_ACCESS_KEY,
        sessionToken: KEYS.AWS_SESSION_TOKEN,
      },
    });
    const { hostname, port } = new URL(server.url);
    const amzDate = String(headers['x-amz-date']);
    const signed = await signer.sign(
      {
        method: 'POST',
        protocol: 'http:',
        hostname,
        port: Number(port),
        path: '/',
        query: {},
        body,
        headers: {
          host: String(headers.host),
          'content-type': String(headers['content-type']),
          'x-amz-target': String(headers['x-amz-target']),
          'x-amz-security-token': KEYS.AWS_SESSION_TOKEN,
        },
      },
      {
        signingDate: new Date(
          `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
        ),
      },
    );
    expect(headers.authorization).toBe(signed.headers['authorization']);
    expect(headers.authorization).toContain('/eu-west-3/dynamodb/aws4_request');
  });

  it('reuses one keep-alive connection for calls made one after another', async () => {
    const server = await scriptedServer(ok);
    const { client } = clientOn(server);
    for (let i = 0; i < 20; i++) await client.call('PutItem', { TableName: 'ledger', Item: { pk: { S: `k${i}` } } });
    expect(server.seen).toHaveLength(20);
    expect(server.connections).toBe(1);
  });

  it('refuses to call without credentials in the environment, naming the variables and no value', async () => {
    const server = await scriptedServer(ok);
    const client = new AwsJsonClient(DYNAMODB, {
      env: {
        AWS_SECRET_ACCESS_KEY: KEYS.AWS_SECRET_ACCESS_KEY,
        AWS_REGION: 'eu-west-3',
        AWS_ENDPOINT_URL_DYNAMODB: server.url,
      },
    });
    const error = await rejection(client.call('GetItem', {}));
    expect(error.name).toBe('CredentialsProviderError');
    expect(error.message).toContain('AWS_ACCESS_KEY_ID');
    expect(error.message).not.toContain(KEYS.AWS_SECRET_ACCESS_KEY);
    expect(server.seen).toHaveLength(0);
  });
});

describe('what a call tries again', () => {
  it('throttling is tried again after full-jitter waits from 1 s, doubling, until it succeeds', async () => {
    // Prepare
    const server = await scriptedServer((n) =>
      n < 2 ? awsError(400, 'ProvisionedThroughputExceededException') : ok(),
    );
    const { client, waits } = clientOn(server);

    // Act
    const result = await client.call('PutItem', {});

    // Assess
    expect(result).toEqual({});
    expect(server.seen).toHaveLength(3);
    expect(waits).toEqual([999, 1998]);
  });

  it("a 5xx is tried again after waits from 25 ms, doubling, and after the 4th attempt (the SDK DynamoDB client's) fails with AWS's code", async () => {
    const server = await scriptedServer(() => awsError(500, 'InternalServerError'));
    const { client, waits } = clientOn(server);
    const error = await rejection(client.call('PutItem', {}));
    expect(error).toMatchObject({ name: 'InternalServerError', status: 500, retryable: true });
    expect(server.seen).toHaveLength(4);
    expect(waits).toEqual([24, 49, 99]);
  });

  it('a refused condition is answered at once and keeps its name: never tried again, never taken for unavailability', async () => {
    const server = await scriptedServer(() => awsError(400, 'ConditionalCheckFailedException'));
    const { client, waits } = clientOn(server);
    const error = await rejection(client.call('PutItem', {}));
    expect(error).toMatchObject({ name: 'ConditionalCheckFailedException', status: 400, retryable: false });
    expect(server.seen).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it('an answer that does not come in time is tried again, as the SDK tries a TimeoutError', async () => {
    const server = await scriptedServer((n) => (n === 0 ? 'hold' : ok()));
    const { client } = clientOn(server, { timeoutMs: 200 });
    expect(await client.call('PutItem', {})).toEqual({});
    expect(server.seen).toHaveLength(2);
  });

  it("in an outage the retries stop once the client's quota of 500 tokens is spent (14 a retry): later calls try once", async () => {
    // Prepare
    const server = await scriptedServer(() => awsError(503, 'ServiceUnavailable'));
    const { client } = clientOn(server);

    // Act
    for (let i = 0; i < 15; i++) await rejection(client.call('PutItem', {}));

    // Assess: 35 retries (35 × 14 = 490 of 500 tokens), then one attempt per call
    expect(server.seen).toHaveLength(15 + 35);
  });
});

describe('what a failed call is named', () => {
  it.each([
    [
      'the __type of the body, without its namespace',
      {
        status: 400,
        body: '{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}',
      },
      { name: 'ResourceNotFoundException', message: 'Requested resource not found', retryable: false },
    ],
    [
      'the x-amzn-errortype header when the body has none',
      {
        status: 403,
        body: '',
        headers: {
          'x-amzn-errortype': 'AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/',
        },
      },
      { name: 'AccessDeniedException', retryable: false },
    ],
    [
      "the status when the answer is not AWS's (a proxy's page), tried again when it is a 5xx",
      { status: 502, body: '<html>Bad Gateway</html>', headers: { 'content-type': 'text/html' } },
      { name: 'Http502', retryable: true },
    ],
  ])('by %s', async (_, answer, expected) => {
    const server = await scriptedServer(() => answer);
    const { client } = clientOn(server);
    expect(await rejection(client.call('GetItem', {}))).toMatchObject(expected);
  });
});
