import type { BatchSend } from '../../lib/platform/sqs-client.js';
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_ATTRIBUTES, QueueSender, textAttribute, withOriginalAttributes } from '../../lib/platform/queue-sender.js';

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

const messages = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `m${i}`, body: `{"n":${i}}`, attributes: {} }));

describe('sending in batches', () => {
  it('sends 23 messages as 10, 10 and 3 (SendMessageBatch takes at most 10)', async () => {
    const { sender, sizes } = senderWith([]);
    const rejected = await sender.sendAll(messages(23));
    expect(sizes.sort((a, b) => b - a)).toEqual([10, 10, 3]);
    expect(rejected.size).toBe(0);
  });

  it('names each message SQS refused by its own key, with the code and message SQS gave', async () => {
    const { sender } = senderWith([() => ({ Failed: [{ Id: '3', Code: 'InternalError', Message: 'try again' }, { Id: '7' }] })]);
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
