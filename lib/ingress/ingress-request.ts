/**
 * One request to the Function URL (auth NONE: SMN cannot sign AWS requests,
 * so this is the only gate). A request with X-SMN-MESSAGE-TYPE is an SMN
 * delivery, verified by its signature; anything else must present the bearer
 * token. One log line per request: ids, status and reason, never the body,
 * a header value or the token.
 */

import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { countIngress, logger, reportConfigurationError } from '../platform/observability.js';
import type { QueueSender } from '../platform/queue-sender.js';
import { answerBody, badRequest, forbidden, type IngressAnswer, unavailable } from './answers.js';
import type { CertificateCache } from './cert-cache.js';
import { attributes, enqueueAll, MAX_SQS_MESSAGE_BYTES } from './enqueue.js';
import type { IngressConfig } from './ingress-config.js';
import { handleSmnDelivery } from './smn-delivery.js';
import { parseJsonObject } from './smn-message.js';
import { type TokenSource, TokenUnavailableError } from './token-source.js';
import { parseWebhookEvents, presentedToken, sameToken } from './webhook.js';

/**
 * What the ingress needs: its configuration, the certificate cache, the queue, the webhook token (if any) and a clock.
 */
export interface IngressDeps {
  readonly config: IngressConfig;
  readonly certificates: CertificateCache;
  readonly sender: QueueSender;
  /** Undefined when INGRESS_TOKEN_SECRET_ID is not set: webhooks are then refused. */
  readonly tokens: TokenSource | undefined;
  readonly now: () => number;
  readonly fetch?: typeof fetch;
}

type Facts = Record<string, string | number | undefined>;

function lowerCaseHeaders(headers: LambdaFunctionURLEvent['headers']): Record<string, string | undefined> {
  const result: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers ?? {})) result[name.toLowerCase()] = value;
  return result;
}

async function checkToken(
  headers: Record<string, string | undefined>,
  deps: IngressDeps,
): Promise<IngressAnswer | undefined> {
  const header = deps.config.tokenHeader;
  if (!deps.tokens)
    return forbidden(
      'webhook deliveries are not enabled (INGRESS_TOKEN_SECRET_ID is not set), and this is not an SMN delivery (no X-SMN-MESSAGE-TYPE header)',
    );
  const presented = presentedToken(headers, header);
  if (!presented) return forbidden(`missing bearer token in the ${header} header`);
  try {
    if (sameToken(presented, await deps.tokens.current())) return undefined;
    const reread = await deps.tokens.reread();
    if (reread !== undefined && sameToken(presented, reread)) return undefined;
  } catch (error) {
    if (error instanceof TokenUnavailableError) {
      reportConfigurationError(
        'webhook token unavailable: webhook deliveries are answered 503 until it can be read',
        error,
      );
      return unavailable(`the webhook token cannot be checked now: ${error.message}`);
    }
    throw error;
  }
  return forbidden(`wrong bearer token in the ${header} header`);
}

async function handleWebhook(
  body: string,
  headers: Record<string, string | undefined>,
  deps: IngressDeps,
): Promise<{ answer: IngressAnswer; facts: Facts }> {
  const denied = await checkToken(headers, deps);
  if (denied) return { answer: denied, facts: {} };
  const events = parseWebhookEvents(body, headers);
  if (!events.ok) return { answer: badRequest(events.reason), facts: {} };
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const messages = events.value.map((event) => ({
    body: JSON.stringify(event),
    attributes: attributes({
      ingress: 'webhook',
      event_id: text(event['id']),
      event_type: text(event['type']),
      event_source: text(event['source']),
    }),
  }));
  return { answer: await enqueueAll(deps.sender, messages), facts: { events: messages.length } };
}

async function route(
  event: LambdaFunctionURLEvent,
  deps: IngressDeps,
): Promise<{ answer: IngressAnswer; facts: Facts }> {
  if (event.requestContext?.http?.method !== 'POST')
    return { answer: { kind: 'refused', status: 405, reason: 'only POST is accepted' }, facts: {} };
  const bytes = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
  if (bytes.byteLength === 0) return { answer: badRequest('body is empty'), facts: {} };
  if (bytes.byteLength > MAX_SQS_MESSAGE_BYTES)
    return { answer: badRequest(`body is ${bytes.byteLength} bytes, more than 256 KB (the SQS limit)`), facts: {} };
  const body = bytes.toString('utf8');
  const headers = lowerCaseHeaders(event.headers);
  if (headers['x-smn-message-type'] === undefined) {
    const webhook = await handleWebhook(body, headers, deps);
    return { answer: webhook.answer, facts: { route: 'webhook', ...webhook.facts } };
  }
  const document = parseJsonObject(body);
  if (!document.ok) return { answer: badRequest(document.reason), facts: { route: 'smn' } };
  const outcome = await handleSmnDelivery(document.value, headers, deps);
  return { answer: outcome.answer, facts: { route: 'smn', ...outcome.facts } };
}

/**
 * Answers one Function URL request: an SMN delivery or a webhook, routed by X-SMN-MESSAGE-TYPE, and logs one line about
 * it. An unexpected error is answered 500 (the sender should send again), never thrown.
 */
export async function handleIngressRequest(
  event: LambdaFunctionURLEvent,
  deps: IngressDeps,
): Promise<LambdaFunctionURLResult> {
  let result: { answer: IngressAnswer; facts: Facts };
  try {
    result = await route(event, deps);
  } catch (error) {
    logger.error('ingress', { outcome: 'error', error: (error as Error).name });
    countIngress('unavailable');
    return {
      statusCode: 500,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ok: false, reason: 'internal error; send again' }),
    };
  }
  const { answer, facts } = result;
  const line = {
    outcome: answer.kind,
    status: answer.status,
    reason: 'reason' in answer ? answer.reason : undefined,
    enqueued: answer.kind === 'enqueued' ? answer.count : undefined,
    ...facts,
  };
  if (answer.status < 400) logger.info('ingress', line);
  else logger.warn('ingress', line);
  if (answer.kind === 'enqueued') countIngress('enqueued', answer.count);
  else if (answer.kind === 'refused' || answer.kind === 'unavailable') countIngress(answer.kind);
  return { statusCode: answer.status, headers: { 'content-type': 'application/json' }, body: answerBody(answer) };
}
