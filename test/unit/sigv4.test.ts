// Two independent SigV4 signers, used only here as oracles: AWS's own (the SDK's) and aws4.
import { fc, test } from '@fast-check/vitest';
import { SignatureV4 } from '@smithy/signature-v4';
import aws4 from 'aws4';
import { describe, expect, it } from 'vitest';
import { type AwsCredentials, basicIsoDate, canonicalValue, SigV4Signer } from '../../lib/platform/sigv4.js';
import { Sha256 } from '../helpers/sha256.js';

/** AWS's Signature Version 4 test suite: its credentials, region, service and time (docs/aws-signing.md). */
const SUITE = {
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
  region: 'us-east-1',
  service: 'service',
  at: Date.parse('2015-08-30T12:36:00Z'),
  host: 'example.amazonaws.com',
  token:
    'AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==',
};
const CREDENTIAL = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request';

describe("AWS's published test suite", () => {
  const sign = (headers: Record<string, string>, body = '', sessionToken?: string) =>
    new SigV4Signer({ ...SUITE.credentials, sessionToken }, SUITE.region, SUITE.service).sign(
      { method: 'POST', path: '/', headers: { host: SUITE.host, ...headers }, body },
      SUITE.at,
    );

  it('post-vanilla: host and x-amz-date alone', () => {
    expect(sign({})).toEqual({
      host: SUITE.host,
      'x-amz-date': '20150830T123600Z',
      authorization: `${CREDENTIAL}, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b`,
    });
  });

  it('post-x-www-form-urlencoded: a body and its content type', () => {
    expect(sign({ 'Content-Type': 'application/x-www-form-urlencoded' }, 'Param1=value1').authorization).toBe(
      `${CREDENTIAL}, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a`,
    );
  });

  it('post-x-www-form-urlencoded-parameters: a content type with parameters', () => {
    expect(
      sign({ 'Content-Type': 'application/x-www-form-urlencoded; charset=utf8' }, 'Param1=value1').authorization,
    ).toBe(
      `${CREDENTIAL}, SignedHeaders=content-type;host;x-amz-date, Signature=1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe`,
    );
  });

  it('post-sts-header-before: temporary credentials send and sign their session token', () => {
    const headers = sign({}, '', SUITE.token);
    expect(headers['x-amz-security-token']).toBe(SUITE.token);
    expect(headers.authorization).toBe(
      `${CREDENTIAL}, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead`,
    );
  });
});

/** A header name neither signer treats specially, and a value of printable ASCII with its spaces. */
const headerName = fc
  .stringMatching(/^[a-z][a-z0-9-]{0,15}$/)
  .filter((name) => !['host', 'authorization', 'content-length', 'connection', 'expect', 'range'].includes(name))
  .filter((name) => !name.startsWith('x-amz') && !name.startsWith('x-amzn') && !name.startsWith('amz-sdk'))
  .filter((name) => !['user-agent', 'presigned-expires', 'cache-control', 'from', 'keep-alive'].includes(name))
  .filter(
    (name) => !['max-forwards', 'pragma', 'referer', 'te', 'trailer', 'transfer-encoding', 'upgrade'].includes(name),
  );
/** Printable ASCII with runs of spaces, at either end too. */
const asciiValue = fc.stringMatching(/^[\x20-\x7e]{0,30}$/);
/** As the SDK's signer reads them: also tabs, line breaks and spaces that are not ASCII's (no-break, ideographic). */
const anyValue = fc.oneof(asciiValue, fc.stringMatching(/^[ \t\r\na-z0-9\u00a0\u3000]{0,20}$/));
/** As sent: `/`, or segments of unreserved characters (what the signer takes). */
const path = fc.constantFrom('/', '/a', '/a/b/', '/x-y_z.~1', '/.../c');
const requestsWith = (headerValue: fc.Arbitrary<string>, token: fc.Arbitrary<string>) =>
  fc.record({
    credentials: fc.record({
      accessKeyId: fc.stringMatching(/^[A-Z0-9]{16,20}$/),
      secretAccessKey: fc.stringMatching(/^[A-Za-z0-9/+]{20,40}$/),
      sessionToken: fc.option(token, { nil: undefined }),
    }),
    region: fc.constantFrom('us-east-1', 'eu-west-3', 'cn-north-1', 'ap-southeast-1'),
    service: fc.constantFrom('dynamodb', 'secretsmanager'),
    host: fc.constantFrom('dynamodb.eu-west-3.amazonaws.com', '127.0.0.1:4567', 'localhost:8000'),
    path,
    headers: fc.dictionary(headerName, headerValue, { maxKeys: 5 }),
    body: fc.string({ unit: 'grapheme', maxLength: 300 }),
    at: fc.integer({ min: Date.parse('2001-01-01T00:00:00Z'), max: Date.parse('2099-12-31T23:59:59Z') }),
  });
