import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import type { OutgoingMessage } from '../../lib/platform/queue-sender.js';

/**
 * An SQS queue as Lambda's event source mapping sees it: messages with a
 * body, attributes, a time they become visible and a receive count. A receive
 * hides a message for the visibility timeout; only a delete removes it.
 * `sendAll` is QueueSender's contract (key → why, for each message refused);
 * an armed rejection refuses the next whole send.
 */

export interface QueueMessage {
  readonly id: string;
  readonly body: string;
  readonly attributes: Record<string, MessageAttributeValue>;
  readonly sentAt: number;
  visibleAt: number;
  receiveCount: number;
}

export class QueueModel {
  readonly messages = new Map<string, QueueMessage>();
  private rejections = 0;
  private static sequence = 0;

  constructor(
    readonly name: string,
    private readonly now: () => number,
    readonly visibilityMs: number,
  ) {}

  armRejection(count: number): void {
    this.rejections += count;
  }

  disarm(): void {
    this.rejections = 0;
  }

  add(body: string, attributes: Record<string, MessageAttributeValue> = {}, delaySeconds = 0): QueueMessage {
    const message: QueueMessage = {
      id: `${this.name}-m${++QueueModel.sequence}`,
      body,
      attributes,
      sentAt: this.now(),
      visibleAt: this.now() + delaySeconds * 1000,
      receiveCount: 0,
    };
    this.messages.set(message.id, message);
    return message;
  }

  async sendAll(messages: readonly OutgoingMessage[]): Promise<Map<string, string>> {
    const rejected = new Map<string, string>();
    if (this.rejections > 0) {
      this.rejections--;
      for (const m of messages) rejected.set(m.key, 'ServiceUnavailable: injected fault (model)');
      return rejected;
    }
    for (const m of messages) this.add(m.body, m.attributes, m.delaySeconds ?? 0);
    return rejected;
  }

  visible(): QueueMessage[] {
    return [...this.messages.values()].filter((m) => m.visibleAt <= this.now());
  }

  /** Hides the message for the visibility timeout and returns it as Lambda would deliver it. */
  receive(message: QueueMessage): SQSRecord {
    message.receiveCount++;
    message.visibleAt = this.now() + this.visibilityMs;
    return toRecord(message, this.now());
  }

  delete(id: string): void {
    this.messages.delete(id);
  }

  take(id: string): QueueMessage | undefined {
    const message = this.messages.get(id);
    this.messages.delete(id);
    return message;
  }
}

function toRecord(message: QueueMessage, now: number): SQSRecord {
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(message.attributes)) {
    messageAttributes[name] = {
      dataType: value.DataType ?? 'String',
      stringValue: value.StringValue,
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return {
    messageId: message.id,
    receiptHandle: `${message.id}#${message.receiveCount}`,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: String(message.sentAt),
      SenderId: 'model',
      ApproximateFirstReceiveTimestamp: String(now),
    },
    messageAttributes,
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:cn-north-4:000000000000:model-source',
    awsRegion: 'cn-north-4',
  };
}
