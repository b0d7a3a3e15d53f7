import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deadLetterMessage } from '../../lib/pipeline/dead-letter.js';
import { logger } from '../../lib/platform/observability.js';
import { captureStdout, type LogCapture } from '../../local/log-capture.js';

/** Secrets logged through the function's own logger, read back from what it wrote to stdout and stderr. */
const AK = 'AKREDACTIONPROBE01';
const SK = 'sk-redaction-probe-0123456789';
const TOKEN = 'token-redaction-probe-abcdef';
const SIGNATURE = '0123456789abcdef'.repeat(4);
const AUTHORIZATION = `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=content-type;host;x-sdk-date, Signature=${SIGNATURE}`;

let capture: LogCapture;
beforeEach(() => {
  logger.setLogLevel('INFO');
  capture = captureStdout();
});
afterEach(() => {
  capture.restore();
  logger.resetKeys();
});

/** Everything written, and proof that none of the secrets is in it. */
function written(): string {
  const text = capture.raw.join('');
  for (const secret of [AK, SK, TOKEN, SIGNATURE]) expect(text).not.toContain(secret);
  return text;
}

describe('log redaction through the real logger', () => {
  it('drops values under credential-shaped keys at any depth, and keeps the rest of the line', () => {
    logger.info('calling Workspace', {
      credentials: { ak: AK, sk: SK, security_token: TOKEN },
      request: { headers: { Authorization: AUTHORIZATION } },
      list: [{ secretString: SK }],
      recordId: 'visible-record',
    });

    written();
    const [line] = capture.lines();
    expect(line).toMatchObject({
      message: 'calling Workspace',
      service: 'workspace-script-retry',
      recordId: 'visible-record',
      credentials: { ak: '[REDACTED]', sk: '[REDACTED]', security_token: '[REDACTED]' },
    });
    expect((line!['request'] as { headers: Record<string, unknown> }).headers['Authorization']).toBe('[REDACTED]');
  });

  it.each([
    'securityToken',
    'security_token',
    'accessKey',
    'access_key',
    'secretKey',
    'secret_key',
    'secret_string',
    'SecretString',
    'x-security-token',
    'password',
    'signature',
  ])('redacts a value under %s', (name) => {
    logger.info('one field', { [name]: SK });
    written();
    expect(capture.lines()[0]?.[name]).toBe('[REDACTED]');
  });

  it('keeps fields whose names only contain a credential word (task, skipped, akamai_id)', () => {
    logger.info('look-alikes', { task: 'visible-task', skipped: 3, akamai_id: 'visible-id' });
    expect(capture.lines()[0]).toMatchObject({ task: 'visible-task', skipped: 3, akamai_id: 'visible-id' });
  });

  it('scrubs a whole signature or access key in text, and only those', () => {
    logger.info('texts', {
      signatureOnly: `Signature=${SIGNATURE} then`,
      accessOnly: `Access=${AK}, rest`,
      short: 'Signature=abc',
    });
    written();
    expect(capture.lines()[0]).toMatchObject({
      signatureOnly: 'Signature=[REDACTED] then',
      accessOnly: 'Access=[REDACTED], rest',
      short: 'Signature=abc',
    });
  });

  it('scrubs a signed Authorization header that slipped into a message, an error and its stack', () => {
    logger.error(`sent ${AUTHORIZATION}`, {
      error: new Error(`gateway refused ${AUTHORIZATION}`),
      detail: `retry with ${AUTHORIZATION}`,
    });

    const text = written();
    expect(text).toContain('Access=[REDACTED]');
    expect(text).toContain('Signature=[REDACTED]');
  });

  it('redacts keys appended to every line, not only the ones passed to one call', () => {
    logger.appendKeys({ secret_key: SK, access_key: AK });
    logger.warn('a later line');

    written();
    expect(capture.lines()[0]).toMatchObject({
      message: 'a later line',
      secret_key: '[REDACTED]',
      access_key: '[REDACTED]',
    });
  });
});

describe('dead letters', () => {
  const source = {
    messageId: 'm1',
    originId: 'm0',
    body: '{"a":1}',
    attributes: Object.fromEntries(
      Array.from({ length: 6 }, (_, i) => [`orig${i}`, { DataType: 'String', StringValue: `v${i}` }]),
    ),
  };
  const letter = {
    reason: 'x'.repeat(2000),
    errorCode: 'WKS.00081102',
    attempts: 2,
    ruleId: 'permission-denied',
    firstSeenAt: 0,
    decidedAt: 1_000,
  };

  it('carries the original body and at most 10 attributes, ours first', () => {
    const message = deadLetterMessage(source, letter);
    expect(message.body).toBe('{"a":1}');
    expect(Object.keys(message.attributes)).toHaveLength(10);
    expect(Object.keys(message.attributes).slice(0, 7)).toEqual([
      'reason',
      'error_code',
      'attempts',
      'source_message_id',
      'decided_at',
      'first_seen_at',
      'rule_id',
    ]);
    expect(message.attributes['reason']!.StringValue).toHaveLength(1000);
    expect(message.attributes['attempts']).toEqual({ DataType: 'Number', StringValue: '2' });
    expect(message.attributes['decided_at']!.StringValue).toBe('1970-01-01T00:00:01.000Z');
  });
});
