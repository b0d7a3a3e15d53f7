/**
 * One SMN delivery: shape, trusted topic, timestamp, certificate host,
 * signature, then by type: a notification's `message` goes on the queue, a
 * subscription confirmation is confirmed, an unsubscribe confirmation is noted.
 * Cheap checks come first, so an untrusted delivery costs no download.
 */

import type { QueueSender } from '../platform/queue-sender.js';
import { badRequest, forbidden, type IngressAnswer, unavailable } from './answers.js';
import type { CertificateCache } from './cert-cache.js';
import { attributes, enqueueAll } from './enqueue.js';
import { urlProblem } from './host-rules.js';
import type { IngressConfig } from './ingress-config.js';
import { parseSmnMessage, timestampProblem } from './smn-message.js';
import { signatureProblem } from './smn-signature.js';

/** What handling an SMN delivery needs: the configuration, the certificate cache, the queue and a clock. */
export interface SmnDeps {
  readonly config: IngressConfig;
  readonly certificates: CertificateCache;
  readonly sender: QueueSender;
  readonly now: () => number;
  /** Injected for tests; the global fetch otherwise. */
  readonly fetch?: typeof fetch;
}

/** How an SMN delivery was answered, and the ids the request's log line may carry. */
export interface SmnOutcome {
  readonly answer: IngressAnswer;
  /** What the log line may say about the delivery: ids only, never the message or the signature. */
  readonly facts: { readonly smnType?: string; readonly topicUrn?: string; readonly smnMessageId?: string };
}

/**
 * Checks one parsed SMN delivery and acts on it by type; a delivery that fails a check is answered with a 4xx or 5xx
 * status and the reason, never thrown.
 */
export async function handleSmnDelivery(
  document: Record<string, unknown>,
  headers: Readonly<Record<string, string | undefined>>,
  deps: SmnDeps,
): Promise<SmnOutcome> {
  const parsed = parseSmnMessage(document, headers);
  if (!parsed.ok) return { answer: badRequest(parsed.reason), facts: {} };
  const m = parsed.value;
  const facts = { smnType: m.type, topicUrn: m.topicUrn, smnMessageId: m.messageId };
  const answer = (value: IngressAnswer): SmnOutcome => ({ answer: value, facts });

  if (!deps.config.trustedTopicUrns.has(m.topicUrn))
    return answer(forbidden(`topic ${m.topicUrn} is not in TRUSTED_TOPIC_URNS`));
  const stale = timestampProblem(m.timestamp, deps.now(), deps.config.maxAgeSeconds, deps.config.clockSkewSeconds);
  if (stale) return answer(badRequest(stale));
  const certificate = await deps.certificates.get(m.signingCertUrl);
  if (!certificate.ok)
    return answer(certificate.kind === 'untrusted' ? forbidden(certificate.reason) : unavailable(certificate.reason));
  const bad = signatureProblem(m, certificate.certificate, deps.now());
  if (bad) return answer(forbidden(bad));

  switch (m.type) {
    case 'Notification':
      return answer(
        await enqueueAll(deps.sender, [
          {
            body: m.message,
            attributes: attributes({ ingress: 'smn', topic_urn: m.topicUrn, smn_message_id: m.messageId }),
          },
        ]),
      );
    case 'SubscriptionConfirmation':
      return answer(await confirm(m.subscribeUrl!, deps));
    case 'UnsubscribeConfirmation':
      return answer({ kind: 'acknowledged', status: 200, reason: 'unsubscribe confirmation noted; nothing enqueued' });
  }
}

/** SMN's guide: a subscription is confirmed by a GET of subscribe_url (docs/ingress.md, "SMN deliveries"). */
async function confirm(subscribeUrl: string, deps: SmnDeps): Promise<IngressAnswer> {
  const problem = urlProblem('subscribe_url', subscribeUrl, deps.config.confirmHosts);
  if (problem) return forbidden(`${problem} (SMN_CONFIRM_HOSTS)`);
  try {
    // redirect: 'manual': a redirect's target was never vetted, so it is not followed.
    const response = await (deps.fetch ?? fetch)(subscribeUrl, {
      method: 'GET',
      redirect: 'manual',
      signal: AbortSignal.timeout(deps.config.fetchTimeoutMs),
    });
    await response.body?.cancel();
    if (response.status >= 400)
      return unavailable(`subscribe_url answered ${response.status}; the subscription is not confirmed`, 502);
    return { kind: 'confirmed', status: 200 };
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    return unavailable(
      `subscribe_url could not be reached (${e.cause?.code ?? e.name}); the subscription is not confirmed`,
      502,
    );
  }
}
