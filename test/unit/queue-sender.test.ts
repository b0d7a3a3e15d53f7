import { describe, expect, it } from 'vitest';
import {
  acceptedBySqs,
  batchesOf,
  EMPTY_ATTRIBUTE,
  MAX_BATCH_BYTES,
  MAX_MESSAGE_ATTRIBUTES,
  messageBytes,
  numberAttribute,
  QueueSender,
  sqsText,
  textAttribute,
  withOriginalAttributes,
} from '../../lib/platform/queue-sender.js';
import type { BatchSend } from '../../lib/platform/sqs-client.js';

/**
 * What the sender makes of SQS's answers (the wire itself is exercised by the
 * integration tests on fauxqs): a client that answers as SendMessageBatch
 * does, with entries refused or the whole call failing, scheduled by call count.
 */
type Answer = (entries: Array<{ Id?: string }>) => { Failed?: Array<{ Id: string; Code?: string; Message?: string }> };

function senderWith(answers: Answer[]): { sender: QueueSender; sizes: number[] } {
  const sizes: number[] = [];
  const client = {
    sendMessageBatch: async (input) => {
      const entries = input.Entries ?? [];
      sizes.push(entries.length);
      return { $metadata: {}, ...answers[sizes.length - 1]?.(entries) } as never;
    },
  } satisfies BatchSend;
  return { sender: new QueueSender(client, 'http://queue'), sizes };
}

const messages = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ key: `m${i}`, body: `{"n":${i}}`, attributes: {} }));

describe('sending in batches', () => {
  it('sends 23 messages as 10, 10 and 3 (SendMessageBatch takes at most 10)', async () => {
    const { sender, sizes } = senderWith([]);
    const rejected = await sender.sendAll(messages(23));
    expect(sizes.sort((a, b) => b - a)).toEqual([10, 10, 3]);
    expect(rejected.size).toBe(0);
  });

  it('names each message SQS refused by its own key, with the code and message SQS gave', async () => {
    const { sender } = senderWith([
      () => ({ Failed: [{ Id: '3', Code: 'InternalError', Message: 'try again' }, { Id: '7' }] }),
    ]);
    const rejected = await sender.sendAll(messages(10));
    expect(Object.fromEntries(rejected)).toEqual({ m3: 'InternalError try again', m7: 'Failed' });
  });

  it('a call that fails refuses every message of its batch, and only those', async () => {
    const { sender } = senderWith([
      () => {
        throw Object.assign(new Error('queue does not exist'), { name: 'QueueDoesNotExist' });
      },
    ]);
    const rejected = await sender.sendAll(messages(12));
    expect(rejected.size).toBe(10);
    expect(new Set(rejected.values())).toEqual(new Set(['QueueDoesNotExist: queue does not exist']));
  });
});

describe('the reason a failed call gives each message of its batch', () => {
  const failingWith = (error: Error) =>
    senderWith([
      () => {
        throw error;
      },
    ]).sender;

  it.each([
    ['with no message, by its name alone', Object.assign(new Error(''), { name: 'TimeoutError' }), 'TimeoutError'],
    [
      'whose message only repeats its name, by its name alone',
      Object.assign(new Error('AccessDenied'), { name: 'AccessDenied' }),
      'AccessDenied',
    ],
    [
      'with a long message, by its name and the first 200 characters of it',
      Object.assign(new Error('x'.repeat(300)), { name: 'ServiceUnavailable' }),
      `ServiceUnavailable: ${'x'.repeat(200)}`,
    ],
  ])('names an error %s', async (_, error, reason) => {
    // Act
    const rejected = await failingWith(error).sendAll(messages(2));

    // Assess
    expect(Object.fromEntries(rejected)).toEqual({ m0: reason, m1: reason });
  });
});

describe('attributes carried on', () => {
  it("keeps ours, then adds the original message's that fit, never replacing one of ours", () => {
    const ours = { reason: textAttribute('ours'), attempt: textAttribute('2') };
    const originals = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`orig${i}`, textAttribute(String(i))]));
    const attributes = withOriginalAttributes(ours, { ...originals, reason: textAttribute('theirs') });
    expect(Object.keys(attributes)).toHaveLength(MAX_MESSAGE_ATTRIBUTES);
    expect(attributes['reason']?.StringValue).toBe('ours');
    expect(Object.keys(attributes).slice(0, 4)).toEqual(['reason', 'attempt', 'orig0', 'orig1']);
  });
});

