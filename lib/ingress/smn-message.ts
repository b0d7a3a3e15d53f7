/**
 * An SMN HTTP(S) delivery, parsed and checked for shape only (authenticity is
 * smn-signature.ts's job). Format: SMN user guide, "HTTP(S) message format"
 * (https://support.huaweicloud.com/intl/en-us/usermanual-smn/smn_ug_a9002.html),
 * summarised in docs/ingress.md, "SMN deliveries".
 */

import * as v from '../platform/valibot.js';

/** The delivery types SMN sends (its `type` field). */
export const SMN_TYPES = ['SubscriptionConfirmation', 'Notification', 'UnsubscribeConfirmation'] as const;
/** One of SMN_TYPES. */
export type SmnType = (typeof SMN_TYPES)[number];

/** An SMN delivery's fields, in camelCase, checked for shape but not yet for authenticity. */
export interface SmnMessage {
  readonly type: SmnType;
  readonly message: string;
  readonly messageId: string;
  readonly topicUrn: string;
  /** Only notifications have one; an empty subject is left out of the string to sign. */
  readonly subject: string | undefined;
  readonly timestamp: string;
  readonly signature: string;
  readonly signatureVersion: string;
  readonly signingCertUrl: string;
  /** Confirmations (and unsubscribe confirmations, which offer a resubscribe link) carry it; it is signed. */
  readonly subscribeUrl: string | undefined;
}

const text = v.pipe(v.string(), v.minLength(1), v.maxLength(2048));
const matching = (pattern: RegExp, message: string) => v.pipe(v.string(), v.regex(pattern, message));
const body = v.object({
  type: v.picklist(SMN_TYPES),
  message: v.string(),
  message_id: matching(/^[A-Za-z0-9_-]{1,128}$/, 'must be letters, digits, "_" or "-" (1-128)'),
  topic_urn: text,
  subject: v.nullish(v.pipe(v.string(), v.maxLength(2048))),
  timestamp: matching(
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/,
    'must be an ISO 8601 UTC time like 2016-08-15T07:29:16Z',
  ),
  signature: matching(/^[A-Za-z0-9+/]{16,2048}={0,2}$/, 'must be base64'),
  // The guide's text says "V1" and its samples "v1".
  signature_version: matching(/^[vV]1$/, 'must be v1'),
  signing_cert_url: text,
  subscribe_url: v.nullish(text),
});

/** A parsed value, or the reason it could not be parsed (safe to log: it never quotes the body). */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** Why JSON.parse failed, by position only: its message can quote the body, which must not reach the logs. */
export function jsonProblem(error: unknown): string {
  const position = /at position (\d+)/.exec((error as Error).message)?.[1];
  return position === undefined ? 'body is not valid JSON' : `body is not valid JSON (at position ${position})`;
}

/** A JSON object, or why not. */
export function parseJsonObject(raw: string): Parsed<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    return { ok: false, reason: jsonProblem(error) };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, reason: 'body must be a JSON object' };
  return { ok: true, value: value as Record<string, unknown> };
}

/**
 * Checks the body's fields and that the X-SMN headers, when present, agree with
 * the signed body (the headers are not signed, so the body is what counts).
 */
export function parseSmnMessage(
  document: Record<string, unknown>,
  headers: Readonly<Record<string, string | undefined>>,
): Parsed<SmnMessage> {
  const parsed = v.safeParse(body, document);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    return { ok: false, reason: `body.${v.issuePath(issue).join('.') || '(root)'}: ${issue.message}` };
  }
  const b = parsed.output;
  const mismatch = [
    ['x-smn-message-type', b.type],
    ['x-smn-message-id', b.message_id],
    ['x-smn-topic-urn', b.topic_urn],
  ].find(([name, value]) => headers[name!] !== undefined && headers[name!] !== value);
  if (mismatch) return { ok: false, reason: `header ${mismatch[0]} does not match the body` };
  if (b.type === 'SubscriptionConfirmation' && !b.subscribe_url)
    return { ok: false, reason: 'body.subscribe_url: required for a SubscriptionConfirmation' };
  return {
    ok: true,
    value: {
      type: b.type,
      message: b.message,
      messageId: b.message_id,
      topicUrn: b.topic_urn,
      subject: b.subject ?? undefined,
      timestamp: b.timestamp,
      signature: b.signature,
      signatureVersion: b.signature_version,
      signingCertUrl: b.signing_cert_url,
      subscribeUrl: b.subscribe_url ?? undefined,
    },
  };
}

/**
 * Why the timestamp is outside [now - maxAge, now + skew], or undefined. SMN keeps the first send's time on retries.
 */
export function timestampProblem(
  timestamp: string,
  nowMs: number,
  maxAgeSeconds: number,
  clockSkewSeconds: number,
): string | undefined {
  const at = Date.parse(timestamp);
  if (Number.isNaN(at)) return 'body.timestamp: not a valid time';
  if (at < nowMs - maxAgeSeconds * 1000)
    return `body.timestamp: ${timestamp} is older than SMN_MAX_AGE_SECONDS (${maxAgeSeconds})`;
  if (at > nowMs + clockSkewSeconds * 1000)
    return `body.timestamp: ${timestamp} is in the future beyond SMN_CLOCK_SKEW_SECONDS (${clockSkewSeconds})`;
  return undefined;
}
