/**
 * SMN message signatures, pure: no I/O, the certificate is passed in.
 *
 * The rule (SMN user guide, "Message signature verification",
 * https://support.huaweicloud.com/intl/en-us/usermanual-smn/smn_ug_a9003.html, and its
 * sample code, https://support.huaweicloud.com/intl/en-us/usermanual-smn/smn_ug_a9004.html):
 * take the type's keys in alphabetical order and write each as `key\nvalue\n`;
 * - Notification: message, message_id, subject (left out when empty), timestamp, topic_urn, type
 * - SubscriptionConfirmation and UnsubscribeConfirmation: message, message_id, subscribe_url, timestamp, topic_urn,
 * type
 * then verify the base64 `signature` over the UTF-8 bytes with the signing
 * certificate's public key and the certificate's own signature algorithm.
 * Summarised in docs/ingress.md, "Signature".
 */

import { verify, type X509Certificate } from 'node:crypto';
import { signatureAlgorithmOf } from './certificate-algorithm.js';
import type { SmnMessage } from './smn-message.js';

/**
 * The string SMN signs for a delivery: the type's keys in alphabetical order, each as `key\nvalue\n` (an empty subject
 * left out).
 */
export function stringToSign(m: SmnMessage): string {
  const fields: Array<[string, string | undefined]> =
    m.type === 'Notification'
      ? [
          ['message', m.message],
          ['message_id', m.messageId],
          ['subject', m.subject ? m.subject : undefined],
          ['timestamp', m.timestamp],
          ['topic_urn', m.topicUrn],
          ['type', m.type],
        ]
      : [
          ['message', m.message],
          ['message_id', m.messageId],
          ['subscribe_url', m.subscribeUrl ?? ''],
          ['timestamp', m.timestamp],
          ['topic_urn', m.topicUrn],
          ['type', m.type],
        ];
  return fields
    .filter((field): field is [string, string] => field[1] !== undefined)
    .map(([key, value]) => `${key}\n${value}\n`)
    .join('');
}

/** Why the message's signature does not hold, or undefined when it does. */
export function signatureProblem(m: SmnMessage, certificate: X509Certificate, nowMs: number): string | undefined {
  if (nowMs < certificate.validFromDate.getTime() || nowMs > certificate.validToDate.getTime()) {
    return `the signing certificate is not valid now (valid ${certificate.validFrom} to ${certificate.validTo})`;
  }
  const algorithm = signatureAlgorithmOf(certificate.raw);
  if (typeof algorithm === 'string') return algorithm;
  const key = certificate.publicKey;
  if (key.asymmetricKeyType !== algorithm.keyType) {
    return `the signing certificate's key is ${key.asymmetricKeyType ?? 'unknown'}, its algorithm ${algorithm.name} needs ${algorithm.keyType}`;
  }
  const signature = Buffer.from(m.signature, 'base64');
  let valid: boolean;
  try {
    valid = verify(algorithm.digest, Buffer.from(stringToSign(m), 'utf8'), key, signature);
  } catch {
    valid = false;
  }
  return valid ? undefined : 'signature does not match the message';
}
