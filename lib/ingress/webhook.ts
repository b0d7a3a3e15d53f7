/**
 * EventGrid (and any other webhook) deliveries: a bearer token in a configured
 * header, and a body that is one CloudEvent or a JSON array of them. EG sends
 * at most 20 events per request (docs/ingress.md, "EventGrid and other webhooks").
 * What an event says is the queue function's business: each one goes on the
 * queue as it came, and a non-failure is dead-lettered there with the reason.
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import { jsonProblem, type Parsed } from './smn-message.js';

/** EventGrid's limit on events per request; a larger array is refused. */
export const MAX_EVENTS_PER_REQUEST = 20;

/** Compares in constant time: both sides are hashed first, so neither the length nor a prefix leaks. */
export function sameToken(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b) && presented.length === expected.length;
}

/**
 * The token a request presents: `Bearer <token>` in Authorization; in a custom header, the value itself (or Bearer
 * <token>).
 */
export function presentedToken(
  headers: Readonly<Record<string, string | undefined>>,
  header: string,
): string | undefined {
  const raw = headers[header]?.trim();
  if (!raw) return undefined;
  const bearer = /^bearer\s+(\S+)$/i.exec(raw);
  if (bearer) return bearer[1];
  return header === 'authorization' ? undefined : raw;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A CloudEvent in HTTP binary mode carries its attributes in ce-* headers and
 * its data as the body (CloudEvents HTTP binding §3.1); rebuilt here in
 * structured form so the queue sees one shape.
 */
function fromBinaryMode(headers: Readonly<Record<string, string | undefined>>, data: unknown): Json {
  const event: Json = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith('ce-') && value !== undefined) event[name.slice(3)] = value;
  }
  event['datacontenttype'] = headers['content-type'] ?? 'application/json';
  event['data'] = data;
  return event;
}

/** The events of a webhook body, each to be one queue message. */
export function parseWebhookEvents(raw: string, headers: Readonly<Record<string, string | undefined>>): Parsed<Json[]> {
  let document: unknown;
  try {
    document = JSON.parse(raw);
  } catch (error) {
    return { ok: false, reason: jsonProblem(error) };
  }
  if (headers['ce-specversion'] && headers['ce-id']) return { ok: true, value: [fromBinaryMode(headers, document)] };
  // EG's own publishing API wraps a batch as {"events": [...]} (docs/ingress.md); accepted in case its webhook target
  // does too.
  const wrapped =
    isObject(document) && Object.keys(document).length === 1 && Array.isArray(document['events'])
      ? (document['events'] as unknown[])
      : undefined;
  const batch = wrapped ?? document;
  const events = Array.isArray(batch) ? batch : [batch];
  if (events.length === 0) return { ok: false, reason: 'body is an empty batch' };
  if (events.length > MAX_EVENTS_PER_REQUEST)
    return { ok: false, reason: `body has ${events.length} events, at most ${MAX_EVENTS_PER_REQUEST} per request` };
  const notObject = events.findIndex((event) => !isObject(event));
  if (notObject >= 0)
    return {
      ok: false,
      reason: Array.isArray(batch)
        ? `${wrapped ? 'body.events' : 'body'}[${notObject}] must be a JSON object`
        : 'body must be a JSON object or an array of them',
    };
  return { ok: true, value: events as Json[] };
}
