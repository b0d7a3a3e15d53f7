import { createSign, X509Certificate } from 'node:crypto';
import selfsigned from 'selfsigned';
import { beforeAll, describe, expect, it } from 'vitest';
import { signatureAlgorithmOf, signatureAlgorithmOid } from '../../../lib/ingress/certificate-algorithm.js';
import type { SmnMessage } from '../../../lib/ingress/smn-message.js';
import { signatureProblem, stringToSign } from '../../../lib/ingress/smn-signature.js';

/** The notification example of SMN's "Message signature verification" page (smn_ug_a9003), field for field. */
const GUIDE_NOTIFICATION: SmnMessage = {
  type: 'Notification',
  message: 'My test message',
  messageId: '88c726942175432bac921eafd0036163',
  subject: 'demo',
  timestamp: '2016-08-15T07:29:16Z',
  topicUrn: 'urn:smn:regionId:74dc9e44d0cc4573adfce91cdfdd3ba9:xxxx',
  signature: '',
  signatureVersion: 'v1',
  signingCertUrl: 'https://smn.cn-north-4.myhuaweicloud.com/smn/SMN_cn-north-4_x.pem',
  subscribeUrl: undefined,
};

type Pems = Awaited<ReturnType<typeof selfsigned.generate>>;
const certificate = (options: Parameters<typeof selfsigned.generate>[1]) =>
  selfsigned.generate([{ name: 'commonName', value: 'smn' }], {
    keySize: 2048,
    notBeforeDate: new Date(Date.now() - 86_400_000),
    ...options,
  });
let rsa: Pems;
let ec: Pems;
let sha1: Pems;
let expired: Pems;

beforeAll(async () => {
  [rsa, ec, sha1, expired] = await Promise.all([
    certificate({ algorithm: 'sha256' }),
    certificate({ keyType: 'ec', curve: 'P-256', algorithm: 'sha256' }),
    certificate({ algorithm: 'sha1' }),
    certificate({ algorithm: 'sha256', notBeforeDate: new Date('2020-01-01'), notAfterDate: new Date('2021-01-01') }),
  ]);
});

const signed = (m: SmnMessage, pems: Pems): SmnMessage => ({
  ...m,
  signature: createSign('sha256').update(stringToSign(m)).sign(pems.private, 'base64'),
});
const NOW = Date.now();

describe('the string to sign', () => {
  it("is the guide's notification example: each key then its value, one per line, keys in alphabetical order", () => {
    expect(stringToSign(GUIDE_NOTIFICATION)).toBe(
      'message\nMy test message\nmessage_id\n88c726942175432bac921eafd0036163\nsubject\ndemo\ntimestamp\n2016-08-15T07:29:16Z\n' +
        'topic_urn\nurn:smn:regionId:74dc9e44d0cc4573adfce91cdfdd3ba9:xxxx\ntype\nNotification\n',
    );
  });

  it('leaves subject out of a notification when it is empty', () => {
    expect(stringToSign({ ...GUIDE_NOTIFICATION, subject: '' })).not.toContain('subject');
    expect(stringToSign({ ...GUIDE_NOTIFICATION, subject: undefined })).toMatch(
      /^message\nMy test message\nmessage_id\n\w+\ntimestamp\n/,
    );
  });

  it('signs subscribe_url, not subject, in confirmations and unsubscribe confirmations', () => {
    for (const type of ['SubscriptionConfirmation', 'UnsubscribeConfirmation'] as const) {
      const text = stringToSign({
        ...GUIDE_NOTIFICATION,
        type,
        subscribeUrl: 'https://console.huaweicloud.com/smn/subscription/confirm?token=t',
      });
      expect(text.split('\n').filter((_, i) => i % 2 === 0)).toEqual([
        'message',
        'message_id',
        'subscribe_url',
        'timestamp',
        'topic_urn',
        'type',
        '',
      ]);
    }
  });
});

describe('signature verification', () => {
  it('accepts a message signed with the certificate key (SHA-256 with RSA) and refuses any changed field', () => {
    const good = signed(GUIDE_NOTIFICATION, rsa);
    const certificate = new X509Certificate(rsa.cert);
    expect(signatureProblem(good, certificate, NOW)).toBeUndefined();
    for (const change of [
      { message: 'My test messagE' },
      { subject: 'other' },
      { timestamp: '2016-08-15T07:29:17Z' },
      { messageId: 'x' },
      { topicUrn: 'urn:smn:x:y:z' },
    ]) {
      expect(signatureProblem({ ...good, ...change }, certificate, NOW)).toBe('signature does not match the message');
    }
  });

  it('uses the certificate own algorithm: ECDSA with SHA-256 works too', () => {
    expect(signatureAlgorithmOid(new X509Certificate(ec.cert).raw)).toBe('1.2.840.10045.4.3.2');
    expect(signatureProblem(signed(GUIDE_NOTIFICATION, ec), new X509Certificate(ec.cert), NOW)).toBeUndefined();
  });

  it('refuses a signature by another key, a SHA-1 certificate and an expired certificate', () => {
    const byOther = signed(GUIDE_NOTIFICATION, ec);
    expect(signatureProblem(byOther, new X509Certificate(rsa.cert), NOW)).toBe('signature does not match the message');
    expect(signatureAlgorithmOf(new X509Certificate(sha1.cert).raw)).toMatch(
      /1\.2\.840\.113549\.1\.1\.5 is not accepted/,
    );
    expect(signatureProblem(signed(GUIDE_NOTIFICATION, sha1), new X509Certificate(sha1.cert), NOW)).toMatch(
      /not accepted/,
    );
    expect(signatureProblem(signed(GUIDE_NOTIFICATION, expired), new X509Certificate(expired.cert), NOW)).toMatch(
      /not valid now/,
    );
  });

  it('reads the algorithm of a certificate whose DER uses long lengths (RSA 2048) as sha256WithRSAEncryption', () => {
    expect(signatureAlgorithmOf(new X509Certificate(rsa.cert).raw)).toMatchObject({
      name: 'sha256WithRSAEncryption',
      digest: 'sha256',
      keyType: 'rsa',
    });
    expect(signatureAlgorithmOf(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]))).toMatch(/could not be read/);
  });
});
