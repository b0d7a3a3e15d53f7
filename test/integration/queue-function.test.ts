import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRIC } from '../../lib/platform/metric-names.js';
import { captureStdout } from '../../local/log-capture.js';
import { LOCAL_KEY } from '../../local/stack.js';
import { inCloudEvent, inEventBridge, inSns } from '../helpers/envelopes.js';
import { body, failedRecord, PROJECT_ID, plainFailure, recordFor } from '../helpers/factories.js';
import { attr, type Harness, invoke, sqsEvent, startHarness } from '../helpers/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

function seeded<T extends Record<string, unknown>>(failure: T): T {
  h.stack.simulator.seedRecords(String(failure['project_id']), [recordFor(failure)]);
  return failure;
}

describe('a mixed batch through the queue', () => {
  it('gives each of 21 records its expected outcome and accounts for every one', async () => {
    // Prepare
    const retried = [
      ...Array.from({ length: 6 }, () => seeded(plainFailure({ reason: 'Script execution timed out' }))),
      ...Array.from({ length: 2 }, () => {
        const record = { ...failedRecord({ reason: 'Network connection reset' }), project_id: PROJECT_ID };
        h.stack.simulator.seedRecords(PROJECT_ID, [record]);
        return record;
      }),
    ];
    const snsBusy = Array.from({ length: 2 }, () => seeded(plainFailure({ reason: 'Service busy, try again later' })));
    const deadLetters = {
      permission: Array.from({ length: 2 }, () =>
        plainFailure({ reason: 'Access denied to C:\\Windows', result_code: 'WKS.00081102' }),
      ),
      script: Array.from({ length: 2 }, () => plainFailure({ reason: 'Script exited with code 2' })),
      old: plainFailure({ failed_at: '2026-01-01T00:00:00Z' }),
      unknown: plainFailure({ record_id: 'unknownrecord404' }),
    };
    const success = plainFailure({ status: 'SUCCESS' });
    const offline = Array.from({ length: 2 }, () => seeded(plainFailure({ reason: 'Desktop is offline' })));
    const bodies = [
      ...retried.map(body),
      ...snsBusy.map((f) => body(inSns(f))),
      ...deadLetters.permission.map((f) => body(inEventBridge(f))),
      ...deadLetters.script.map((f) => body(inCloudEvent(f))),
      body(deadLetters.old),
      body(deadLetters.unknown),
      body(success),
      ...offline.map(body),
      'not json at all',
      body({ project_id: '../../admin', record_id: 'x' }),
    ];
    const handler = await h.loadHandler('queue', { POWERTOOLS_LOG_LEVEL: 'INFO' });
    const capture = captureStdout();

    // Act
    const ids = await h.send(bodies);
    try {
      await h.drain(handler);
    } finally {
      capture.restore();
    }

    // Assess: every retryable record was retried exactly once, and nothing else was.
    const retriedIds = [
      ...retried.map((f) => String((f as Record<string, unknown>)['record_id'] ?? f['id'])),
      ...snsBusy.map((f) => String(f['record_id'])),
    ];
    for (const id of retriedIds) expect(h.stack.simulator.retryCount(id)).toBe(1);
    expect(h.stack.simulator.retries).toHaveLength(retriedIds.length);

    // The DLQ holds exactly the dead letters, each with its reason and evidence.
    const dlq = await h.takeAll(h.stack.dlqUrl);
    const reasons = dlq.map((m) => attr(m, 'reason') ?? '');
    expect(dlq).toHaveLength(8);
    expect(reasons.filter((r) => r.startsWith('permission-denied'))).toHaveLength(2);
    expect(reasons.filter((r) => r.startsWith('script-error'))).toHaveLength(2);
    expect(reasons.filter((r) => r.includes('older than max_age_seconds'))).toHaveLength(1);
    expect(reasons.filter((r) => r.startsWith('workspace-refused: 404 WKS.00210404'))).toHaveLength(1);
    expect(reasons.filter((r) => r.startsWith('invalid-event: body: not valid JSON'))).toHaveLength(1);
    expect(reasons.filter((r) => r.startsWith('invalid-event: body.project_id: must contain only'))).toHaveLength(1);
    for (const message of dlq) {
      expect(attr(message, 'error_code')).toBeTruthy();
      expect(Number(attr(message, 'attempts'))).toBeGreaterThanOrEqual(0);
      expect(ids).toContain(attr(message, 'source_message_id'));
      expect(Date.parse(attr(message, 'decided_at')!)).toBeGreaterThan(0);
      expect(bodies).toContain(message.Body);
    }
    expect(attr(dlq.find((m) => attr(m, 'reason')!.startsWith('permission-denied'))!, 'error_code')).toBe(
      'WKS.00081102',
    );

    // The offline desktops wait on the source queue with a delay, carrying their attempt.
    const depth = await h.stack.depth(h.stack.queueUrl);
    expect(depth).toEqual({ visible: 0, inFlight: 0, delayed: 2 });

    // Every message is accounted for: one outcome line each, by the first message id of its chain.
    const finalByOrigin = new Map(capture.outcomes().map((o) => [String(o['originMessageId']), String(o['kind'])]));
    expect([...finalByOrigin.keys()].sort()).toEqual([...ids].sort());
    const kinds = [...finalByOrigin.values()];
    expect(kinds.filter((k) => k === 'retried')).toHaveLength(10);
    expect(kinds.filter((k) => k === 'dead-lettered')).toHaveLength(8);
    // The run that succeeded is acknowledged and counted, not dead-lettered (the DLQ holds only what a person must
    // see).
    expect(kinds.filter((k) => k === 'not-failed')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'deferred')).toHaveLength(2);
  });
});

