import { describe, expect, it } from 'vitest';
import { parseHostRule, urlProblem } from '../../../lib/ingress/host-rules.js';
import { loadIngressConfig } from '../../../lib/ingress/ingress-config.js';

const TOPIC = 'urn:smn:cn-north-4:0a1b2c3d4e5f60718293a4b5c6d7e8f9:workspace-script-failures';
const BASE = {
  FAILURE_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/failures',
  TRUSTED_TOPIC_URNS: TOPIC,
};

describe('allowed hosts', () => {
  const defaults = loadIngressConfig(BASE);

  it('lets the default rules admit SMN regional hosts over https on 443 only', () => {
    expect(
      urlProblem(
        'signing_cert_url',
        'https://smn.cn-north-4.myhuaweicloud.com/smn/SMN_cn-north-4_ab.pem',
        defaults.certHosts,
      ),
    ).toBeUndefined();
    expect(
      urlProblem('signing_cert_url', 'https://smn.ap-southeast-1.myhuaweicloud.com/smn/x.pem', defaults.certHosts),
    ).toBeUndefined();
  });

  it.each([
    ['http://smn.cn-north-4.myhuaweicloud.com/x.pem', /must be https/],
    [
      'https://smn.cn-north-4.myhuaweicloud.com:8443/x.pem',
      /host smn\.cn-north-4\.myhuaweicloud\.com:8443 is not an allowed/,
    ],
    ['https://smn.evil.com.myhuaweicloud.com.evil.net/x.pem', /not an allowed SMN host/],
    ['https://x.smn.cn-north-4.myhuaweicloud.com/x.pem', /not an allowed SMN host/],
    ['https://smn.cn-north-4.myhuaweicloud.com@evil.net/x.pem', /must not carry credentials/],
    ['https://user:pw@smn.cn-north-4.myhuaweicloud.com/x.pem', /must not carry credentials/],
    ['https://smn.a.b.myhuaweicloud.com/x.pem', /not an allowed SMN host/],
    ['not a url', /is not a URL/],
  ])('refuses %s', (url, problem) => {
    expect(urlProblem('signing_cert_url', url, defaults.certHosts)).toMatch(problem);
  });

  it('treats * as one DNS label and refuses patterns that are not host names', () => {
    expect(parseHostRule('127.0.0.1:4443')!.test('127.0.0.1:4443')).toBe(true);
    expect(parseHostRule('127.0.0.1:4443')!.test('127.0.0.1:4444')).toBe(false);
    expect(parseHostRule('smn.*.myhuaweicloud.com')!.test('smn.x.y.myhuaweicloud.com')).toBe(false);
    for (const bad of ['https://smn.x.com', 'smn.x.com/path', '*.*', 'smn.*', 'smn.*:443', 'localhost', 'a b'])
      expect(parseHostRule(bad), bad).toBeUndefined();
  });
});

describe('the ingress configuration', () => {
  it('has defaults for everything but the queue and the trusted topics', () => {
    expect(loadIngressConfig(BASE)).toMatchObject({
      maxAgeSeconds: 86_400,
      clockSkewSeconds: 300,
      fetchTimeoutMs: 2_000,
      tokenSecretId: undefined,
      tokenHeader: 'authorization',
      tokenCacheTtlSeconds: 300,
    });
    expect(loadIngressConfig(BASE).certHosts).toHaveLength(1);
    expect(loadIngressConfig(BASE).confirmHosts).toHaveLength(2);
  });

  it('reads blank values as unset, lists trimmed, and a header name in lower case', () => {
    // Act
    const config = loadIngressConfig({
      ...BASE,
      TRUSTED_TOPIC_URNS: ` ${TOPIC} ,, `,
      SMN_CERT_HOSTS: ' ',
      INGRESS_TOKEN_HEADER: 'X-Webhook-Token',
      INGRESS_TOKEN_SECRET_ID: '',
    });
    // Assess
    expect([...config.trustedTopicUrns]).toEqual([TOPIC]);
    expect(config.certHosts).toHaveLength(1);
    expect(config).toMatchObject({ tokenHeader: 'x-webhook-token', tokenSecretId: undefined });
  });

  it('starts webhook-only, with a token secret and no SMN topic to trust', () => {
    // Act
    const config = loadIngressConfig({
      FAILURE_QUEUE_URL: BASE.FAILURE_QUEUE_URL,
      INGRESS_TOKEN_SECRET_ID: 'workspace-script-retry/ingress-token',
    });
    // Assess
    expect(config.trustedTopicUrns.size).toBe(0);
    expect(config.tokenSecretId).toBe('workspace-script-retry/ingress-token');
  });

  it.each([
    [{ TRUSTED_TOPIC_URNS: undefined }, 'TRUSTED_TOPIC_URNS is required unless INGRESS_TOKEN_SECRET_ID is set'],
    [{ TRUSTED_TOPIC_URNS: ' , ' }, 'TRUSTED_TOPIC_URNS must list at least one value'],
    [
      { TRUSTED_TOPIC_URNS: `${TOPIC},arn:aws:sns:us-east-1:1:t` },
      'TRUSTED_TOPIC_URNS[1]: "arn:aws:sns:us-east-1:1:t" is not an SMN topic URN',
    ],
    [{ FAILURE_QUEUE_URL: undefined }, 'FAILURE_QUEUE_URL is required'],
    [{ SMN_CERT_HOSTS: 'https://smn.x.com' }, 'SMN_CERT_HOSTS[0]: "https://smn.x.com" is not a host name'],
    [{ SMN_CONFIRM_HOSTS: 'console.huaweicloud.com, a b' }, 'SMN_CONFIRM_HOSTS[1]: "a b" is not a host name'],
    [{ SMN_CONFIRM_HOSTS: ',' }, 'SMN_CONFIRM_HOSTS must list at least one value'],
    [{ FAILURE_QUEUE_URL: 'failures' }, 'FAILURE_QUEUE_URL must be a queue URL, got "failures"'],
    [{ SMN_CLOCK_SKEW_SECONDS: '-1' }, 'SMN_CLOCK_SKEW_SECONDS must be a whole number between 0 and 3600, got "-1"'],
    [
      { INGRESS_TOKEN_CACHE_TTL_SECONDS: '0' },
      'INGRESS_TOKEN_CACHE_TTL_SECONDS must be a whole number between 1 and 86400, got "0"',
    ],
    [
      { INGRESS_TOKEN_HEADER: 'x token' },
      'INGRESS_TOKEN_HEADER must be an HTTP header name (not an X-SMN- one), got "x token"',
    ],
    [{ SMN_MAX_AGE_SECONDS: '10' }, 'SMN_MAX_AGE_SECONDS must be a whole number between 60 and 604800, got "10"'],
    [{ SMN_FETCH_TIMEOUT_MS: '9000' }, 'SMN_FETCH_TIMEOUT_MS must be a whole number between 100 and 4000'],
    [{ INGRESS_TOKEN_HEADER: 'X-SMN-Token' }, 'INGRESS_TOKEN_HEADER must be an HTTP header name (not an X-SMN- one)'],
  ])('names the variable when %o is wrong', (change, message) => {
    expect(() => loadIngressConfig({ ...BASE, ...change })).toThrow(message);
  });
});
