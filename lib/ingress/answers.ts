/**
 * What the ingress answers, as a classified value. SMN retries a delivery only
 * when the endpoint answers 5xx (docs/ingress.md, "Delivery and retries"), so a refusal is
 * a 4xx (never retried: the input will not get better) and a failure on our
 * side (certificate host unreachable, queue refused the send) is a 5xx, which
 * SMN and EventGrid retry.
 */
export type IngressAnswer =
  | { readonly kind: 'enqueued'; readonly status: 200; readonly count: number }
  | { readonly kind: 'confirmed'; readonly status: 200 }
  | { readonly kind: 'acknowledged'; readonly status: 200; readonly reason: string }
  | { readonly kind: 'refused'; readonly status: 400 | 403 | 405; readonly reason: string }
  | { readonly kind: 'unavailable'; readonly status: 502 | 503; readonly reason: string };

/** The input is malformed: bad JSON, too big, missing fields, stale timestamp. */
export const badRequest = (reason: string): IngressAnswer => ({ kind: 'refused', status: 400, reason });
/** The input is not authentic or not trusted: signature, topic, certificate host, token. */
export const forbidden = (reason: string): IngressAnswer => ({ kind: 'refused', status: 403, reason });
/** Something we depend on failed; the sender should retry. */
export const unavailable = (reason: string, status: 502 | 503 = 503): IngressAnswer => ({
  kind: 'unavailable',
  status,
  reason,
});

/** The HTTP body: the reason, never an echo of the request. */
export function answerBody(answer: IngressAnswer): string {
  switch (answer.kind) {
    case 'enqueued':
      return JSON.stringify({ ok: true, enqueued: answer.count });
    case 'confirmed':
      return JSON.stringify({ ok: true, confirmed: true });
    case 'acknowledged':
      return JSON.stringify({ ok: true, note: answer.reason });
    default:
      return JSON.stringify({ ok: false, reason: answer.reason });
  }
}
