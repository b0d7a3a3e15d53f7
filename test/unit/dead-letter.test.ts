import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type DeadLetter, deadLetterMessage } from '../../lib/pipeline/dead-letter.js';
import {
  EMPTY_ATTRIBUTE,
  MAX_MESSAGE_BYTES,
  messageBytes,
  type SourceMessage,
  textAttribute,
} from '../../lib/platform/queue-sender.js';

/** Every dead letter is one SQS accepts, and still shows an operator what arrived (lib/pipeline/dead-letter.ts). */

const letter: DeadLetter = {
  reason: 'invalid-event: body: 300000 bytes, larger than 65536',
  errorCode: 'INVALID_EVENT',
  attempts: 0,
  ruleId: 'invalid-event',
  firstSeenAt: Date.UTC(2026, 10, 29),
  decidedAt: Date.UTC(2026, 10, 29, 0, 1),
};
const source = (body: string, attributes: SourceMessage['attributes'] = {}): SourceMessage => ({
  messageId: 'm-1',
  originId: 'm-1',
  body,
  attributes,
});
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

describe('a dead letter', () => {
  it('keeps a body that fits whole, with no truncation attributes', () => {
    const message = deadLetterMessage(source('{"project_id":"p"}'), letter);

    expect(message.body).toBe('{"project_id":"p"}');
    expect(message.attributes['body_bytes']).toBeUndefined();
    expect(message.attributes['body_sha256']).toBeUndefined();
  });

  it('cuts a body too large to go beside its attributes, and says so with its size and digest', () => {
    // Prepare: 300 KB, as a producer's oversized event (SQS took it on a 1 MiB source queue).
    const body = `{"padding":"${'x'.repeat(300_000)}"}`;

    // Act
    const message = deadLetterMessage(source(body), letter);

    // Assess
    expect(messageBytes(message.body, message.attributes)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(messageBytes(message.body, message.attributes)).toBeGreaterThan(MAX_MESSAGE_BYTES - 8);
    expect(body.startsWith(message.body)).toBe(true);
    expect(message.attributes['body_bytes']).toEqual({
      DataType: 'Number',
      StringValue: String(Buffer.byteLength(body)),
    });
    expect(message.attributes['body_sha256']?.StringValue).toBe(sha256(body));
    expect(message.attributes['reason']?.StringValue).toBe(letter.reason);
  });

  it('cuts between characters, never inside one', () => {
    const body = '脚'.repeat(100_000); // 3 bytes each

    const message = deadLetterMessage(source(body), letter);

    expect(message.body).toMatch(/^脚+$/);
    expect(body.startsWith(message.body)).toBe(true);
    expect(messageBytes(message.body, message.attributes)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
  });

  it('drops original attributes that would not fit, ours first', () => {
    const big = { huge: textAttribute('y'.repeat(200_000)), small: textAttribute('kept') };

    const message = deadLetterMessage(source('x'.repeat(100_000), big), letter);

    expect(message.attributes['huge']).toBeUndefined();
    expect(message.attributes['small']?.StringValue).toBe('kept');
    expect(messageBytes(message.body, message.attributes)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
  });

  it('never carries an empty attribute value, nor a character SQS refuses, whatever the event put in its reason or code', () => {
    // Prepare: a reason echoing event text that ends in an emoji cut in half at the 1,000-character limit, and an empty
    // result_code.
    const reason = `invalid-event: body.reason: ${'r'.repeat(969)}\u0000 ${'🚀'.repeat(20)}`;

    // Act
    const message = deadLetterMessage(source('{}'), { ...letter, reason, errorCode: '' });

    // Assess
    for (const [name, value] of Object.entries(message.attributes)) {
      expect(value.StringValue, name).not.toBe('');
      expect(value.StringValue, name).not.toMatch(/[^\t\n\r\u{20}-\u{D7FF}\u{E000}-\u{FFFD}\u{10000}-\u{10FFFF}]/u);
    }
    expect(message.attributes['error_code']?.StringValue).toBe(EMPTY_ATTRIBUTE);
    expect(message.attributes['reason']?.StringValue).toMatch(/\uFFFD$/);
  });
});