describe('credentials', () => {
  it('fetches the secret once across 10 invocations', async () => {
    const secretId = `${h.stack.secretId}-cache`;
    h.stack.secrets.putSecret(secretId, LOCAL_KEY);
    const handler = await h.loadHandler('queue', { CREDENTIALS_SECRET_ID: secretId });
    for (let i = 0; i < 10; i++) {
      const response = await invoke(handler, sqsEvent([body(seeded(plainFailure()))]));
      expect(response.batchItemFailures).toEqual([]);
    }
    expect(h.stack.secrets.readCount(secretId)).toBe(1);
  });

  it('recovers from a rotated key with one refetch of the secret', async () => {
    const secretId = `${h.stack.secretId}-rotate`;
    const oldKey = { ak: 'AKOLDROTATED', sk: 'old-secret' };
    const newKey = { ak: 'AKNEWROTATED', sk: 'new-secret' };
    h.stack.simulator.addCredential(oldKey);
    h.stack.secrets.putSecret(secretId, oldKey);
    const handler = await h.loadHandler('queue', { CREDENTIALS_SECRET_ID: secretId });
    await invoke(handler, sqsEvent([body(seeded(plainFailure()))]));
    // Rotation: Workspace now only knows the new key, and the secret holds it.
    h.stack.simulator.revokeCredential(oldKey.ak);
    h.stack.simulator.addCredential(newKey);
    h.stack.secrets.putSecret(secretId, newKey);
    const before = h.stack.secrets.readCount(secretId);

    const failures = Array.from({ length: 4 }, () => seeded(plainFailure()));
    const response = await invoke(handler, sqsEvent(failures.map(body)));

    expect(response.batchItemFailures).toEqual([]);
    expect(h.stack.secrets.readCount(secretId) - before).toBe(1);
    for (const f of failures) expect(h.stack.simulator.retryCount(String(f['record_id']))).toBe(1);
    // The old key was accepted before the rotation, so a call already admitted with it meets one 401 (docs/key-safety.md:
    // a key revoked while in use), at most the four; a claim that finds the secret rotated before its call signs with
    // the new key instead. One refetch of the secret, and none after.
    const refused = h.stack.simulator.authFailures.get(oldKey.ak) ?? 0;
    expect(refused).toBeGreaterThanOrEqual(1);
    expect(refused).toBeLessThanOrEqual(4);
  });

  it('stops using a key Workspace refuses after the refetch, far from the five-failure lockout', async () => {
    const secretId = `${h.stack.secretId}-revoked`;
    const revoked = { ak: 'AKREVOKEDKEY', sk: 'revoked-secret' };
    h.stack.secrets.putSecret(secretId, revoked);
    const handler = await h.loadHandler('queue', { CREDENTIALS_SECRET_ID: secretId, MAX_CONCURRENCY: '1' });
    const failures = Array.from({ length: 8 }, () => seeded(plainFailure()));

    const delayedBefore = (await h.stack.depth(h.stack.queueUrl)).delayed;

    const response = await invoke(handler, sqsEvent(failures.map(body)));

    // The first record met the 401, read an unchanged secret, and the key's breaker was isolated;
    // the other seven were never sent with the refused key. All eight wait on the queue with a delay.
    expect(response.batchItemFailures).toEqual([]);
    expect((await h.stack.depth(h.stack.queueUrl)).delayed - delayedBefore).toBe(8);
    expect(h.stack.simulator.authFailures.get(revoked.ak)).toBe(1);
    expect(h.stack.simulator.isLocked(revoked.ak)).toBe(false);
    expect(
      h.stack.simulator.retries.filter((r) => failures.some((f) => f['record_id'] === r.target.recordId)),
    ).toHaveLength(0);
  });

  it('keeps every record on the queue when the secret is missing, naming the secret but not its content, once at ERROR with a ConfigurationError metric', async () => {
    const handler = await h.loadHandler('queue', {
      CREDENTIALS_SECRET_ID: 'workspace-script-retry/does-not-exist',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      POWERTOOLS_METRICS_DISABLED: 'false',
    });
    const capture = captureStdout();
    const event = sqsEvent([body(seeded(plainFailure())), body(seeded(plainFailure()))]);
    let response;
    try {
      response = await invoke(handler, event);
    } finally {
      capture.restore();
    }
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(
      event.Records.map((r) => r.messageId).sort(),
    );
    const text = capture.raw.join('');
    expect(text).toContain('workspace-script-retry/does-not-exist');
    expect(text).not.toContain(LOCAL_KEY.sk);
    // Two records, one invocation: one ERROR line and one metric, which the configuration alarm watches.
    const errors = capture.lines().filter((l) => l['level'] === 'ERROR');
    expect(errors).toEqual([
      expect.objectContaining({
        message: expect.stringContaining('Workspace keys unavailable'),
        error: expect.stringContaining('secret workspace-script-retry/does-not-exist could not be read'),
      }),
    ]);
    expect(
      capture
        .lines()
        .filter((l) => METRIC.configurationError in l)
        .map((l) => l[METRIC.configurationError]),
    ).toEqual([1]);
  });

  it('refuses a bad configuration at cold start with an ERROR line naming the variable and a ConfigurationError metric', async () => {
    const capture = captureStdout();
    try {
      await expect(
        h.loadHandler('queue', {
          WORKSPACE_REGION: 'xx-nowhere-1',
          POWERTOOLS_LOG_LEVEL: 'ERROR',
          POWERTOOLS_METRICS_DISABLED: 'false',
        }),
      ).rejects.toThrow(/WORKSPACE_REGION/);
    } finally {
      capture.restore();
    }
    expect(capture.lines().find((l) => l['level'] === 'ERROR')).toMatchObject({
      message: expect.stringContaining('configuration refused at cold start'),
      error: expect.stringContaining('WORKSPACE_REGION'),
    });
    expect(capture.lines().filter((l) => METRIC.configurationError in l)).toHaveLength(1);
  });

  it('keeps every record on the queue when the secret is malformed', async () => {
    const secretId = `${h.stack.secretId}-malformed`;
    h.stack.secrets.putSecret(secretId, { ak: 'only-an-ak' });
    const handler = await h.loadHandler('queue', { CREDENTIALS_SECRET_ID: secretId });
    const event = sqsEvent([body(seeded(plainFailure()))]);
    const response = await invoke(handler, event);
    expect(response.batchItemFailures).toHaveLength(1);
  });
});

describe('durability', () => {
  it('keeps dead letters on the source queue when the DLQ cannot be reached', async () => {
    const handler = await h.loadHandler('queue', { DLQ_URL: 'http://127.0.0.1:9/000000000000/unreachable-dlq' });
    const good = seeded(plainFailure());
    const event = sqsEvent(['{not json', body(plainFailure({ reason: 'permission denied' })), body(good)]);

    const response = await invoke(handler, event);

    const failed = response.batchItemFailures.map((f) => f.itemIdentifier);
    expect(failed.sort()).toEqual([event.Records[0]!.messageId, event.Records[1]!.messageId].sort());
    expect(h.stack.simulator.retryCount(String(good['record_id']))).toBe(1);
  });

  it('keeps every record on the queue when the ledger cannot be reached', async () => {
    const handler = await h.loadHandler('queue', { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9' });
    const failures = Array.from({ length: 3 }, () => seeded(plainFailure()));
    const event = sqsEvent(failures.map(body));

    const response = await invoke(handler, event);

    expect(response.batchItemFailures).toHaveLength(3);
    for (const f of failures) expect(h.stack.simulator.retryCount(String(f['record_id']))).toBe(0);
  });
});