const token = fc.stringMatching(/^[A-Za-z0-9/+=]{16,200}$/);
/** aws4 trims with JavaScript's whitespace (no-break spaces too), the SDK only spaces, tabs and line breaks. */
const requests = requestsWith(asciiValue, token);
const sdkRequests = requestsWith(
  anyValue,
  fc.oneof(token, fc.stringMatching(/^ ?[A-Za-z0-9]{4,20}( {1,3}[A-Za-z0-9]{1,9})? ?$/)),
);

/** What aws4 adds to a request with a body when it is not given: it signs them, so both sides are given them. */
const aws4Adds = (body: string) => ({
  'content-length': String(Buffer.byteLength(body)),
  'content-type': 'application/x-amz-json-1.0',
});

describe('as the other signers sign', () => {
  test.prop([sdkRequests], { numRuns: 300 })(
    "signs as AWS's own signer (the SDK's) does, over the same headers",
    async ({ credentials, region, service, host, path, headers, body, at }) => {
      const ours = new SigV4Signer(credentials, region, service).sign(
        { method: 'POST', path, headers: { ...headers, host }, body },
        at,
      );
      const [hostname, port] = host.split(':');
      const sdk = await new SignatureV4({ service, region, sha256: Sha256, applyChecksum: false, credentials }).sign(
        {
          method: 'POST',
          protocol: 'https:',
          hostname: hostname!,
          ...(port ? { port: Number(port) } : {}),
          path,
          query: {},
          headers: { ...headers, host },
          body,
        },
        { signingDate: new Date(at) },
      );
      expect(ours['authorization']).toBe(sdk.headers['authorization']);
      expect(ours['x-amz-date']).toBe(sdk.headers['x-amz-date']);
      expect(ours['x-amz-security-token']).toBe(sdk.headers['x-amz-security-token']);
    },
  );

  test.prop([requests], { numRuns: 300 })(
    'signs as aws4 does, over the same headers',
    ({ credentials, region, service, host, path, headers, body, at }) => {
      const ours = new SigV4Signer(credentials, region, service).sign(
        {
          method: 'POST',
          path,
          headers: { ...headers, ...aws4Adds(body), host },
          body,
        },
        at,
      );
      const theirs = aws4.sign(
        {
          host,
          method: 'POST',
          path,
          region,
          service,
          body,
          headers: {
            ...headers,
            ...aws4Adds(body),
            'X-Amz-Date': basicIsoDate(at),
          },
        },
        credentials,
      );
      expect(ours['authorization']).toBe(theirs.headers?.['Authorization']);
    },
  );
});

describe('header values', () => {
  it.each([
    ['a  b', 'a b'],
    [' a ', 'a'],
    ['\ta\t\tb\t', 'a b'],
    ['a\r\nb', 'a b'],
    ['a\u00a0\u00a0b', 'a\u00a0\u00a0b'],
    ['plain', 'plain'],
    ['', ''],
  ])('%j is signed as %j', (value, canonical) => {
    expect(canonicalValue(value)).toBe(canonical);
  });

  it('signs a session token as it signs any value', () => {
    const credentials = { accessKeyId: 'A', secretAccessKey: 'S' };
    const request = { method: 'POST', path: '/', headers: { host: 'h' }, body: '' };
    const spaced = new SigV4Signer({ ...credentials, sessionToken: ' t  k ' }, 'r', 's').sign(request, 0);
    const tight = new SigV4Signer({ ...credentials, sessionToken: 't k' }, 'r', 's').sign(request, 0);
    expect(spaced['x-amz-security-token']).toBe(' t  k ');
    expect(spaced['authorization']).toBe(tight['authorization']);
  });
});

