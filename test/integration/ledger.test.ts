import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { WorkspaceCredentials } from '../../lib/credentials.js';
import { CircuitBreakers } from '../../lib/circuit-breakers.js';
import { ErrorBudget } from '../../lib/error-budget.js';
import { failureKey } from '../../lib/failure.js';
import { AttemptLedger, standingOf } from '../../lib/ledger.js';
import { processFailure } from '../../lib/pipeline.js';
import { WorkspaceClient } from '../../lib/workspace-client.js';
import { captureStdout } from '../../local/log-capture.js';
import { LOCAL_KEY } from '../../local/stack.js';
import { body, failedRecord, plainFailure, PROJECT_ID } from '../helpers/factories.js';
import { attr, invoke, sqsEvent, startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

function ledger(leaseSeconds = 120): AttemptLedger {
  const client = new DynamoDBClient({ region: 'us-east-1', endpoint: h.stack.dynamoEndpoint, credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
  return new AttemptLedger(DynamoDBDocumentClient.from(client), { tableName: h.stack.tableName, leaseSeconds, ttlDays: 30 });
}

function seededFailure(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const failure = plainFailure(overrides);
  h.stack.simulator.seedRecords(PROJECT_ID, [failedRecord({ id: String(failure['record_id']), script_task_id: failure['task_id'] as string | undefined })]);
  return failure;
}

/** A policy that lets a second attempt go at once (1 s backoff), with max_attempts as given. */
function quickPolicy(maxAttempts: number): string {
  return JSON.stringify({ max_attempts: maxAttempts, backoff: { base_seconds: 1, max_seconds: 1 } });
}

describe('one retry per failure', () => {
  it('the same failure delivered 5 times at once calls Workspace once and ends as 4 duplicates', async () => {
    const handler = await h.loadHandler('queue', { POWERTOOLS_LOG_LEVEL: 'INFO', LEDGER_LEASE_SECONDS: '1' });
    const failure = seededFailure({ event_id: 'evt-dup-5' });
    const capture = captureStdout();
    try {
      const events = Array.from({ length: 5 }, () => sqsEvent([body(failure)]));
      await Promise.all(events.map((event) => invoke(handler, event)));
      // Copies that found the retry in flight were re-enqueued until its lease ends; let them come back.
      await h.drain(handler, 15_000, { delayed: true });
    } finally {
      capture.restore();
    }
    expect(h.stack.simulator.retryCount(String(failure['record_id']))).toBe(1);
    const last = new Map(capture.outcomes().map((o) => [o['originMessageId'], o['kind']]));
    const kinds = [...last.values()];
    expect(kinds).toHaveLength(5);
    expect(kinds.filter((k) => k === 'retried')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'duplicate')).toHaveLength(4);
  });

  it('a claim whose holder died before calling is taken over once, after the lease', async () => {
    const handler = await h.loadHandler('queue');
    const failure = seededFailure();
    const parsed = { projectId: PROJECT_ID, recordId: String(failure['record_id']), shape: 'plain' };
    // A holder claims with a 1 s lease, then dies without calling or settling.
    const dying = ledger(1);
    const view = await dying.view(parsed);
    const claim = await dying.claim(view, { kind: 'new', attemptsMade: 0 }, undefined, 'dead-holder');
    expect(claim?.attempt).toBe(1);

    const during = await invoke(handler, sqsEvent([body(failure)]));
    expect(during.batchItemFailures).toEqual([]);
    expect(h.stack.simulator.retryCount(parsed.recordId)).toBe(0);

    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await invoke(handler, sqsEvent([body(failure)]));
    await invoke(handler, sqsEvent([body(failure)]));

    expect(h.stack.simulator.retryCount(parsed.recordId)).toBe(1);
    const item = await ledger().get(failureKey(parsed));
    expect(item).toMatchObject({ state: 'retried', attempts: 1 });
  });
});

describe('lineage and the attempt budget', () => {
  it('a retried task that fails again is attempt 2, and at the maximum it is dead-lettered with max-attempts', async () => {
    const handler = await h.loadHandler('queue', { RETRY_POLICY: quickPolicy(2) });
    const first = seededFailure();
    await invoke(handler, sqsEvent([body(first)]));
    const task2 = h.stack.simulator.retries.at(-1)!.newTaskId;

    // The retry ran as task2 and failed again on the desktop: a new record in the new task.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const second = seededFailure({ task_id: task2 });
    await invoke(handler, sqsEvent([body(second)]));
    const task3 = h.stack.simulator.retries.at(-1)!.newTaskId;
    expect(h.stack.simulator.retryCount(String(second['record_id']))).toBe(1);

    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const third = seededFailure({ task_id: task3 });
    await invoke(handler, sqsEvent([body(third)]));

    expect(h.stack.simulator.retryCount(String(third['record_id']))).toBe(0);
    const root = await ledger().get(failureKey({ projectId: PROJECT_ID, recordId: String(first['record_id']) }));
    expect(root).toMatchObject({ attempts: 2, state: 'dead-lettered' });
    const dlq = await h.takeAll(h.stack.dlqUrl);
    const letter = dlq.find((m) => m.Body === body(third))!;
    expect(attr(letter, 'rule_id')).toBe('max-attempts');
    expect(attr(letter, 'reason')).toBe('2 attempts made, max_attempts is 2');
    expect(attr(letter, 'attempts')).toBe('2');
  });

  it('the maximum holds across the queue and a direct pipeline call for the same failure', async () => {
    const env = { ...h.stack.env, RETRY_POLICY: quickPolicy(1) };
    const handler = await h.loadHandler('queue', { RETRY_POLICY: quickPolicy(1) });
    const failure = seededFailure();
    await invoke(handler, sqsEvent([body(failure)]));
    const newTask = h.stack.simulator.retries.at(-1)!.newTaskId;

    const config = loadConfig(env);
    const deps = {
      config,
      ledger: ledger(),
      workspace: new WorkspaceClient({ defaultRegion: config.defaultRegion, endpoints: config.endpoints, timeoutMs: 2_000, maxInCallRetries: 0, backoffBaseMs: 1, backoffCapMs: 1 }),
      credentials: new WorkspaceCredentials('test', { load: async () => LOCAL_KEY, reload: async () => LOCAL_KEY }),
      breakers: new CircuitBreakers({ consecutiveFailures: 5, halfOpenAfterMs: 1_000, authCooldownMs: 1_000 }),
      errorBudget: new ErrorBudget(0.5, 5),
    };
    const same = await processFailure({ failure: { projectId: PROJECT_ID, recordId: String(failure['record_id']), shape: 'plain' }, firstSeenAt: Date.now() }, deps);
    const again = await processFailure({ failure: { projectId: PROJECT_ID, recordId: 'next-run-record', taskId: newTask, shape: 'plain' }, firstSeenAt: Date.now() }, deps);

    expect(same).toMatchObject({ kind: 'duplicate' });
    expect(again).toMatchObject({ kind: 'dead-letter', letter: { ruleId: 'max-attempts' } });
    expect(h.stack.simulator.retries.filter((r) => r.target.recordId === failure['record_id'] || r.target.recordId === 'next-run-record')).toHaveLength(1);
  });
});

describe('backoff between attempts', () => {
  it('a transient Workspace failure is re-enqueued with a delay within the backoff bounds, without spending an attempt the gateway refused', async () => {
    const handler = await h.loadHandler('queue', { POWERTOOLS_LOG_LEVEL: 'INFO', WORKSPACE_IN_CALL_RETRIES: '0' });
    const failure = seededFailure();
    h.stack.simulator.forceFaults('503');
    const delayedBefore = (await h.stack.depth(h.stack.queueUrl)).delayed;
    const capture = captureStdout();
    let response;
    try {
      response = await invoke(handler, sqsEvent([body(failure)]));
    } finally {
      capture.restore();
    }
    expect(response.batchItemFailures).toEqual([]);
    const outcome = capture.outcomes()[0]!;
    expect(outcome).toMatchObject({ kind: 'deferred', held: false });
    expect(String(outcome['reason'])).toMatch(/^workspace-transient: 503/);
    // Default backoff: base 60 s, so the wait after attempt 1 is between 30 and 60 s (equal jitter).
    expect(outcome['delaySeconds']).toBeGreaterThanOrEqual(30);
    expect(outcome['delaySeconds']).toBeLessThanOrEqual(60);
    expect((await h.stack.depth(h.stack.queueUrl)).delayed - delayedBefore).toBe(1);
    const item = await ledger().get(failureKey({ projectId: PROJECT_ID, recordId: String(failure['record_id']) }));
    // 503 came from the gateway: the script did not run again, so the attempt is given back.
    expect(item).toMatchObject({ attempts: 0, state: 'deferred' });
    expect(item!['history']).toContainEqual(expect.objectContaining({ attempt: 1, outcome: 'deferred', error_code: 'APIG.0201' }));
  });

  it('a re-enqueued message carries its attempt number and first-seen time', async () => {
    const handler = await h.loadHandler('queue');
    const failure = seededFailure({ reason: 'Desktop is offline' });
    await h.send([body(failure)]);
    await h.drain(handler, 5_000);
    const inspected = await fetch(`${h.stack.sqsEndpoint}/_fauxqs/queues/${h.stack.queueUrl.split('/').pop()}`).then((r) => r.json() as Promise<{ messages: { delayed: Array<{ body: string; messageAttributes: Record<string, { StringValue?: string }> }> } }>);
    const delayed = inspected.messages.delayed.find((m) => m.body === body(failure));
    expect(delayed?.messageAttributes['attempt']?.StringValue).toBe('1');
    expect(Number(delayed?.messageAttributes['first_seen_at']?.StringValue)).toBeGreaterThan(Date.now() - 60_000);
    expect(delayed?.messageAttributes['deferred_reason']?.StringValue).toBe('retry-later: rule desktop-not-ready');
  });
});

describe('standing of an occurrence (pure)', () => {
  const view = { rootKey: 'p#record#r', occurrence: 'p#record#r' };
  it.each([
    ['no item', undefined, 'new'],
    ['in flight, lease live', { pk: 'p', attempts: 1, state: 'in-flight', lease_until: 2_000, holder: 'p#record#r' }, 'in-flight'],
    ['in flight, lease expired, same occurrence', { pk: 'p', attempts: 1, state: 'in-flight', lease_until: 500, holder: 'p#record#r', holder_token: 't' }, 'new'],
    ['already retried', { pk: 'p', attempts: 1, state: 'retried', handled: new Set(['p#record#r']) }, 'duplicate'],
    ['a new occurrence through lineage', { pk: 'p', attempts: 1, state: 'retried', handled: new Set(['p#record#other']) }, 'new'],
  ] as const)('%s → %s', (_, item, kind) => {
    expect(standingOf({ ...view, item: item as never }, undefined, 1_000).kind).toBe(kind);
  });
});
