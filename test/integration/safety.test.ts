import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { captureStdout } from '../../local/log-capture.js';
import { LOCAL_KEY } from '../../local/stack.js';
import { inSns } from '../helpers/envelopes.js';
import { body, PROJECT_ID, plainFailure, recordFor } from '../helpers/factories.js';
import { attr, type Harness, invoke, sqsEvent, startHarness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

/**
 * Retry POSTs the simulator received (the record reads before a retry are not calls the breaker or the budget counts
 * here).
 */
const retryPosts = () => h.stack.simulator.requestsByRoute.get('POST /v2/{id}/script-executions/{id}') ?? 0;

/**
 * A failed run Workspace knows, and its event with the run's start (so the pipeline needs no record lookup before the
 * retry).
 */
function seeded(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const failure = plainFailure(overrides);
  const record = recordFor(failure);
  h.stack.simulator.seedRecords(PROJECT_ID, [record]);
  return { ...failure, start_time: record.start_time };
}

const HOSTILE: Array<[string, string, RegExp]> = [
  [
    'a path traversal in the project',
    body({ project_id: '../../v3/iam', record_id: 'r' }),
    /^invalid-event: body\.project_id: must contain only/,
  ],
  [
    'a dot-dot record id',
    body({ project_id: PROJECT_ID, record_id: '..' }),
    /^invalid-event: body\.record_id: must contain only/,
  ],
  [
    'an encoded slash',
    body({ project_id: PROJECT_ID, record_id: 'a%2F..%2Fb' }),
    /^invalid-event: body\.record_id: must contain only/,
  ],
  [
    'an over-long field',
    body({ project_id: PROJECT_ID, task_id: 'x'.repeat(500) }),
    /^invalid-event: body\.task_id: must be at most 64 characters, got 500$/,
  ],
  [
    'an oversized body',
    body({ project_id: PROJECT_ID, record_id: 'r', reason: 'y'.repeat(70_000) }),
    /^invalid-event: body: \d+ bytes, larger than 65536$/,
  ],
  [
    'deeply nested JSON',
    `{"a":${'['.repeat(40)}${']'.repeat(40)}}`,
    /^invalid-event: body: JSON nested deeper than 10 levels$/,
  ],
  [
    'a __proto__ key',
    `{"__proto__":{"admin":true},"project_id":"${PROJECT_ID}","record_id":"r"}`,
    /^invalid-event: body: key "__proto__" is not allowed$/,
  ],
  [
    'a constructor key',
    `{"constructor":{"prototype":{}},"project_id":"${PROJECT_ID}","record_id":"r"}`,
    /key "(constructor|prototype)" is not allowed/,
  ],
  [
    'a wrong type',
    body({ project_id: PROJECT_ID, record_id: ['r1', 'r2'] }),
    /^invalid-event: body\.record_id: must be a string, got array$/,
  ],
  [
    'an unknown region',
    body({ project_id: PROJECT_ID, record_id: 'r', region: 'xx-evil-1' }),
    /^invalid-event: body\.region: region xx-evil-1 has no Workspace endpoint/,
  ],
  [
    'a region that is a host',
    body({ project_id: PROJECT_ID, record_id: 'r', region: 'evil.example.com' }),
    /^invalid-event: body\.region: region "evil\.example\.com" is not a region name/,
  ],
  [
    'an endpoint URL',
    body({ project_id: PROJECT_ID, record_id: 'r', endpoint: 'http://169.254.169.254/' }),
    /^invalid-event: body\.endpoint: events cannot choose where a request goes$/,
  ],
  [
    'a host inside SNS',
    body(inSns({ project_id: PROJECT_ID, record_id: 'r', host: 'evil.example.com' })),
    /^invalid-event: body\.Message\.host: events cannot choose where a request goes$/,
  ],
];

describe('hostile input', () => {
  it('refuses each hostile event with a precise reason, dead-letters it, and sends nothing to Workspace', async () => {
    const handler = await h.loadHandler('queue');
    const before = h.stack.simulator.requestsReceived;
    await h.takeAll(h.stack.dlqUrl);

    const response = await invoke(handler, sqsEvent(HOSTILE.map(([, b]) => b)));

    expect(response.batchItemFailures).toEqual([]);
    expect(h.stack.simulator.requestsReceived).toBe(before);
    const letters = await h.takeAll(h.stack.dlqUrl);
    expect(letters).toHaveLength(HOSTILE.length);
    for (const [name, hostile, reason] of HOSTILE) {
      const letter = letters.find((m) => m.Body === hostile);
      expect(letter, name).toBeDefined();
      expect(attr(letter!, 'reason'), name).toMatch(reason);
      expect(attr(letter!, 'error_code')).toBe('INVALID_EVENT');
    }
  });
});

describe('switches', () => {
  it('the kill switch defers everything without calling Workspace; the queue keeps it all', async () => {
    const handler = await h.loadHandler('queue', { RETRIES_ENABLED: 'false' });
    const before = h.stack.simulator.requestsReceived;
    const delayed = (await h.stack.depth(h.stack.queueUrl)).delayed;
    const response = await invoke(handler, sqsEvent([body(seeded()), body(seeded())]));
    expect(response.batchItemFailures).toEqual([]);
    expect(h.stack.simulator.requestsReceived).toBe(before);
    expect((await h.stack.depth(h.stack.queueUrl)).delayed - delayed).toBe(2);
  });

  it('a global dry run logs the decision and the request, calls nothing, and dead-letters with the decision', async () => {
    const handler = await h.loadHandler('queue', { DRY_RUN: 'true', POWERTOOLS_LOG_LEVEL: 'INFO' });
    const failure = seeded();
    const before = h.stack.simulator.requestsReceived;
    await h.takeAll(h.stack.dlqUrl);
    const capture = captureStdout();
    try {
      await invoke(handler, sqsEvent([body(failure)]));
    } finally {
      capture.restore();
    }
    expect(h.stack.simulator.requestsReceived).toBe(before);
    const [letter] = await h.takeAll(h.stack.dlqUrl);
    expect(attr(letter!, 'reason')).toBe('dry-run: would retry now (rule timeout)');
    expect(attr(letter!, 'error_code')).toBe('DRY_RUN');
    const line = capture.outcomes()[0]!;
    expect(line).toMatchObject({ kind: 'dead-lettered', errorCode: 'DRY_RUN' });
    const text = capture.raw.join('');
    expect(text).not.toContain(LOCAL_KEY.sk);
  });
});

describe('protecting Workspace', () => {
  it('opens the circuit after consecutive transient failures, defers without calling while open, and closes after a good probe', async () => {
    const handler = await h.loadHandler('queue', {
      BREAKER_FAILURES: '3',
      BREAKER_COOLDOWN_SECONDS: '1',
      WORKSPACE_IN_CALL_RETRIES: '0',
      MAX_CONCURRENCY: '1',
      ERROR_THRESHOLD_PERCENT: '100',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    });
    const capture = captureStdout();
    try {
      // Workspace answers every call 500 (the record read before a retry, then the retry).
      h.stack.simulator.forceFaults('500', '500', '500');
      const failing = Array.from({ length: 6 }, () => seeded());
      const before = h.stack.simulator.requestsReceived;
      await invoke(handler, sqsEvent(failing.map(body)));
      // Three calls failed, the breaker opened, the other three were deferred without a call.
      expect(h.stack.simulator.requestsReceived - before).toBe(3);
      // The cool-down passes on the clock instead of in a sleep: only Date is faked, so sockets and timers run as
      // usual.
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 1_001 });
      const probe = seeded();
      try {
        await invoke(handler, sqsEvent([body(probe)]));
      } finally {
        vi.useRealTimers();
      }
      expect(h.stack.simulator.retryCount(String(probe['record_id']))).toBe(1);
    } finally {
      capture.restore();
    }
    const messages = capture.lines().map((l) => l['message']);
    expect(messages).toContain('circuit breaker opened');
    expect(messages).toContain('circuit breaker closed');
    expect(capture.outcomes().filter((o) => o['code'] === 'circuit-open')).toHaveLength(3);
  });

  it('stops calling for the rest of the batch once the share of failed calls passes the threshold', async () => {
    const handler = await h.loadHandler('queue', {
      ERROR_THRESHOLD_PERCENT: '50',
      ERROR_THRESHOLD_MIN_CALLS: '4',
      BREAKER_FAILURES: '100',
      WORKSPACE_IN_CALL_RETRIES: '0',
      MAX_CONCURRENCY: '1',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    });
    h.stack.simulator.planFaults(
      ...Array.from({ length: 3 }, () => ({ kind: '500' as const, route: 'retry' as const })),
    );
    const failures = Array.from({ length: 10 }, () => seeded());
    const before = retryPosts();
    const capture = captureStdout();
    try {
      await invoke(handler, sqsEvent(failures.map(body)));
    } finally {
      capture.restore();
    }
    // Calls 1–3 fail, call 4 succeeds (3 of 4 failed > 50%): the other 6 are deferred without a call.
    expect(retryPosts() - before).toBe(4);
    expect(capture.outcomes().filter((o) => o['code'] === 'error-threshold')).toHaveLength(6);
  });
});

