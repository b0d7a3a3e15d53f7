/**
 * The DLQ as an operator uses it: look without consuming, and move messages
 * back to the failure queue once their cause is fixed.
 */

import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { QueueSender } from '../lib/platform/queue-sender.js';

const receive = (sqs: SQSClient, queueUrl: string, visibilityTimeout: number) =>
  sqs
    .send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: visibilityTimeout,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    )
    .then((answer) => answer.Messages ?? []);

export async function approximateDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes: a = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return Number(a.ApproximateNumberOfMessages ?? 0);
}

/**
 * Up to `limit` messages, received with a visibility timeout of 0 so they stay
 * visible (nothing is consumed). SQS may answer a short poll from a sample of
 * its servers, so it asks a few times and keeps each message once.
 */
export async function peek(sqs: SQSClient, queueUrl: string, limit: number): Promise<Message[]> {
  const seen = new Map<string, Message>();
  for (let round = 0, idle = 0; seen.size < limit && idle < 3 && round < Math.ceil(limit / 10) + 5; round++) {
    const before = seen.size;
    for (const message of await receive(sqs, queueUrl, 0))
      if (message.MessageId && !seen.has(message.MessageId)) seen.set(message.MessageId, message);
    idle = seen.size === before ? idle + 1 : 0;
  }
  return [...seen.values()].slice(0, limit);
}

/** SQS returns empty list fields it will not accept back: keep the type and the value only. */
export function sendableAttributes(attributes: Message['MessageAttributes']): Record<string, MessageAttributeValue> {
  const copy: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    copy[name] =
      value.BinaryValue !== undefined
        ? { DataType: value.DataType, BinaryValue: value.BinaryValue }
        : { DataType: value.DataType, StringValue: value.StringValue };
  }
  return copy;
}

export interface ReplayResult {
  readonly moved: Message[];
  readonly left: number;
  readonly failed: Array<{ readonly message_id: string; readonly error: string }>;
}

/** How long replay holds a message it received while it moves it or passes it by. */
const HOLD_SECONDS = 120;

/**
 * Moves the dead letters `select` accepts (at most `limit`) to the failure
 * queue: body and every message attribute as they are (reason and decided_at
 * included, so the queue function knows a replayed dead letter and decides it
 * again), then deletes each from the DLQ once the failure queue accepted it.
 * Messages passed by are held invisible during the run, so each is read once,
 * and made visible again at the end.
 */
export async function replay(
  sqs: SQSClient,
  dlqUrl: string,
  queueUrl: string,
  select: (message: Message) => boolean,
  limit: number,
): Promise<ReplayResult> {
  const sender = new QueueSender(
    { sendMessageBatch: (input) => sqs.send(new SendMessageBatchCommand(input)) },
    queueUrl,
  );
  const moved: Message[] = [];
  const failed: Array<{ message_id: string; error: string }> = [];
  const passed = new Map<string, string>();
  try {
    while (moved.length + failed.length < limit) {
      const batch = (await receive(sqs, dlqUrl, HOLD_SECONDS)).filter(
        (m) => m.MessageId && m.ReceiptHandle && !passed.has(m.MessageId),
      );
      if (batch.length === 0) break;
      const chosen: Message[] = [];
      for (const message of batch) {
        if (select(message) && moved.length + failed.length + chosen.length < limit) chosen.push(message);
        else passed.set(message.MessageId!, message.ReceiptHandle!);
      }
      const rejected = await sender.sendAll(
        chosen.map((m) => ({
          key: m.MessageId!,
          body: m.Body ?? '',
          attributes: sendableAttributes(m.MessageAttributes),
        })),
      );
      const sent = chosen.filter((m) => !rejected.has(m.MessageId!));
      for (const m of chosen)
        if (rejected.has(m.MessageId!)) {
          failed.push({ message_id: m.MessageId!, error: rejected.get(m.MessageId!)! });
          passed.set(m.MessageId!, m.ReceiptHandle!);
        }
      if (sent.length > 0) {
        const deleted = await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: dlqUrl,
            Entries: sent.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
        // A copy is on the failure queue either way; one the DLQ kept would be replayed again, which the ledger answers
        // as a duplicate.
        for (const f of deleted.Failed ?? [])
          failed.push({
            message_id: sent[Number(f.Id)]!.MessageId!,
            error: `sent, but not deleted from the DLQ: ${f.Code ?? ''} ${f.Message ?? ''}`.trim(),
          });
      }
      moved.push(...sent);
    }
  } finally {
    await release(sqs, dlqUrl, [...passed.values()]);
  }
  return { moved, left: passed.size, failed };
}

async function release(sqs: SQSClient, queueUrl: string, receipts: string[]): Promise<void> {
  for (let i = 0; i < receipts.length; i += 10) {
    const chunk = receipts.slice(i, i + 10);
    await sqs
      .send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((handle, j) => ({ Id: String(j), ReceiptHandle: handle, VisibilityTimeout: 0 })),
        }),
      )
      .catch(() => undefined);
  }
}
