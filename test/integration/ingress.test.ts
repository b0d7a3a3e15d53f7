import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { METRIC } from '../../lib/platform/metric-names.js';
import { functionUrlEvent, type IngressHandler, invokeFunctionUrl } from '../../local/function-url-event.js';
import { captureStdout } from '../../local/log-capture.js';
import { LOCAL_TOPIC_URN, type SmnBody, SmnStandIn } from '../../local/smn-stand-in.js';
import { inCloudEvent } from '../helpers/envelopes.js';
import { body, failedRecord, PROJECT_ID, plainFailure } from '../helpers/factories.js';
import { attr, type Harness, startHarness } from '../helpers/harness.js';

/** The ingress on the real local stack: fauxqs, the Secrets Manager server, and the SMN stand-in over HTTPS. */
let h: Harness;
let smn: SmnStandIn;
let ingress: IngressHandler;
const TOKEN = 'local-webhook-token-4f1c9a7e5b2d';
const TOKEN_SECRET = 'workspace-script-retry/ingress-token-test';
const ingressEnv = (smnEnv: Record<string, string>) => ({
  FAILURE_QUEUE_URL: h.stack.queueUrl,
  TRUSTED_TOPIC_URNS: LOCAL_TOPIC_URN,
  INGRESS_TOKEN_SECRET_ID: TOKEN_SECRET,
  ...smnEnv,
});
const OTHER_TOPIC = 'urn:smn:cn-north-4:0a1b2c3d4e5f60718293a4b5c6d7e8f9:someone-elses-topic';

beforeAll(async () => {
  h = await startHarness();
  smn = await SmnStandIn.start();
  smn.trustInThisProcess();
  h.stack.secrets.putSecret(TOKEN_SECRET, { token: TOKEN });
  ingress = await h.loadHandler<IngressHandler>('ingress', ingressEnv(smn.env));
});
afterAll(async () => {
  await smn.stop();
  await h.stop();
});
beforeEach(async () => {
  await h.takeAll(h.stack.queueUrl);
});

const postSmn = (delivery: SmnBody | string, headers?: Record<string, string>) =>
  typeof delivery === 'string'
    ? invokeFunctionUrl(ingress, functionUrlEvent({ body: delivery, headers: headers ?? {} }))
    : smn.deliver(ingress, delivery);
const postWebhook = (payload: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) =>
  invokeFunctionUrl(
    ingress,
    functionUrlEvent({ body: typeof payload === 'string' ? payload : JSON.stringify(payload), headers }),
  );

describe('an SMN notification', () => {
  it('puts its message on the failure queue as the body, with ingress, topic_urn and smn_message_id attributes', async () => {
    // Prepare
    const failure = body(plainFailure());
    const delivery = smn.notification(failure);

    // Act
    const { status, answer } = await postSmn(delivery);

    // Assess
    expect({ status, answer }).toEqual({ status: 200, answer: { ok: true, enqueued: 1 } });
    const [message, ...rest] = await h.takeAll(h.stack.queueUrl);
    expect(rest).toHaveLength(0);
    expect(message!.Body).toBe(failure);
    expect([attr(message!, 'ingress'), attr(message!, 'topic_urn'), attr(message!, 'smn_message_id')]).toEqual([
      'smn',
      LOCAL_TOPIC_URN,
      delivery['message_id'],
    ]);
  });

  it('downloads the signing certificate once per container, whatever the number of notifications', async () => {
    const before = smn.certDownloads;
    for (let i = 0; i < 3; i++) expect((await postSmn(smn.notification(body(plainFailure())))).status).toBe(200);
    expect(smn.certDownloads - before).toBeLessThanOrEqual(1);
  });

  it('enqueues the same message_id twice when SMN delivers it twice; the ledger then retries the failure once', async () => {
    // Prepare
    const record = failedRecord();
    h.stack.simulator.seedRecords(PROJECT_ID, [record]);
    const delivery = smn.notification(body({ ...record, project_id: PROJECT_ID }));

    // Act
    const answers = [await postSmn(delivery), await postSmn(delivery)];
    const queued = await h.stack.depth(h.stack.queueUrl);
    await h.drain(await h.loadHandler('queue'));

    // Assess
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(queued.visible).toBe(2);
    expect(h.stack.simulator.retryCount(record.id)).toBe(1);
  });

  it('reads a body Lambda passed as base64', async () => {
    const delivery = smn.notification(body(plainFailure()));
    const { status } = await invokeFunctionUrl(
      ingress,
      functionUrlEvent({ body: JSON.stringify(delivery), headers: SmnStandIn.headers(delivery), base64: true }),
    );
    expect(status).toBe(200);
    expect(await h.takeAll(h.stack.queueUrl)).toHaveLength(1);
  });

  it('answers 503, so SMN retries, when the certificate cannot be downloaded, and queues nothing', async () => {
    const { status, answer } = await postSmn(smn.notification('{}', { certUrl: `https://${smn.host}/smn/missing` }));
    expect({ status, answer }).toEqual({
      status: 503,
      answer: { ok: false, reason: 'signing certificate download answered 404' },
    });
    expect((await h.stack.depth(h.stack.queueUrl)).visible).toBe(0);
  });

  it('enqueues a message that is not a failure event: the queue function dead-letters it with the reason', async () => {
    expect((await postSmn(smn.notification('disk almost full on DESKTOP-7'))).status).toBe(200);
    expect((await h.takeAll(h.stack.queueUrl)).map((m) => m.Body)).toEqual(['disk almost full on DESKTOP-7']);
  });
});

