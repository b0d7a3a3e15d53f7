/**
 * What goes to the dead-letter queue: the original body with the reason and
 * the evidence as message attributes, always a message SQS accepts. A body
 * too large to go with them is cut to fit, and the letter says so: its
 * original size in `body_bytes` and its SHA-256 in `body_sha256`.
 */

import { createHash } from 'node:crypto';
import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import {
  MAX_MESSAGE_BYTES,
  messageBytes,
  numberAttribute,
  type OutgoingMessage,
  type SourceMessage,
  textAttribute,
  withOriginalAttributes,
} from '../platform/queue-sender.js';
import { DEAD_LETTER_ATTRIBUTES, timeAttribute } from './message-attributes.js';

/** One failure given up on, with the evidence an operator needs. */
export interface DeadLetter {
  readonly reason: string;
  /** Workspace's error code, the failure's result_code, or ours (INVALID_EVENT, DRY_RUN, …). */
  readonly errorCode: string;
  readonly attempts: number;
  readonly ruleId?: string | undefined;
  readonly firstSeenAt: number;
  readonly decidedAt: number;
}

const MAX_REASON_CHARS = 1000;

/**
 * Our attributes first (reason, error_code, attempts, source_message_id, decided_at, first_seen_at, rule_id), then as
 * many original ones as fit.
 */
export function deadLetterMessage(source: SourceMessage, letter: DeadLetter): OutgoingMessage {
  const names = DEAD_LETTER_ATTRIBUTES;
  const ours: Record<string, MessageAttributeValue> = {
    [names.reason]: textAttribute(letter.reason.slice(0, MAX_REASON_CHARS) || 'unknown'),
    [names.errorCode]: textAttribute(letter.errorCode),
    [names.attempts]: numberAttribute(letter.attempts),
    [names.sourceMessageId]: textAttribute(source.messageId),
    [names.decidedAt]: textAttribute(timeAttribute(letter.decidedAt)),
    [names.firstSeenAt]: textAttribute(timeAttribute(letter.firstSeenAt)),
  };
  if (letter.ruleId) ours[names.ruleId] = textAttribute(letter.ruleId);
  const { body, evidence } = fitted(source.body, ours);
  const attributes = withOriginalAttributes(
    { ...ours, ...evidence },
    source.attributes,
    MAX_MESSAGE_BYTES - Buffer.byteLength(body, 'utf8'),
  );
  return { key: source.messageId, body, attributes };
}

/** The body as it fits beside `ours` in MAX_MESSAGE_BYTES: whole, or its first bytes with its size and digest. */
function fitted(
  body: string,
  ours: Record<string, MessageAttributeValue>,
): { body: string; evidence: Record<string, MessageAttributeValue> } {
  if (messageBytes(body, ours) <= MAX_MESSAGE_BYTES) return { body, evidence: {} };
  const bytes = Buffer.from(body, 'utf8');
  const evidence = {
    [DEAD_LETTER_ATTRIBUTES.bodyBytes]: numberAttribute(bytes.length),
    [DEAD_LETTER_ATTRIBUTES.bodySha256]: textAttribute(createHash('sha256').update(bytes).digest('hex')),
  };
  return { body: utf8Prefix(bytes, MAX_MESSAGE_BYTES - messageBytes('', { ...ours, ...evidence })), evidence };
}

/** The longest prefix of `bytes` of at most `max` bytes that ends on a character boundary, as text. */
function utf8Prefix(bytes: Buffer, max: number): string {
  let end = Math.max(0, Math.min(max, bytes.length));
  // A UTF-8 continuation byte (10xxxxxx) never starts a character: step back to the start of the one it belongs to.
  while (end > 0 && end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}
