/**
 * A local stand-in for Huawei SMN's HTTPS deliveries. It makes a self-signed
 * certificate for 127.0.0.1, serves it over HTTPS (as SMN serves its signing
 * certificate at signing_cert_url) along with a subscription-confirmation
 * endpoint, and builds deliveries signed as SMN's guide describes
 * (https://support.huaweicloud.com/intl/en-us/usermanual-smn/smn_ug_a9002.html and
 * smn_ug_a9003.html; docs/ingress.md): the type's keys in alphabetical order,
 * `key\nvalue\n` each, SHA-256 with RSA, base64. Its string to sign is written
 * here independently of lib/ingress/smn-signature.ts, so a mistake in one is
 * caught by the other.
 *
 * Its host (127.0.0.1:<port>) is trusted only through SMN_CERT_HOSTS /
 * SMN_CONFIRM_HOSTS, and its certificate only after trustInThisProcess().
 */

import { createSign, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import selfsigned from 'selfsigned';
import { functionUrlEvent, type IngressHandler, invokeFunctionUrl } from './function-url-event.js';

export const LOCAL_TOPIC_URN = 'urn:smn:cn-north-4:0a1b2c3d4e5f60718293a4b5c6d7e8f9:workspace-script-failures';

export type SmnBody = Record<string, string>;

const SIGNED_KEYS: Record<string, string[]> = {
  Notification: ['message', 'message_id', 'subject', 'timestamp', 'topic_urn', 'type'],
  SubscriptionConfirmation: ['message', 'message_id', 'subscribe_url', 'timestamp', 'topic_urn', 'type'],
  UnsubscribeConfirmation: ['message', 'message_id', 'subscribe_url', 'timestamp', 'topic_urn', 'type'],
};

export class SmnStandIn {
  /** Tokens of the confirmation links fetched, in order. */
  readonly confirmed: string[] = [];
  certDownloads = 0;
  private readonly impostorKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

  private constructor(
    private readonly server: Server,
    readonly certificatePem: string,
    private readonly privateKeyPem: string,
    readonly host: string,
  ) {}

  static async start(): Promise<SmnStandIn> {
    const pems = await selfsigned.generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keySize: 2048,
      algorithm: 'sha256',
      // An hour back, so a clock a little behind ours still finds it valid.
      notBeforeDate: new Date(Date.now() - 3_600_000),
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    let standIn: SmnStandIn | undefined;
    const server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      if (req.method === 'GET' && url.pathname.startsWith('/smn/') && url.pathname.endsWith('.pem')) {
        standIn!.certDownloads++;
        res.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(pems.cert);
      } else if (req.method === 'GET' && url.pathname === '/smn/subscription/confirm') {
        standIn!.confirmed.push(url.searchParams.get('token') ?? '');
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"request_id":"local"}');
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve, reject) => server.listen(0, '127.0.0.1', () => resolve()).on('error', reject));
    standIn = new SmnStandIn(server, pems.cert, pems.private, `127.0.0.1:${(server.address() as AddressInfo).port}`);
    return standIn;
  }

  /** Where SMN would serve its signing certificate (SMN's own look: /smn/SMN_<region>_<id>.pem). */
  get certUrl(): string {
    return `https://${this.host}/smn/SMN_cn-north-4_${'0'.repeat(32)}.pem`;
  }

  /** The ingress variables that make this stand-in a trusted SMN host (tests and npm start only). */
  get env(): Record<string, string> {
    return { SMN_CERT_HOSTS: this.host, SMN_CONFIRM_HOSTS: this.host };
  }

  /**
   * Adds the self-signed certificate to this process's default TLS trust (node ≥ 22.19), so plain fetch() verifies it.
   */
  trustInThisProcess(): void {
    setDefaultCACertificates([...getCACertificates('default'), this.certificatePem]);
  }

  notification(
    message: string,
    options: { subject?: string; topicUrn?: string; messageId?: string; timestamp?: string; certUrl?: string } = {},
  ): SmnBody {
    const topic = options.topicUrn ?? LOCAL_TOPIC_URN;
    return this.sign({
      type: 'Notification',
      topic_urn: topic,
      message_id: options.messageId ?? randomUUID().replace(/-/g, ''),
      message,
      subject: options.subject ?? 'workspace script failed',
      timestamp: options.timestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      signature_version: 'v1',
      signing_cert_url: options.certUrl ?? this.certUrl,
      unsubscribe_url: `https://${this.host}/smn/subscription/unsubscribe?subscription_urn=${topic}:local`,
    });
  }

  subscriptionConfirmation(options: { topicUrn?: string; subscribeUrl?: string } = {}): SmnBody {
    const topic = options.topicUrn ?? LOCAL_TOPIC_URN;
    return this.sign({
      type: 'SubscriptionConfirmation',
      topic_urn: topic,
      message_id: randomUUID().replace(/-/g, ''),
      message: `You are invited to subscribe to topic: ${topic}. To confirm this subscription, please visit the subscribe_url included in this message.`,
      subscribe_url:
        options.subscribeUrl ??
        `https://${this.host}/smn/subscription/confirm?token=${randomBytes(16).toString('hex')}&topic_urn=${topic}`,
      timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      signature_version: 'v1',
      signing_cert_url: this.certUrl,
    });
  }

  /** Signs (or signs again, after a test changed a field) with the stand-in's key, or an impostor's. */
  sign(body: SmnBody, key: 'smn' | 'impostor' = 'smn'): SmnBody {
    const text = SIGNED_KEYS[body['type']!]!.filter((k) => !(k === 'subject' && !body[k]))
      .sort()
      .map((k) => `${k}\n${body[k] ?? ''}\n`)
      .join('');
    const signature = createSign('sha256')
      .update(text, 'utf8')
      .sign(key === 'smn' ? this.privateKeyPem : this.impostorKey, 'base64');
    return { ...body, signature };
  }

  /** The headers SMN sends with a delivery (smn_ug_a9002). */
  static headers(body: SmnBody): Record<string, string> {
    return {
      'X-SMN-MESSAGE-TYPE': body['type']!,
      'X-SMN-MESSAGE-ID': body['message_id']!,
      'X-SMN-TOPIC-URN': body['topic_urn']!,
      'User-Agent': 'SMN-stand-in',
    };
  }

  /**
   * Posts a delivery to the ingress handler as SMN would reach it through the Function URL: a POST with the X-SMN
   * headers.
   */
  deliver(handler: IngressHandler, delivery: SmnBody): Promise<{ status: number; answer: Record<string, unknown> }> {
    return invokeFunctionUrl(
      handler,
      functionUrlEvent({ body: JSON.stringify(delivery), headers: SmnStandIn.headers(delivery) }),
    );
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
