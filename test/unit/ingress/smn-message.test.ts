import { describe, expect, it } from 'vitest';
import { parseSmnMessage, timestampProblem } from '../../../lib/ingress/smn-message.js';

const DELIVERY = {
  type: 'Notification',
  topic_urn: 'urn:smn:cn-north-4:0a1b2c3d4e5f60718293a4b5c6d7e8f9:t',
  message_id: 'd84bd6629ef04513ad2e37bffd6e17cb',
  message: '{"project_id":"p"}',
  subject: 'SMN',
  timestamp: '2026-11-29T10:00:00Z',
  signature: 'c2lnbmF0dXJlLWJ5dGVzLWhlcmU=',
  signature_version: 'v1',
  signing_cert_url: 'https://smn.cn-north-4.myhuaweicloud.com/smn/SMN_cn-north-4_x.pem',
  unsubscribe_url: 'https://console.huaweicloud.com/smn/subscription/unsubscribe?x',
};

describe('an SMN delivery', () => {
  it('is parsed from the fields of the HTTP(S) message format', () => {
    expect(
      parseSmnMessage(DELIVERY, { 'x-smn-message-type': 'Notification', 'x-smn-topic-urn': DELIVERY.topic_urn }),
    ).toMatchObject({
      ok: true,
      value: {
        type: 'Notification',
        messageId: DELIVERY.message_id,
        topicUrn: DELIVERY.topic_urn,
        subject: 'SMN',
        subscribeUrl: undefined,
      },
    });
  });

  it.each([
    [{ type: 'Publish' }, {}, /^body\.type: /],
    [{ signature_version: 'v2' }, {}, 'body.signature_version: must be v1'],
    [{ signature: 'not base64!' }, {}, 'body.signature: must be base64'],
    [{ timestamp: '15 Aug 2016' }, {}, /^body\.timestamp: must be an ISO 8601 UTC time/],
    [{ type: 'SubscriptionConfirmation' }, {}, 'body.subscribe_url: required for a SubscriptionConfirmation'],
    [{}, { 'x-smn-topic-urn': 'urn:smn:cn-north-4:0a1b:other' }, 'header x-smn-topic-urn does not match the body'],
    [{}, { 'x-smn-message-type': 'SubscriptionConfirmation' }, 'header x-smn-message-type does not match the body'],
  ])('is refused when %o (headers %o)', (change, headers, reason) => {
    const parsed = parseSmnMessage({ ...DELIVERY, ...change }, headers);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(reason);
  });

  it('is on time from SMN_MAX_AGE_SECONDS ago to SMN_CLOCK_SKEW_SECONDS ahead', () => {
    const now = Date.parse('2026-11-29T10:00:00Z');
    expect(timestampProblem('2026-11-28T10:00:00Z', now, 86_400, 300)).toBeUndefined();
    expect(timestampProblem('2026-11-28T09:59:59Z', now, 86_400, 300)).toMatch(
      /older than SMN_MAX_AGE_SECONDS \(86400\)/,
    );
    expect(timestampProblem('2026-11-29T10:05:00Z', now, 86_400, 300)).toBeUndefined();
    expect(timestampProblem('2026-11-29T10:05:01Z', now, 86_400, 300)).toMatch(/in the future/);
  });
});
