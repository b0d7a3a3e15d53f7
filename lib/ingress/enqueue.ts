/**
 * Puts what a producer sent onto the failure queue, one message per event, as
 * it came: the queue function normalises it or dead-letters it with the reason
 * (lib/events/normalise.ts), so nothing a producer sent is silently dropped here.
 */

import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import {
  acceptedBySqs,
  messageBytes,
  type OutgoingMessage,
  type QueueSender,
  textAttribute,
} from '../platform/queue-sender.js';
import { badRequest, type IngressAnswer, unavailable } from './answers.js';

/**
 * SQS's message size limit
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
 */
export const MAX_SQS_MESSAGE_BYTES = 256 * 1024;

/** One message to put on the failure queue: its body as it came, and its attributes. */
export interface Outgoing {
  readonly body: string;
  readonly attributes: Record<string, MessageAttributeValue>;
}

/**
 * Attribute values are hints (the body is the evidence): cut to 256 characters, and left out when SQS would
 * refuse their characters, so a producer's odd event id cannot make the whole send fail.
 */
export function attributes(values: Record<string, string | undefined>): Record<string, MessageAttributeValue> {
  const result: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(values)) {
    const text = value?.slice(0, 256);
    if (text && acceptedBySqs(text)) result[name] = textAttribute(text);
  }
  return result;
}

const bytes = (message: Outgoing) => messageBytes(message.body, message.attributes);

/**
 * Why SQS would refuse this body, or undefined. Checked first, so a bad body is a 400 and not a 5xx SMN retries
 * forever.
 */
export function bodyProblem(what: string, body: string): string | undefined {
  if (body.length === 0) return `${what} is empty`;
  if (Buffer.byteLength(body, 'utf8') > MAX_SQS_MESSAGE_BYTES) return `${what} is larger than 256 KB (the SQS limit)`;
  if (!acceptedBySqs(body))
    return `${what} contains characters SQS does not accept (control characters or lone surrogates)`;
  return undefined;
}

/**
 * Sends every message or answers 503: a partial send is retried whole by the producer (the ledger makes repeats
 * duplicates).
 */
export async function enqueueAll(sender: QueueSender, messages: readonly Outgoing[]): Promise<IngressAnswer> {
  for (const [index, message] of messages.entries()) {
    const problem = bodyProblem(messages.length > 1 ? `event ${index}` : 'message', message.body);
    if (problem) return badRequest(problem);
  }
  // SendMessageBatch caps a whole batch at 256 KB too; a send SQS would always refuse must be a 400, not a 503 retried
  // forever.
  for (let i = 0; i < messages.length; i += 10) {
    if (messages.slice(i, i + 10).reduce((sum, message) => sum + bytes(message), 0) > MAX_SQS_MESSAGE_BYTES) {
      return badRequest('the events with their attributes are larger than 256 KB together (the SQS batch limit)');
    }
  }
  const outgoing: OutgoingMessage[] = messages.map((message, index) => ({
    key: String(index),
    body: message.body,
    attributes: message.attributes,
  }));
  const rejected = await sender.sendAll(outgoing);
  if (rejected.size > 0) {
    const [first] = rejected.values();
    return unavailable(
      `the failure queue accepted ${messages.length - rejected.size} of ${messages.length} messages (${first}); send again`,
    );
  }
  return { kind: 'enqueued', status: 200, count: messages.length };
}