describe('the time budget', () => {
  it('leaves records it could not start in time on the queue instead of being cut off mid-call', async () => {
    const handler = await h.loadHandler('queue', {
      MAX_CONCURRENCY: '1',
      WORKSPACE_TIMEOUT_MS: '1000',
      WORKSPACE_IN_CALL_RETRIES: '0',
    });
    const failures = Array.from({ length: 3 }, () => seeded());
    const before = h.stack.simulator.retries.length;
    // 20 s left until the first retry has been made, then 3 s: below the margin (a 7 s worst-case call + 5 s).
    const context = {
      ...(await import('../../local/poller.js')).lambdaContext('retryFromQueue', 60_000),
      getRemainingTimeInMillis: () => (h.stack.simulator.retries.length > before ? 3_000 : 20_000),
    };
    const event = sqsEvent(failures.map(body));
    const response = await handler(event, context);
    expect((response as { batchItemFailures: unknown[] }).batchItemFailures).toHaveLength(2);
    expect(h.stack.simulator.retryCount(String(failures[0]!['record_id']))).toBe(1);
    expect(h.stack.simulator.retryCount(String(failures[1]!['record_id']))).toBe(0);
  });
});

describe('metrics', () => {
  it('publishes one EMF metric per outcome and an ApiError metric with the Workspace error code', async () => {
    const handler = await h.loadHandler('queue', {
      POWERTOOLS_METRICS_DISABLED: 'false',
      WORKSPACE_IN_CALL_RETRIES: '0',
    });
    const ok = seeded();
    const unknown = plainFailure({ record_id: 'no-such-record-metrics' });
    const capture = captureStdout();
    try {
      await invoke(handler, sqsEvent([body(ok), body(unknown)]));
    } finally {
      capture.restore();
    }
    const emf = capture.lines().filter((l) => l['_aws']);
    const names = emf.flatMap((l) =>
      (l['_aws'] as { CloudWatchMetrics: Array<{ Metrics: Array<{ Name: string }> }> }).CloudWatchMetrics.flatMap((m) =>
        m.Metrics.map((x) => x.Name),
      ),
    );
    expect(names).toContain('Retried');
    expect(names).toContain('DeadLettered');
    const apiError = emf.find((l) => l['ErrorCode'] === 'WKS.00210404');
    expect(apiError?.['ApiError']).toBe(1);
  });
});