describe('what it keeps between calls', () => {
  const credentials: AwsCredentials = { accessKeyId: 'AKIAKEPT', secretAccessKey: 'kept-secret' };
  const request = { method: 'POST', path: '/', headers: { host: 'h' }, body: '{}' };
  const reference = (at: number) =>
    new SigV4Signer(credentials, 'eu-west-3', 'dynamodb').sign(request, at)['authorization'];

  it('derives the signing key again when the UTC day changes', () => {
    const signer = new SigV4Signer(credentials, 'eu-west-3', 'dynamodb');
    const evening = Date.parse('2026-12-03T23:59:59Z');
    const morning = Date.parse('2026-12-04T00:00:00Z');
    expect(signer.sign(request, evening)['authorization']).toBe(reference(evening));
    expect(signer.sign(request, morning)['authorization']).toBe(reference(morning));
    expect(signer.sign(request, morning)['authorization']).toContain('/20261204/eu-west-3/dynamodb/aws4_request');
  });

  it('dates each request by its own second', () => {
    const signer = new SigV4Signer(credentials, 'eu-west-3', 'dynamodb');
    const at = Date.parse('2026-12-03T10:20:30.999Z');
    expect(signer.sign(request, at)['x-amz-date']).toBe('20261203T102030Z');
    expect(signer.sign(request, at + 1)['x-amz-date']).toBe('20261203T102031Z');
    expect(signer.sign(request, at - 999)['x-amz-date']).toBe('20261203T102030Z');
  });

  it('keeps its own copy of the credentials: a change to the object given changes nothing it signs', () => {
    const given = { accessKeyId: 'AKIAKEPT', secretAccessKey: 'kept-secret', sessionToken: 'one' };
    const signer = new SigV4Signer(given, 'eu-west-3', 'dynamodb');
    const before = signer.sign(request, 0);
    Object.assign(given, { accessKeyId: 'AKIANEW', secretAccessKey: 'new-secret', sessionToken: 'two' });
    expect(signer.sign(request, 0)).toEqual(before);
  });

  it('puts no secret in what it sends', () => {
    const sent = new SigV4Signer({ ...credentials, sessionToken: 'token' }, 'eu-west-3', 'dynamodb').sign(request);
    expect(JSON.stringify(sent)).not.toContain('kept-secret');
  });
});

describe('what it refuses to sign', () => {
  const signer = new SigV4Signer({ accessKeyId: 'A', secretAccessKey: 'S' }, 'eu-west-3', 'dynamodb');
  const refusal = (path: string, headers: Record<string, string>) => () =>
    signer.sign({ method: 'POST', path, headers, body: '' });

  it.each([
    '/?Action=List',
    '/a b',
    '',
    'relative',
    'a/b',
    '/%2F',
    '//',
    '/a//b',
    '/.',
    '/./',
    '/..',
    '/a/../',
    '/a/./b',
  ])('a path AWS would encode or normalise first: %j', (path) => {
    expect(refusal(path, { host: 'h' })).toThrow(
      `path ${JSON.stringify(path)} is not one this signer sends unencoded and unnormalised`,
    );
  });

  it.each(['/', '/a', '/a/', '/a-b_c.d~e/F9', '/.../x'])('but signs %j as it is', (path) => {
    expect(refusal(path, { host: 'h' })).not.toThrow();
  });

  it('a header the request inherits rather than holds: it is neither sent nor signed', () => {
    const headers = Object.assign(Object.create({ 'x-inherited': 'v' }) as Record<string, string>, { host: 'h' });
    const sent = signer.sign({ method: 'POST', path: '/', headers, body: '' });
    expect(sent).not.toHaveProperty('x-inherited');
    expect(sent['authorization']).toContain('SignedHeaders=host;x-amz-date,');
  });

  it.each(['Authorization', 'X-Amz-Date', 'x-amz-security-token'])('a request carrying %s, which it sets', (name) => {
    expect(refusal('/', { host: 'h', [name]: 'v' })).toThrow(`header ${name} is set by the signer, not by the request`);
  });

  it('a header given twice in two cases', () => {
    expect(refusal('/', { host: 'h', 'Content-Type': 'a', 'content-type': 'b' })).toThrow(
      'header content-type is given twice',
    );
  });

  it('a request without its host', () => {
    expect(refusal('/', { 'content-type': 'a' })).toThrow('the request has no host header; SigV4 signs it');
  });
});

describe('basicIsoDate', () => {
  it.each([
    ['2015-08-30T12:36:00.000Z', '20150830T123600Z'],
    ['2026-01-02T03:04:05.678Z', '20260102T030405Z'],
    ['1999-12-31T23:59:59.999Z', '19991231T235959Z'],
  ])('%s is %s', (iso, basic) => {
    expect(basicIsoDate(Date.parse(iso))).toBe(basic);
  });
});