describe('what SQS accepts', () => {
  const kb = (n: number) => 'x'.repeat(n * 1024);

  it('counts a message as SQS does: body bytes plus each attribute name, data type and value', () => {
    expect(messageBytes('héllo', {})).toBe(6);
    expect(messageBytes('', { reason: textAttribute('ab'), attempts: numberAttribute(3) })).toBe(
      'reason'.length + 'String'.length + 2 + 'attempts'.length + 'Number'.length + 1,
    );
    expect(messageBytes('', { blob: { DataType: 'Binary', BinaryValue: new Uint8Array(5) } })).toBe(4 + 6 + 5);
  });

  it('cuts ten 110 KB messages into batches within the 1 MiB SendMessageBatch total, in order', () => {
    // Prepare
    const big = Array.from({ length: 10 }, (_, i) => ({ key: `m${i}`, body: kb(110), attributes: {} }));

    // Act
    const batches = batchesOf(big);

    // Assess
    expect(batches.map((b) => b.length)).toEqual([9, 1]);
    expect(batches.flat().map((m) => m.key)).toEqual(big.map((m) => m.key));
    for (const batch of batches)
      expect(batch.reduce((sum, m) => sum + messageBytes(m.body, m.attributes), 0)).toBeLessThanOrEqual(
        MAX_BATCH_BYTES,
      );
  });

  it('sends each batch of such messages in its own call', async () => {
    const { sender, sizes } = senderWith([]);
    const rejected = await sender.sendAll(
      Array.from({ length: 10 }, (_, i) => ({ key: `m${i}`, body: kb(300), attributes: {} })),
    );
    expect(sizes).toEqual([3, 3, 3, 1]);
    expect(rejected.size).toBe(0);
  });

  it('sends a message larger than a whole batch alone, for SQS to judge', () => {
    const batches = batchesOf([
      { key: 'a', body: 'x', attributes: {} },
      { key: 'huge', body: kb(1100), attributes: {} },
      { key: 'b', body: 'y', attributes: {} },
    ]);
    expect(batches.map((b) => b.map((m) => m.key))).toEqual([['a'], ['huge'], ['b']]);
  });

  it.each([
    ['a NUL', 'a\u0000b', 'a\uFFFDb'],
    ['a form feed', 'a\u000Cb', 'a\uFFFDb'],
    ['a lone high surrogate (a character cut in half)', 'ab\uD83D', 'ab\uFFFD'],
    ['a lone low surrogate', '\uDE00ab', '\uFFFDab'],
    ['a non-character', 'a\uFFFEb', 'a\uFFFDb'],
  ])('replaces %s in a string attribute, which SQS would refuse', (_, value, expected) => {
    expect(textAttribute(value).StringValue).toBe(expected);
    expect(sqsText(value)).toBe(expected);
  });

  it('keeps what SQS accepts: tabs, newlines, accents, CJK and characters beyond the BMP', () => {
    const text = 'line\tone\r\nzweite Zeile ü 脚本执行失败 🚀';
    expect(textAttribute(text).StringValue).toBe(text);
    expect(acceptedBySqs(text)).toBe(true);
    expect(acceptedBySqs('a\u0000b')).toBe(false);
    expect(acceptedBySqs('ab\uD83D')).toBe(false);
  });

  it('never sends an empty string attribute (SQS refuses one)', () => {
    expect(textAttribute('')).toEqual({ DataType: 'String', StringValue: EMPTY_ATTRIBUTE });
  });

  it('writes an empty string attribute as "(empty)" (docs/ways-in.md)', () => {
    expect(textAttribute('')).toEqual({ DataType: 'String', StringValue: '(empty)' });
  });

  it('counts our attributes and each original carried against the byte budget, an exact fit included', () => {
    // Prepare: each attribute here is 1 (name) + 6 ("String") + its value's bytes.
    const ours = { r: textAttribute('x') };
    const originals = { a: textAttribute('12345'), b: textAttribute('12345') };

    // Act
    const attributes = withOriginalAttributes(ours, originals, 8 + 12);

    // Assess
    expect(Object.keys(attributes)).toEqual(['r', 'a']);
  });

  it('carries original attributes only while they fit in the byte budget', () => {
    const ours = { reason: textAttribute('r') };
    const attributes = withOriginalAttributes(ours, { big: textAttribute(kb(10)), small: textAttribute('s') }, 1024);
    expect(Object.keys(attributes)).toEqual(['reason', 'small']);
  });
});
