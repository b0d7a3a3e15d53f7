import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
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

/** The longest delay SQS gives a message (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html). */
export const MAX_DELAY_SECONDS = 900;

/** The SQS delay for a wait of `ms`: whole seconds rounded up, at least 1, at most MAX_DELAY_SECONDS. */
export function delayFor(ms: number): number {
  return Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.ceil(ms / 1000)));
}

/** The SQS delay that wakes a message just after `untilMs` (a lease's end): a second after it, so the lease has surely ended. */
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
 * Sends messages with SendMessageBatch, 10 per call (the SQS maximum:
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html),
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
    const chunks: OutgoingMessage[][] = [];
    for (let i = 0; i < messages.length; i += 10) chunks.push(messages.slice(i, i + 10));
    await Promise.all(chunks.map((chunk) => this.sendChunk(chunk, rejected)));
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
      for (const message of chunk) rejected.set(message.key, `${e.name}${e.message && e.message !== e.name ? `: ${e.message.slice(0, 200)}` : ''}`);
    }
  }
}

/** SQS allows at most 10 message attributes per message. */
export const MAX_MESSAGE_ATTRIBUTES = 10;

/** Our attributes first, then as many of the original message's as fit, never replacing one of ours. */
export function withOriginalAttributes(
  ours: Record<string, MessageAttributeValue>,
  originals: Readonly<Record<string, MessageAttributeValue>>,
): Record<string, MessageAttributeValue> {
  const attributes = { ...ours };
  for (const [name, value] of Object.entries(originals)) {
    if (Object.keys(attributes).length >= MAX_MESSAGE_ATTRIBUTES) break;
    if (!(name in attributes)) attributes[name] = value;
  }
  return attributes;
}

/** A string message attribute. */
export function textAttribute(value: string): MessageAttributeValue {
  return { DataType: 'String', StringValue: value };
}

/** A number message attribute. */
export function numberAttribute(value: number): MessageAttributeValue {
  return { DataType: 'Number', StringValue: String(value) };
}
