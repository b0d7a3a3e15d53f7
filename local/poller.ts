/**
 * A local stand-in for Lambda's SQS event source mapping: receive a batch,
 * invoke the handler with it as Lambda would, delete what the partial batch
 * response says succeeded, and leave the rest to the visibility timeout.
 * A handler that throws deletes nothing.
 */

import { randomUUID } from 'node:crypto';
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

export type QueueHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface PollerOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly handler: QueueHandler;
  /** Messages per receive, 1–10 (SQS's maximum per ReceiveMessage). */
  readonly batchSize?: number;
  readonly functionTimeoutMs?: number;
  readonly functionName?: string;
}

export interface PollResult {
  readonly received: number;
  readonly deleted: number;
  readonly failed: number;
  readonly crashed: boolean;
}

/** An SQS message as Lambda delivers it to the handler. */
export function toRecord(message: Message, queueArn: string): SQSRecord {
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? 'String',
      stringValue: value.StringValue,
      binaryValue: value.BinaryValue ? Buffer.from(value.BinaryValue).toString('base64') : undefined,
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
      SentTimestamp: message.Attributes?.SentTimestamp ?? String(Date.now()),
      SenderId: message.Attributes?.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: message.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: queueArn.split(':')[3] ?? 'us-east-1',
  };
}

/** A Lambda context for a local invocation, with a real remaining-time clock. */
export function lambdaContext(functionName: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export class LocalEventSource {
  constructor(private readonly options: PollerOptions) {}

  /** One receive-invoke-delete round. */
  async pollOnce(waitSeconds = 0): Promise<PollResult> {
    const { sqs, queueUrl, queueArn, handler } = this.options;
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: this.options.batchSize ?? 10,
        WaitTimeSeconds: waitSeconds,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) return { received: 0, deleted: 0, failed: 0, crashed: false };
    const event: SQSEvent = { Records: messages.map((m) => toRecord(m, queueArn)) };
    let response: SQSBatchResponse | void;
    try {
      response = await handler(
        event,
        lambdaContext(this.options.functionName ?? 'retryFromQueue', this.options.functionTimeoutMs ?? 120_000),
      );
    } catch {
      return { received: messages.length, deleted: 0, failed: messages.length, crashed: true };
    }
    const failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    const done = messages.filter((m) => !failed.has(m.MessageId!));
    for (let i = 0; i < done.length; i += 10) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.slice(i, i + 10).map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
    return { received: messages.length, deleted: done.length, failed: failed.size, crashed: false };
  }

  /**
   * Polls until `isDrained()` says so (checked whenever a receive comes back
   * empty) or the time runs out. Returns the totals.
   */
  async runUntil(isDrained: () => Promise<boolean>, timeoutMs: number): Promise<PollResult & { rounds: number }> {
    const totals = { received: 0, deleted: 0, failed: 0, crashed: false, rounds: 0 };
    const stopAt = Date.now() + timeoutMs;
    while (Date.now() < stopAt) {
      const result = await this.pollOnce(0);
      totals.rounds++;
      totals.received += result.received;
      totals.deleted += result.deleted;
      totals.failed += result.failed;
      totals.crashed ||= result.crashed;
      if (result.received === 0) {
        if (await isDrained()) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    return totals;
  }
}
