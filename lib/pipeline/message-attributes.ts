/**
 * The queue's message attributes, in one place (docs/ways-in.md,
 * "Re-enqueued messages" and "Dead-letter messages"): the names this service sets on a re-enqueued message and on a
 * dead letter, reading them from Lambda's event shape, and their one time
 * format (ISO 8601; epoch milliseconds, which an earlier version wrote, are
 * still read). The functions and `npm run ops` use these and nothing else.
 */

import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import type { SourceMessage } from '../platform/queue-sender.js';

/** Set on a message this service re-enqueues (replaced on each re-enqueue). */
export const REQUEUE_ATTRIBUTES = {
  /** The attempt the deferral waits to make (the policy's count, for operators). */
  nextAttempt: 'next_attempt',
  firstSeenAt: 'first_seen_at',
  deferredReason: 'deferred_reason',
  originMessageId: 'origin_message_id',
  acceptedTaskId: 'accepted_task_id',
  acceptedRev: 'accepted_rev',
  /**
   * Carried by a re-enqueued copy of a replayed dead letter: the decision it reopens, since its own attributes are
   * dropped.
   */
  replayOf: 'replay_of',
} as const;

/** Set on a dead letter: why it was given up on, and the evidence. */
export const DEAD_LETTER_ATTRIBUTES = {
  reason: 'reason',
  errorCode: 'error_code',
  /** Retries made before it was given up on. */
  attempts: 'attempts',
  sourceMessageId: 'source_message_id',
  decidedAt: 'decided_at',
  firstSeenAt: 'first_seen_at',
  ruleId: 'rule_id',
  /** A body cut to fit: its original size and SHA-256. */
  bodyBytes: 'body_bytes',
  bodySha256: 'body_sha256',
} as const;

/** The names a dead letter carries: a replayed letter's are spent, and a forward of it drops them. */
export const DEAD_LETTER_NAMES: ReadonlySet<string> = new Set(Object.values(DEAD_LETTER_ATTRIBUTES));

type Attributes = Readonly<Record<string, { readonly StringValue?: string | undefined }>>;

/** A time as this service writes it in an attribute. */
export function timeAttribute(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * A time attribute as written now (ISO 8601) or by an earlier version (epoch ms); undefined when absent or unreadable.
 */
export function readTime(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/**
 * When a replayed dead letter was decided (its `decided_at`, or the `replay_of` a deferral of it carried), or undefined
 * when the message is not one.
 */
export function replayedDecision(attributes: Attributes): number | undefined {
  const text = (name: string) => attributes[name]?.StringValue;
  const isLetter =
    text(DEAD_LETTER_ATTRIBUTES.reason) !== undefined && text(DEAD_LETTER_ATTRIBUTES.sourceMessageId) !== undefined;
  // A dead letter's own decision first: a letter decided from a deferred replay also carries the older `replay_of`.
  return isLetter && text(DEAD_LETTER_ATTRIBUTES.decidedAt) !== undefined
    ? readTime(text(DEAD_LETTER_ATTRIBUTES.decidedAt))
    : readTime(text(REQUEUE_ATTRIBUTES.replayOf));
}

/** Lambda's message attributes in the SDK's shape, so a forward carries them on. */
export function attributesOf(record: SQSRecord): Record<string, MessageAttributeValue> {
  const attributes: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(record.messageAttributes ?? {})) {
    if (value.stringValue !== undefined)
      attributes[name] = { DataType: value.dataType, StringValue: value.stringValue };
    else if (value.binaryValue !== undefined)
      attributes[name] = { DataType: value.dataType, BinaryValue: Buffer.from(value.binaryValue, 'base64') };
  }
  return attributes;
}

/**
 * A queue record as the pipeline forwards it: its id, the id of the first message of its line, its body and attributes.
 */
export function sourceOf(record: SQSRecord): SourceMessage {
  const attributes = attributesOf(record);
  const originId = attributes[REQUEUE_ATTRIBUTES.originMessageId]?.StringValue ?? record.messageId;
  return { messageId: record.messageId, originId, body: record.body, attributes };
}

/**
 * When the failure was first seen: carried across re-enqueues and dead letters, else the message's send time, else now.
 */
export function firstSeenAtOf(record: SQSRecord, now: number): number {
  const carried = readTime(record.messageAttributes?.[REQUEUE_ATTRIBUTES.firstSeenAt]?.stringValue);
  if (carried !== undefined) return carried;
  const sent = Number(record.attributes?.SentTimestamp);
  return Number.isFinite(sent) && sent > 0 ? sent : now;
}

/** What a message's attributes say about its history: a replayed dead letter, or an accepted retry to record. */
export function historyOf(attributes: Attributes): {
  readonly replayOf?: number | undefined;
  readonly carried?: { readonly taskId: string; readonly rev: number } | undefined;
} {
  const taskId = attributes[REQUEUE_ATTRIBUTES.acceptedTaskId]?.StringValue;
  const rev = Number(attributes[REQUEUE_ATTRIBUTES.acceptedRev]?.StringValue);
  return {
    replayOf: replayedDecision(attributes),
    carried: taskId && Number.isInteger(rev) ? { taskId, rev } : undefined,
  };
}
