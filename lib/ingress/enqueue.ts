import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import { textAttribute, type OutgoingMessage, type QueueSender } from '../queue-sender.js';
import { badRequest, unavailable, type IngressAnswer } from './answers.js';

/**
 * Puts what a producer sent onto the failure queue, one message per event, as
 * it came: the queue function normalises it or dead-letters it with the reason
 * (lib/normalise.ts), so nothing a producer sent is silently dropped here.
 */

/** SQS's message size limit (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html). */
export const MAX_SQS_MESSAGE_BYTES = 256 * 1024;

// The characters SQS accepts in a body (same page): #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF.
const OUTSIDE_SQS_CHARACTERS = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export interface Outgoing {
  readonly body: string;
  readonly attributes: Record<string, MessageAttributeValue>;
}

/** Attribute values are strings of at most 256 characters here; longer ones are cut (they are hints, the body is the evidence). */
export function attributes(values: Record<string, string | undefined>): Record<string, MessageAttributeValue> {
  const result: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(values)) if (value) result[name] = textAttribute(value.slice(0, 256));
  return result;
}

/** Why SQS would refuse this body, or undefined. Checked first, so a bad body is a 400 and not a 5xx SMN retries forever. */
export function bodyProblem(what: string, body: string): string | undefined {
  if (body.length === 0) return `${what} is empty`;
  if (Buffer.byteLength(body, 'utf8') > MAX_SQS_MESSAGE_BYTES) return `${what} is larger than 256 KB (the SQS limit)`;
  if (OUTSIDE_SQS_CHARACTERS.test(body)) return `${what} contains characters SQS does not accept (control characters or lone surrogates)`;
  return undefined;
}

/** Sends every message or answers 503: a partial send is retried whole by the producer (the ledger makes repeats duplicates). */
export async function enqueueAll(sender: QueueSender, messages: readonly Outgoing[]): Promise<IngressAnswer> {
  for (const [index, message] of messages.entries()) {
    const problem = bodyProblem(messages.length > 1 ? `event ${index}` : 'message', message.body);
    if (problem) return badRequest(problem);
  }
  const outgoing: OutgoingMessage[] = messages.map((message, index) => ({ key: String(index), body: message.body, attributes: message.attributes }));
  const rejected = await sender.sendAll(outgoing);
  if (rejected.size > 0) {
    const [first] = rejected.values();
    return unavailable(`the failure queue accepted ${messages.length - rejected.size} of ${messages.length} messages (${first}); send again`);
  }
  return { kind: 'enqueued', status: 200, count: messages.length };
}
