/**
 * `npm run ops -- dead-letters` and `replay --reason`: what a dead letter says
 * (pure). Our dead letters carry `reason`, `error_code`, `attempts`, `rule_id`,
 * `decided_at` and `first_seen_at` as message attributes, and `body_bytes` and
 * `body_sha256` when the body was cut to fit (lib/pipeline/dead-letter.ts);
 * a message the queue's redrive policy moved after maxReceiveCount receives has
 * none of them, and says so.
 */

import type { Message } from '@aws-sdk/client-sqs';
import { normaliseBody } from '../lib/events/normalise.js';
import { DEAD_LETTER_ATTRIBUTES, readTime } from '../lib/pipeline/message-attributes.js';
import { renderTable } from './table.js';

export const REDRIVE_REASON = 'no reason attribute: moved by the queue redrive policy after maxReceiveCount receives';

export interface DeadLetterRow {
  readonly message_id: string;
  /** `record#<id>` or `task#<id>` with its project, when the body is a failure event this code can read. */
  readonly failure?:
    | { readonly project_id: string; readonly record_id?: string | undefined; readonly task_id?: string | undefined }
    | undefined;
  readonly reason: string;
  readonly error_code?: string | undefined;
  readonly attempts?: number | undefined;
  readonly rule_id?: string | undefined;
  readonly decided_at?: string | undefined;
  readonly first_seen_at?: string | undefined;
  /** Since decided_at, else since SQS received the message. */
  readonly age_seconds?: number | undefined;
  readonly body: string;
  /** A body too large to go whole: `body` is its beginning; this is the whole one's size and SHA-256. */
  readonly body_cut?: { readonly original_bytes: number; readonly sha256: string } | undefined;
}

const NAMES = DEAD_LETTER_ATTRIBUTES;
const attribute = (message: Message, name: string) => message.MessageAttributes?.[name]?.StringValue;

export function describeDeadLetter(message: Message, now: number): DeadLetterRow {
  const body = message.Body ?? '';
  const parsed = normaliseBody(body, { checkRegion: () => undefined });
  const attempts = Number(attribute(message, NAMES.attempts));
  const decidedAt = attribute(message, NAMES.decidedAt);
  const sentAt = Number(message.Attributes?.SentTimestamp);
  const since = readTime(decidedAt) ?? sentAt;
  return {
    message_id: message.MessageId ?? '',
    failure: parsed.ok
      ? { project_id: parsed.failure.projectId, record_id: parsed.failure.recordId, task_id: parsed.failure.taskId }
      : undefined,
    reason: attribute(message, NAMES.reason) ?? REDRIVE_REASON,
    error_code: attribute(message, NAMES.errorCode),
    attempts: Number.isFinite(attempts) && attribute(message, NAMES.attempts) !== undefined ? attempts : undefined,
    rule_id: attribute(message, NAMES.ruleId),
    decided_at: decidedAt,
    first_seen_at: attribute(message, NAMES.firstSeenAt),
    age_seconds: Number.isFinite(since) ? Math.max(0, Math.round((now - since) / 1000)) : undefined,
    body,
    body_cut: cutBody(message),
  };
}

function cutBody(message: Message): DeadLetterRow['body_cut'] {
  const bytes = Number(attribute(message, NAMES.bodyBytes));
  const sha256 = attribute(message, NAMES.bodySha256);
  return Number.isFinite(bytes) && sha256 !== undefined ? { original_bytes: bytes, sha256 } : undefined;
}

/**
 * Whether a dead letter is one `replay --reason R` should move: R found in its reason, rule id or error code (any
 * case).
 */
export function matchesReason(row: DeadLetterRow, wanted: string | undefined): boolean {
  if (wanted === undefined) return true;
  const needle = wanted.toLowerCase();
  return [row.reason, row.rule_id, row.error_code].some(
    (field) => field !== undefined && field.toLowerCase().includes(needle),
  );
}

/** 90 -> "1m 30s", 7500 -> "2h 5m", 200000 -> "2d 7h". */
export function formatAge(seconds: number | undefined): string {
  if (seconds === undefined) return '';
  const units: Array<[string, number]> = [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ];
  const first = units.findIndex(([, size]) => seconds >= size);
  if (first < 0) return '0s';
  return units
    .slice(first, first + 2)
    .map(
      ([unit, size], i) =>
        `${i === 0 ? Math.floor(seconds / size) : Math.floor((seconds % units[first]![1]) / size)}${unit}`,
    )
    .join(' ');
}

export function failureLabel(row: DeadLetterRow): string {
  if (!row.failure)
    return row.body_cut ? `(body cut: first of ${row.body_cut.original_bytes} bytes)` : '(unreadable body)';
  const id = row.failure.record_id ? `record#${row.failure.record_id}` : `task#${row.failure.task_id ?? '?'}`;
  return `${row.failure.project_id.slice(0, 8)}… ${id}`;
}

export function renderDeadLetters(rows: readonly DeadLetterRow[]): string {
  return renderTable(
    rows.map((row) => ({
      age: formatAge(row.age_seconds),
      failure: failureLabel(row),
      reason: row.reason,
      'error code': row.error_code ?? '',
      attempts: row.attempts === undefined ? '' : String(row.attempts),
      rule: row.rule_id ?? '',
      'message id': row.message_id,
    })),
    ['age', 'failure', 'reason', 'error code', 'attempts', 'rule', 'message id'],
    60,
  );
}
