import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import { numberAttribute, textAttribute, withOriginalAttributes, type OutgoingMessage, type SourceMessage } from '../platform/queue-sender.js';

/**
 * What goes to the dead-letter queue: the original body, untouched, with the
 * reason and the evidence as message attributes.
 */

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

/** The attributes a dead letter carries (ours); a message that has `reason` and `decided_at` is a replayed dead letter. */
export const DEAD_LETTER_ATTRIBUTES: ReadonlySet<string> = new Set(['reason', 'error_code', 'attempts', 'source_message_id', 'decided_at', 'first_seen_at', 'rule_id']);

/** Carried by a re-enqueued copy of a replayed dead letter: the decision it reopens (epoch ms), since its own attributes are dropped. */
export const REPLAY_OF_ATTRIBUTE = 'replay_of';

/** When a replayed dead letter was decided (its `decided_at`, or the `replay_of` a deferral of it carried), or undefined when the message is not one. */
export function replayedDecision(attributes: Readonly<Record<string, { readonly StringValue?: string | undefined }>>): number | undefined {
  // A dead letter's own decision first: a letter decided from a deferred replay also carries the older `replay_of`.
  const decidedAt = attributes['decided_at']?.StringValue;
  const carried = attributes[REPLAY_OF_ATTRIBUTE]?.StringValue;
  if (decidedAt === undefined || attributes['reason']?.StringValue === undefined || attributes['source_message_id']?.StringValue === undefined) {
    return carried !== undefined && /^\d+$/.test(carried) ? Number(carried) : undefined;
  }
  const at = Date.parse(decidedAt);
  return Number.isFinite(at) ? at : undefined;
}

/** Our attributes first (reason, error_code, attempts, source_message_id, decided_at, first_seen_at, rule_id), then as many original ones as fit. */
export function deadLetterMessage(source: SourceMessage, letter: DeadLetter): OutgoingMessage {
  const attributes: Record<string, MessageAttributeValue> = {
    reason: textAttribute(letter.reason.slice(0, MAX_REASON_CHARS) || 'unknown'),
    error_code: textAttribute(letter.errorCode),
    attempts: numberAttribute(letter.attempts),
    source_message_id: textAttribute(source.messageId),
    decided_at: textAttribute(new Date(letter.decidedAt).toISOString()),
    first_seen_at: textAttribute(new Date(letter.firstSeenAt).toISOString()),
  };
  if (letter.ruleId) attributes['rule_id'] = textAttribute(letter.ruleId);
  return { key: source.messageId, body: source.body, attributes: withOriginalAttributes(attributes, source.attributes) };
}