describe('refusals: an answer with the reason, and nothing on the queue', () => {
  const cases: Array<[string, () => Promise<{ status: number; answer: Record<string, unknown> }>, number, RegExp]> = [
    [
      'a signature by another key',
      () => postSmn(smn.sign(smn.notification('{}'), 'impostor')),
      403,
      /signature does not match/,
    ],
    [
      'a message changed after signing',
      () => postSmn({ ...smn.notification(body(plainFailure())), message: body(plainFailure()) }),
      403,
      /signature does not match/,
    ],
    [
      'a topic not in TRUSTED_TOPIC_URNS',
      () => postSmn(smn.notification('{}', { topicUrn: OTHER_TOPIC })),
      403,
      /topic .*someone-elses-topic is not in TRUSTED_TOPIC_URNS/,
    ],
    [
      'a certificate on a host not allowed',
      () => postSmn(smn.notification('{}', { certUrl: 'https://smn.cn-north-4.evil.example.com/smn/cert.pem' })),
      403,
      /host smn\.cn-north-4\.evil\.example\.com is not an allowed SMN host/,
    ],
    [
      'a certificate over plain http',
      () => postSmn(smn.notification('{}', { certUrl: `http://${smn.host}/smn/cert.pem` })),
      403,
      /signing_cert_url must be https/,
    ],
    [
      'a timestamp older than SMN_MAX_AGE_SECONDS',
      () => postSmn(smn.notification('{}', { timestamp: new Date(Date.now() - 2 * 86_400_000).toISOString() })),
      400,
      /older than SMN_MAX_AGE_SECONDS/,
    ],
    [
      'a timestamp in the future',
      () => postSmn(smn.notification('{}', { timestamp: new Date(Date.now() + 3_600_000).toISOString() })),
      400,
      /in the future/,
    ],
    ['a body over 256 KB', () => postSmn(smn.notification('x'.repeat(262_200))), 400, /more than 256 KB/],
    [
      'malformed JSON from SMN',
      () => postSmn('{"type": "Notification",', { 'X-SMN-MESSAGE-TYPE': 'Notification' }),
      400,
      /not valid JSON/,
    ],
    [
      'a delivery missing a signed field',
      () => postSmn({ ...smn.notification('{}'), message_id: '' }),
      400,
      /body\.message_id/,
    ],
    [
      'a webhook without a bearer token',
      () => postWebhook(inCloudEvent(plainFailure()), {}),
      403,
      /missing bearer token in the authorization header/,
    ],
    [
      'a webhook with a wrong bearer token',
      () => postWebhook(inCloudEvent(plainFailure()), { authorization: 'Bearer not-the-token-0000000' }),
      403,
      /wrong bearer token/,
    ],
    [
      'malformed JSON with the right token',
      () => postWebhook('[{"specversion":"1.0"', { authorization: `Bearer ${TOKEN}` }),
      400,
      /not valid JSON/,
    ],
    [
      'a batch of 21 CloudEvents',
      () => postWebhook(Array.from({ length: 21 }, () => inCloudEvent(plainFailure()))),
      400,
      /21 events, at most 20/,
    ],
    ['a GET', () => invokeFunctionUrl(ingress, functionUrlEvent({ body: '{}', method: 'GET' })), 405, /only POST/],
  ];

  it.each(cases)('%s', async (_, send, expectedStatus, reason) => {
    const { status, answer } = await send();
    expect(status).toBe(expectedStatus);
    expect(answer).toMatchObject({ ok: false, reason: expect.stringMatching(reason) });
    expect(await h.stack.depth(h.stack.queueUrl)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });
});

describe('subscription confirmation', () => {
  it('fetches subscribe_url for a trusted topic on an allowed host, and enqueues nothing', async () => {
    const delivery = smn.subscriptionConfirmation();
    const token = new URL(delivery['subscribe_url']!).searchParams.get('token');
    const { status, answer } = await postSmn(delivery);
    expect({ status, answer }).toEqual({ status: 200, answer: { ok: true, confirmed: true } });
    expect(smn.confirmed).toContain(token);
    expect((await h.stack.depth(h.stack.queueUrl)).visible).toBe(0);
  });

  it('does not fetch subscribe_url for an untrusted topic or a host not allowed', async () => {
    const before = smn.confirmed.length;
    const untrusted = await postSmn(smn.subscriptionConfirmation({ topicUrn: OTHER_TOPIC }));
    const elsewhere = await postSmn(
      smn.subscriptionConfirmation({
        subscribeUrl: 'https://console.evil.example.com/smn/subscription/confirm?token=x',
      }),
    );
    expect([untrusted.status, elsewhere.status]).toEqual([403, 403]);
    expect(elsewhere.answer['reason']).toMatch(
      /subscribe_url host console\.evil\.example\.com is not an allowed SMN host \(SMN_CONFIRM_HOSTS\)/,
    );
    expect(smn.confirmed.length).toBe(before);
  });
});

describe('EventGrid and other webhooks', () => {
  it('puts each of a batch of 20 CloudEvents on the queue as its own message', async () => {
    const events = Array.from({ length: 20 }, () => inCloudEvent(plainFailure()));
    const { status, answer } = await postWebhook(events);
    expect({ status, answer }).toEqual({ status: 200, answer: { ok: true, enqueued: 20 } });
    const messages = await h.takeAll(h.stack.queueUrl);
    expect(messages.map((m) => JSON.parse(m.Body!).id).sort()).toEqual(events.map((e) => e['id']).sort());
    expect(new Set(messages.map((m) => attr(m, 'ingress')))).toEqual(new Set(['webhook']));
  });

  it('answers 503, so the sender retries, when the token secret cannot be read, and names the secret, not a value, at ERROR with a ConfigurationError metric', async () => {
    const handler = await h.loadHandler<IngressHandler>('ingress', {
      ...ingressEnv(smn.env),
      INGRESS_TOKEN_SECRET_ID: 'workspace-script-retry/no-such-secret',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      POWERTOOLS_METRICS_DISABLED: 'false',
    });
    const capture = captureStdout();
    const { status, answer } = await invokeFunctionUrl(
      handler,
      functionUrlEvent({ body: body(inCloudEvent(plainFailure())), headers: { authorization: `Bearer ${TOKEN}` } }),
    ).finally(() => capture.restore());
    expect(status).toBe(503);
    expect(answer['reason']).toMatch(
      /^the webhook token cannot be checked now: secret workspace-script-retry\/no-such-secret could not be read \(\w+\)$/,
    );
    expect((await h.stack.depth(h.stack.queueUrl)).visible).toBe(0);
    expect(capture.lines().filter((l) => l['level'] === 'ERROR')).toEqual([
      expect.objectContaining({
        message: expect.stringContaining('webhook token unavailable'),
        error: expect.stringContaining('workspace-script-retry/no-such-secret'),
      }),
    ]);
    const published = capture.lines().filter((l) => '_aws' in l);
    expect(published.filter((l) => METRIC.configurationError in l)).toHaveLength(1);
    expect(published.filter((l) => METRIC.ingressUnavailable in l)).toHaveLength(1);
  });

  it('runs webhook-only, with no SMN topic to trust: webhooks are queued, SMN deliveries refused', async () => {
    // Prepare
    const handler = await h.loadHandler<IngressHandler>('ingress', {
      ...ingressEnv(smn.env),
      TRUSTED_TOPIC_URNS: undefined,
    });
    const delivery = smn.notification(body(plainFailure()));

    // Act
    const webhook = await invokeFunctionUrl(
      handler,
      functionUrlEvent({ body: body(inCloudEvent(plainFailure())), headers: { authorization: `Bearer ${TOKEN}` } }),
    );
    const viaSmn = await smn.deliver(handler, delivery);

    // Assess
    expect(webhook.status).toBe(200);
    expect(viaSmn.status).toBe(403);
    expect(await h.takeAll(h.stack.queueUrl)).toHaveLength(1);
  });

  it('reads the token only from the configured header', async () => {
    const { status } = await postWebhook(inCloudEvent(plainFailure()), {
      'x-ingress-token': TOKEN,
      authorization: 'Bearer wrong',
    });
    // The configured header is Authorization, so a custom header alone does not count.
    expect(status).toBe(403);
  });
});

describe('logs', () => {
  it('say what happened to each request without the token, the signature or the message', async () => {
    // Prepare: the real logger at INFO, its output captured.
    const handler = await h.loadHandler<IngressHandler>('ingress', {
      ...ingressEnv(smn.env),
      POWERTOOLS_LOG_LEVEL: 'INFO',
      POWERTOOLS_METRICS_DISABLED: 'false',
    });
    const wrongToken = 'Bearer guessed-token-0123456789';
    const delivery = smn.notification(body(plainFailure({ reason: 'marker-3b9f: the message itself' })));
    const capture = captureStdout();

    // Act
    try {
      await invokeFunctionUrl(
        handler,
        functionUrlEvent({ body: body(inCloudEvent(plainFailure())), headers: { authorization: `Bearer ${TOKEN}` } }),
      );
      await invokeFunctionUrl(
        handler,
        functionUrlEvent({ body: body(inCloudEvent(plainFailure())), headers: { authorization: wrongToken } }),
      );
      await invokeFunctionUrl(
        handler,
        functionUrlEvent({ body: JSON.stringify(delivery), headers: SmnStandIn.headers(delivery) }),
      );
    } finally {
      capture.restore();
    }

    // Assess
    const output = capture.raw.join('');
    for (const secret of [TOKEN, 'guessed-token-0123456789', delivery['signature']!, 'marker-3b9f'])
      expect(output).not.toContain(secret);
    const lines = capture.lines().filter((line) => line['message'] === 'ingress');
    expect(lines.map((line) => [line['route'], line['status'], line['reason']])).toEqual([
      ['webhook', 200, undefined],
      ['webhook', 403, 'wrong bearer token in the authorization header'],
      ['smn', 200, undefined],
    ]);
    expect(lines[2]).toMatchObject({ topicUrn: LOCAL_TOPIC_URN, smnMessageId: delivery['message_id'], enqueued: 1 });
    // One EMF document per request, with the names of lib/platform/metric-names.ts (the dashboard's and the refusal
    // alarm's).
    const counted = capture
      .lines()
      .filter((l) => '_aws' in l)
      .map((l) => [l[METRIC.ingressEnqueued], l[METRIC.ingressRefused]]);
    expect(counted).toEqual([
      [1, undefined],
      [undefined, 1],
      [1, undefined],
    ]);
  });
});
