import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import { inBatches } from './batches.js';
import type { BatchSend } from './sqs-client.js';

/**
 * A message as it came off the source queue (or as a way in without a queue
 * stands one in): what a dead letter carries and a re-enqueue sends again.
 */
export interface SourceMessage {
  readonly messageId: string;
  /** The first message of a chain of re-enqueues (its own id when it is the first). */
  readonly originId: string;
  readonly body: string;
  readonly attributes: Readonly<Record<string, MessageAttributeValue>>;
}

/**
 * The longest delay SQS gives a message
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
 */
export const MAX_DELAY_SECONDS = 900;

/** The SQS delay for a wait of `ms`: whole seconds rounded up, at least 1, at most MAX_DELAY_SECONDS. */
export function delayFor(ms: number): number {
  return Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.ceil(ms / 1000)));
}

/**
 * The SQS delay that wakes a message just after `untilMs` (a lease's end): a second after it, so the lease has surely
 * ended.
 */
export function delayPast(untilMs: number, now: number): number {
  return delayFor(untilMs - now + 1000);
}

/** One message to send; `key` ties the answer back to the caller's record. */
export interface OutgoingMessage {
  readonly key: string;
  readonly body: string;
  readonly attributes: Record<string, MessageAttributeValue>;
  readonly delaySeconds?: number | undefined;
}

/**
 * What SendMessageBatch takes in one call: at most 10 entries, and at most
 * 1 MiB (1,048,576 bytes) for all of them together, counted as messageBytes
 * counts (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html;
 * AWS raised the total from 256 KiB to 1 MiB in 2025, and fauxqs enforces 1 MiB).
 */
export const MAX_BATCH_ENTRIES = 10;

/**
 * The largest message we send, attributes included: 256 KiB. AWS raised the
 * limit to 1 MiB in 2025 (and fauxqs takes 1 MiB), but queues created before
 * kept 256 KiB as their MaximumMessageSize, and ours may be among them.
 */
export const MAX_MESSAGE_BYTES = 262_144;
/** SQS allows at most 10 message attributes per message. */
export const MAX_MESSAGE_ATTRIBUTES = 10;
/** SQS's limit on the total size of one SendMessageBatch request (1 MiB). */
export const MAX_BATCH_BYTES = 1_048_576;

/**
 * A message's size as SQS counts it against its limits: the body's UTF-8
 * bytes plus, for every attribute, its name, its data type and its value
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_MessageAttributeValue.html).
 */
export function messageBytes(body: string, attributes: Readonly<Record<string, MessageAttributeValue>>): number {
  let bytes = Buffer.byteLength(body, 'utf8');
  for (const [name, value] of Object.entries(attributes)) bytes += attributeBytes(name, value);
  return bytes;
}

function attributeBytes(name: string, value: MessageAttributeValue): number {
  const content =
    value.StringValue !== undefined
      ? Buffer.byteLength(value.StringValue, 'utf8')
      : (value.BinaryValue?.byteLength ?? 0);
  return Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value.DataType ?? '', 'utf8') + content;
}

/**
 * Messages in send order, cut into batches of at most MAX_BATCH_ENTRIES and MAX_BATCH_BYTES (a message larger than that
 * goes alone, for SQS to judge).
 */
export function batchesOf<T extends OutgoingMessage>(messages: readonly T[], maxBytes = MAX_BATCH_BYTES): T[][] {
  return inBatches(messages, MAX_BATCH_ENTRIES, maxBytes, (message) => messageBytes(message.body, message.attributes));
}

/**
 * Sends messages with SendMessageBatch, in batches SQS accepts (batchesOf),
 * and reports every message SQS did not accept, so its source stays on the queue.
 */
export class QueueSender {
  constructor(
    private readonly sqs: BatchSend,
    readonly queueUrl: string,
  ) {}

  /** Returns key → why, for each message not accepted. */
  async sendAll(messages: readonly OutgoingMessage[]): Promise<Map<string, string>> {
    const rejected = new Map<string, string>();
    await Promise.all(batchesOf(messages).map((chunk) => this.sendChunk(chunk, rejected)));
    return rejected;
  }

  private async sendChunk(chunk: readonly OutgoingMessage[], rejected: Map<string, string>): Promise<void> {
    try {
      const result = await this.sqs.sendMessageBatch({
        QueueUrl: this.queueUrl,
        Entries: chunk.map((message, index) => ({
          Id: String(index),
          MessageBody: message.body,
          MessageAttributes: message.attributes,
          DelaySeconds: message.delaySeconds,
        })),
      });
      for (const failed of result.Failed ?? []) {
        const message = chunk[Number(failed.Id)];
        if (message) rejected.set(message.key, `${failed.Code ?? 'Failed'} ${failed.Message ?? ''}`.trim());
      }
    } catch (error) {
      const e = error as Error;
      for (const message of chunk)
        rejected.set(
          message.key,
          `${e.name}${e.message && e.message !== e.name ? `: ${e.message.slice(0, 200)}` : ''}`,
        );
    }
  }
}

/**
 * Our attributes first, then as many of the original message's as fit in
 * MAX_MESSAGE_ATTRIBUTES and in `maxBytes` of attribute bytes, never replacing
 * one of ours.
 */
export function withOriginalAttributes(
  ours: Record<string, MessageAttributeValue>,
  originals: Readonly<Record<string, MessageAttributeValue>>,
  maxBytes = Number.POSITIVE_INFINITY,
): Record<string, MessageAttributeValue> {
  const attributes = { ...ours };
  let bytes = messageBytes('', attributes);
  for (const [name, value] of Object.entries(originals)) {
    if (Object.keys(attributes).length >= MAX_MESSAGE_ATTRIBUTES) break;
    if (name in attributes || bytes + attributeBytes(name, value) > maxBytes) continue;
    attributes[name] = value;
    bytes += attributeBytes(name, value);
  }
  return attributes;
}

/**
 * The characters SQS accepts in a body or a string attribute value: #x9, #xA,
 * #xD, #x20 to #xD7FF, #xE000 to #xFFFD and #x10000 to #x10FFFF
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
 * A lone surrogate (half of a character cut in two) is none of them.
 */
const ACCEPTED = String.raw`\t\n\r\u{20}-\u{D7FF}\u{E000}-\u{FFFD}\u{10000}-\u{10FFFF}`;
const NOT_ACCEPTED = new RegExp(`[^${ACCEPTED}]`, 'u');
const EVERY_NOT_ACCEPTED = new RegExp(`[^${ACCEPTED}]`, 'gu');

/** Whether SQS accepts every character of `text` (in a body or a string attribute). */
export function acceptedBySqs(text: string): boolean {
  return !NOT_ACCEPTED.test(text);
}

/**
 * `value` with every character SQS refuses replaced by U+FFFD, so a string from an event can never make SQS refuse a
 * message.
 */
export function sqsText(value: string): string {
  return value.replace(EVERY_NOT_ACCEPTED, '\uFFFD');
}

/** What an empty string attribute becomes: SQS refuses an empty value. */
export const EMPTY_ATTRIBUTE = '(empty)';

/** A string message attribute, in characters SQS accepts and never empty. */
export function textAttribute(value: string): MessageAttributeValue {
  return { DataType: 'String', StringValue: value === '' ? EMPTY_ATTRIBUTE : sqsText(value) };
}

/** A number message attribute. */
export function numberAttribute(value: number): MessageAttributeValue {
  return { DataType: 'Number', StringValue: String(value) };
}
