import { describe, expect, it } from 'vitest';
import { deadLetterMessage } from '../../lib/dead-letter.js';
import { redactSecrets } from '../../lib/observability.js';

describe('log redaction', () => {
  it('drops values under credential-shaped keys at any depth', () => {
    const line = JSON.stringify({ a: { sk: 'S', ak: 'A', security_token: 'T', Authorization: 'X', nested: [{ secretString: 'Y' }] }, ok: 'visible' }, redactSecrets);
    expect(line).not.toMatch(/"S"|"A"|"T"|"X"|"Y"/);
    expect(line).toContain('visible');
  });

  it('scrubs a signed Authorization header that slipped into a message', () => {
    const text = JSON.stringify({ message: 'sent SDK-HMAC-SHA256 Access=AKEXAMPLE, SignedHeaders=host, Signature=0123456789abcdef0123456789abcdef' }, redactSecrets);
    expect(text).not.toContain('AKEXAMPLE');
    expect(text).not.toContain('0123456789abcdef0123');
  });
});

describe('dead letters', () => {
  const source = { messageId: 'm1', originId: 'm0', body: '{"a":1}', attributes: Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`orig${i}`, { DataType: 'String', StringValue: `v${i}` }])) };
  const letter = { reason: 'x'.repeat(2000), errorCode: 'WKS.00081102', attempts: 2, ruleId: 'permission-denied', firstSeenAt: 0, decidedAt: 1_000 };

  it('carries the original body and at most 10 attributes, ours first', () => {
    const message = deadLetterMessage(source, letter);
    expect(message.body).toBe('{"a":1}');
    expect(Object.keys(message.attributes)).toHaveLength(10);
    expect(Object.keys(message.attributes).slice(0, 7)).toEqual(['reason', 'error_code', 'attempts', 'source_message_id', 'decided_at', 'first_seen_at', 'rule_id']);
    expect(message.attributes['reason']!.StringValue).toHaveLength(1000);
    expect(message.attributes['attempts']).toEqual({ DataType: 'Number', StringValue: '2' });
    expect(message.attributes['decided_at']!.StringValue).toBe('1970-01-01T00:00:01.000Z');
  });
});
