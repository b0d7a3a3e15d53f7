import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Chain, isChain, recordKey } from '../../lib/ledger/chain.js';
import { DynamoLedgerStore } from '../../lib/ledger/store.js';
import type { ManualAnswer } from '../../lib/ways-in/manual.js';
import { LocalEventSource, lambdaContext } from '../../local/poller.js';
import type { SimulatorRoute } from '../../local/simulator-faults.js';
import type { DesktopSeed } from '../../local/workspace-desktops.js';
import { desktopId } from '../helpers/desktops.js';
import { stackDynamoDb } from '../helpers/dynamodb.js';
import { body, PROJECT_ID, plainFailure, recordFor } from '../helpers/factories.js';
import { attr, type Harness, invoke, outcomesOf, sqsEvent, startHarness } from '../helpers/harness.js';

/**
 * The desktop check before a retry (lib/pipeline/desktop-gate.ts), through the
 * queue function against the Workspace simulator over HTTP: each state of a
 * desktop and what becomes of its failure, a stopped desktop started once and
 * its script run once, reads batched per invocation, a lost start never sent
 * again, the dry run. Desktops boot in 1 s and register 1 s later; time that
 * must pass beyond that passes on a faked Date (sockets and timers run as usual).
 */

const WAIT_MAX_SECONDS = 120;
const desktop = (more: Record<string, unknown> = {}) => ({
  require: 'registered',
  wake: true,
  wait_max_seconds: WAIT_MAX_SECONDS,
  recheck_seconds: 1,
  ...more,
});
const POLICY = {
  rules: [
    { id: 'desktop-not-ready', verdict: 'retry', reason_contains: ['not running'], desktop: desktop() },
    { id: 'timeout', verdict: 'retry', reason_contains: ['timed out'], desktop: desktop({ wake: false }) },
  ],
  scripts: {
    'patient-script': {
      rules: [
        { id: 'patient', verdict: 'retry', reason_contains: ['not running'], desktop: desktop({ on_error: 'wait' }) },
      ],
    },
    // A console request names no failure reason, so no rule matches it: the script's own `desktop` applies.
    'script-1': { desktop: desktop() },
  },
};

let h: Harness;
const routes: SimulatorRoute[] = [];
let desktops = 0;

beforeAll(async () => {
  h = await startHarness({
    simulator: { desktops: { bootSeconds: 1, registerSeconds: 1 }, onRequest: ({ route }) => routes.push(route) },
  });
});
afterAll(() => h.stop());
afterEach(() => {
  vi.useRealTimers();
  h.stack.simulator.clearFaults();
});

const queue = (env: Record<string, string> = {}) =>
  h.loadHandler('queue', { RETRY_POLICY: JSON.stringify(POLICY), POWERTOOLS_LOG_LEVEL: 'INFO', ...env });
type Manual = (event: unknown, context: Context) => Promise<ManualAnswer>;
async function dryRun(recordId: string): Promise<ManualAnswer> {
  const manual = await h.loadHandler<Manual>('manual', {
    RETRY_POLICY: JSON.stringify(POLICY),
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  return manual({ project_id: PROJECT_ID, record_id: recordId, dry_run: true }, lambdaContext('retryManually', 30_000));
}

/** A failed record on a desktop of its own, seeded as `seed` says (`deleted`: gone; `unknown`: never there). */
function failureOn(
  seed: Omit<DesktopSeed, 'desktop_id'> | 'deleted' | 'unknown',
  more: Record<string, unknown> = {},
): Record<string, unknown> & { resource_id: string; record_id: string } {
  const id = desktopId(++desktops);
  const failure = plainFailure({
    resource_id: id,
    reason: 'Desktop is not running (status SHUTOFF).',
    ...more,
  }) as Record<string, unknown> & { resource_id: string; record_id: string };
  h.stack.simulator.seedRecords(PROJECT_ID, [recordFor(failure)]);
  if (seed === 'deleted') {
    h.stack.simulator.desktops.seed(PROJECT_ID, { desktop_id: id });
    h.stack.simulator.desktops.delete(PROJECT_ID, id);
  } else if (seed !== 'unknown') h.stack.simulator.desktops.seed(PROJECT_ID, { desktop_id: id, ...seed });
  return failure;
}

async function chainOf(recordId: string): Promise<Chain | undefined> {
  const item = await new DynamoLedgerStore(stackDynamoDb(h.stack), h.stack.tableName).read(
    recordKey(PROJECT_ID, recordId),
  );
  return isChain(item) ? item : undefined;
}

const sim = () => h.stack.simulator;

describe('each state of a desktop, and what becomes of its failure', () => {
  it.each<
    [string, Omit<DesktopSeed, 'desktop_id'> | 'deleted' | 'unknown', Record<string, unknown>, string, string, number]
  >([
    ['running and registered: retried', {}, {}, 'retried', '', 0],
    [
      'powered off, wake: started, and the failure waits for it',
      { status: 'SHUTOFF' },
      {},
      'deferred',
      'desktop-waking',
      1,
    ],
    [
      'hibernated, wake: started, and the failure waits for it',
      { status: 'HIBERNATED' },
      {},
      'deferred',
      'desktop-waking',
      1,
    ],
    [
      'powered off, no wake: waits, not started',
      { status: 'SHUTOFF' },
      { reason: 'Script execution timed out' },
      'deferred',
      'desktop-not-ready',
      0,
    ],
    ['running, agent not registered: waits', { login_status: 'UNREGISTER' }, {}, 'deferred', 'desktop-not-ready', 0],
    [
      'in maintenance: waits, not started',
      { status: 'SHUTOFF', in_maintenance_mode: true },
      {},
      'deferred',
      'desktop-not-ready',
      0,
    ],
    ['ERROR: dead-lettered with its state', { status: 'ERROR' }, {}, 'dead-lettered', 'desktop-error', 0],
    [
      'ERROR, on_error wait: waits',
      { status: 'ERROR' },
      { script_id: 'patient-script' },
      'deferred',
      'desktop-not-ready',
      0,
    ],
    ['deleted: dead-lettered, not found', 'deleted', {}, 'dead-lettered', 'desktop-not-found', 0],
    ['never there: dead-lettered, not found', 'unknown', {}, 'dead-lettered', 'desktop-not-found', 0],
  ])('%s', async (_, seed, more, kind, code, starts) => {
    // Prepare
    const failure = failureOn(seed, more);
    const handler = await queue();

    // Act
    const [outcome] = await outcomesOf(() => invoke(handler, sqsEvent([body(failure)])));

    // Assess: the outcome, the starts sent, and no attempt spent unless the desktop was ready.
    expect(outcome).toMatchObject({ kind, ...(code ? { code } : {}) });
    expect(sim().desktops.startsOf(failure.resource_id)).toBe(starts);
    expect(sim().rerunsOf(failure.record_id)).toBe(kind === 'retried' ? 1 : 0);
    expect((await chainOf(failure.record_id))?.attempts ?? 0).toBe(kind === 'retried' ? 1 : 0);
    expect(sim().state.log.onUnreadyDesktops()).toEqual([]);
  });

  it('a dead letter for a deleted desktop says so', async () => {
    const failure = failureOn('deleted');
    const handler = await queue();
    await invoke(handler, sqsEvent([body(failure)]));
    const letters = await h.takeAll(h.stack.dlqUrl);
    const letter = letters.find((m) => m.Body === body(failure))!;
    expect(attr(letter, 'reason')).toMatch(
      /^desktop-not-found: desktop \S+ no longer exists \(404 WKS\.DESKTOP_NOT_FOUND/,
    );
    expect(attr(letter, 'error_code')).toBe('DESKTOP_NOT_FOUND');
    expect(attr(letter, 'attempts')).toBe('0');
  });
});

describe('a stopped desktop, woken', () => {
  it('is started once, its failure waits without an attempt, and its script runs once when the desktop is ready', {
    timeout: 40_000,
  }, async () => {
    // Prepare
    const failure = failureOn({ status: 'SHUTOFF' });
    const handler = await queue();
    await h.send([body(failure)]);

    // Act: the queue as Lambda runs it, until the re-enqueued failure has come back and been handled.
    const outcomes = await outcomesOf(async () => {
      const poller = new LocalEventSource({
        sqs: h.stack.sqs,
        queueUrl: h.stack.queueUrl,
        queueArn: h.stack.queueArn,
        handler,
      });
      await poller.runUntil(async () => sim().rerunsOf(failure.record_id) > 0, 20_000);
    });

    // Assess
    const mine = outcomes.filter((o) => o['recordId'] === failure.record_id);
    expect(mine[0]).toMatchObject({ kind: 'deferred', code: 'desktop-waking' });
    expect(mine.at(-1)).toMatchObject({ kind: 'retried', ruleId: 'desktop-not-ready', attempt: 1 });
    expect(
      mine
        .slice(1, -1)
        .every((o) => o['kind'] === 'deferred' && /^desktop-(waking|not-ready)$/.test(String(o['code']))),
    ).toBe(true);
    expect(sim().desktops.startsOf(failure.resource_id)).toBe(1);
    expect(sim().rerunsOf(failure.record_id)).toBe(1);
    const rerun = sim().retries.find((r) => r.target.recordId === failure.record_id)!.reruns[0]!;
    expect(rerun.desktopRefused).toBeUndefined();
    expect(sim().state.record(PROJECT_ID, rerun.newRecordId)).toMatchObject({ status: 'RUNNING' });
    const chain = await chainOf(failure.record_id);
    expect(chain).toMatchObject({
      state: 'retried',
      attempts: 1,
      desktop_wait: { g: 0, desktop: failure.resource_id, woken_at: expect.any(Number) },
    });
    expect(chain!.history.map((entry) => [entry.attempt, entry.outcome])).toEqual([
      [0, 'desktop started'],
      [1, 'retried'],
    ]);
  });

  it('two failures on one stopped desktop in one batch: one read, one start, both wait', async () => {
    // Prepare
    const first = failureOn({ status: 'SHUTOFF' });
    const second = plainFailure({ resource_id: first.resource_id, script_id: 'script-2', reason: first['reason'] });
    sim().seedRecords(PROJECT_ID, [recordFor(second)]);
    const handler = await queue();
    routes.length = 0;

    // Act
    const outcomes = await outcomesOf(() => invoke(handler, sqsEvent([body(first), body(second)])));

    // Assess
    expect(outcomes.map((o) => o['code'])).toEqual(['desktop-waking', 'desktop-waking']);
    expect(routes.filter((route) => route === 'list-desktops')).toHaveLength(1);
    expect(sim().desktops.startsOf(first.resource_id)).toBe(1);
  });

  it('a start whose answer was lost is not sent again: the next read shows it powering on', async () => {
    // Prepare: the start is applied, then its connection reset.
    const failure = failureOn({ status: 'SHUTOFF' });
    sim().planFaults({ kind: 'reset-after', route: 'desktop-action' });
    const handler = await queue();

    // Act
    const [first] = await outcomesOf(() => invoke(handler, sqsEvent([body(failure)])));
    const [again] = await outcomesOf(() => invoke(handler, sqsEvent([body(failure)])));

    // Assess
    expect(first).toMatchObject({
      kind: 'deferred',
      code: 'desktop-waking',
      reason: expect.stringContaining('its answer lost'),
    });
    expect(again).toMatchObject({
      kind: 'deferred',
      code: 'desktop-waking',
      reason: expect.stringContaining('powering-on'),
    });
    expect(sim().desktops.startsOf(failure.resource_id)).toBe(1);
  });

  it('a start refused because the desktop is starting already is not retried: the failure waits', async () => {
    // Prepare: someone else started it between our read and our start (the read is served first, then the start).
    const failure = failureOn({ status: 'SHUTOFF' });
    const handler = await queue();
    const stale = { ...sim().desktops.detail(PROJECT_ID, failure.resource_id)! };
    sim().desktops.run(PROJECT_ID, [failure.resource_id], 'os-start');
    const read = vi.spyOn(sim().desktops, 'list').mockReturnValueOnce({ desktops: [stale], total_count: 1 });

    // Act
    const [outcome] = await outcomesOf(() => invoke(handler, sqsEvent([body(failure)])));
    read.mockRestore();

    // Assess
    expect(outcome).toMatchObject({
      kind: 'deferred',
      code: 'desktop-waking',
      reason: expect.stringContaining('WKS.00010032'),
    });
    expect(sim().rerunsOf(failure.record_id)).toBe(0);
  });

  it('a start that certainly did not reach Workspace (a 503) is given back: the next delivery sends it', async () => {
    // Prepare
    const failure = failureOn({ status: 'SHUTOFF' });
    sim().planFaults({ kind: '503', route: 'desktop-action' });
    const handler = await queue({ WORKSPACE_IN_CALL_RETRIES: '0' });

    // Act
    const [refused] = await outcomesOf(() => invoke(handler, sqsEvent([body(failure)])));
    const [again] = await outcomesOf(() => invoke(handler, sqsEvent([body(failure)])));

    // Assess
    expect(refused).toMatchObject({
      kind: 'deferred',
      code: 'workspace-transient',
      reason: expect.stringContaining(`while starting desktop ${failure.resource_id}`),
    });
    expect(again).toMatchObject({
      kind: 'deferred',
      code: 'desktop-waking',
      reason: expect.stringContaining('started now'),
    });
    expect(sim().desktops.startsOf(failure.resource_id)).toBe(1);
  });

  it("a desktop another failure's delivery is starting is not started again, even while it still reads off", async () => {
    // Prepare: the first failure's start stalls before Workspace applies it (its answer never comes: not sent again).
    const first = failureOn({ status: 'SHUTOFF' });
    const second = plainFailure({ resource_id: first.resource_id, script_id: 'script-3', reason: first['reason'] });
    sim().seedRecords(PROJECT_ID, [recordFor(second)]);
    sim().faults = { stallMs: 1_000 };
    sim().planFaults({ kind: 'stall', route: 'desktop-action' });
    const handler = await queue({ WORKSPACE_IN_CALL_RETRIES: '0', WORKSPACE_TIMEOUT_MS: '300' });

    // Act
    const [lost] = await outcomesOf(() => invoke(handler, sqsEvent([body(first)])));
    const [other] = await outcomesOf(() => invoke(handler, sqsEvent([body(second)])));

    // Assess: the desktop still reads SHUTOFF, and no second start is sent within the window.
    expect(lost).toMatchObject({
      kind: 'deferred',
      code: 'desktop-waking',
      reason: expect.stringContaining('its answer lost'),
    });
    expect(other).toMatchObject({
      kind: 'deferred',
      code: 'desktop-waking',
      reason: expect.stringContaining('by the retry of another failure on it'),
    });
    expect(sim().desktops.detail(PROJECT_ID, first.resource_id)).toMatchObject({ status: 'SHUTOFF', task_status: '' });
    expect(sim().desktops.startsOf(first.resource_id)).toBe(0);
  });

  it('a start that fails leaves the desktop off: the failure waits until wait_max_seconds, then is dead-lettered with the state', async () => {
    // Prepare
    const failure = failureOn({ status: 'SHUTOFF' });
    sim().desktops.failNextStart(failure.resource_id);
    const handler = await queue();
    const [woken] = await outcomesOf(() => invoke(handler, sqsEvent([body(failure)])));

    // Act: the start's job ends FAIL; the failure comes back within its wait, then after it.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 30_000 });
    const [waiting] = await outcomesOf(() => invoke(handler, sqsEvent([body(failure)])));
    vi.setSystemTime(Date.now() + WAIT_MAX_SECONDS * 1000);
    const [given] = await outcomesOf(() => invoke(handler, sqsEvent([body(failure)])));

    // Assess
    expect(woken).toMatchObject({ kind: 'deferred', code: 'desktop-waking' });
    expect(waiting).toMatchObject({
      kind: 'deferred',
      code: 'desktop-waking',
      reason: expect.stringContaining('SHUTOFF'),
    });
    expect(given).toMatchObject({
      kind: 'dead-lettered',
      code: 'desktop-not-ready',
      reason: expect.stringMatching(/^desktop-not-ready: desktop \S+, started \d+ s ago, is still SHUTOFF/),
    });
    expect(sim().desktops.startsOf(failure.resource_id)).toBe(1);
    expect(sim().rerunsOf(failure.record_id)).toBe(0);
    expect(await chainOf(failure.record_id)).toMatchObject({ state: 'dead-lettered', attempts: 0 });
  });
});

describe('a desktop that stays in maintenance', () => {
  it('holds its failure from the first time it was found so, and wait_max_seconds later the failure is dead-lettered with the state', async () => {
    // Prepare
    const failure = failureOn({ in_maintenance_mode: true });
    const handler = await queue();
    const [first] = await outcomesOf(() => invoke(handler, sqsEvent([body(failure)])));

    // Act
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + (WAIT_MAX_SECONDS - 5) * 1000 });
    const [still] = await outcomesOf(() => invoke(handler, sqsEvent([body(failure)])));
    vi.setSystemTime(Date.now() + 5_000);
    const [given] = await outcomesOf(() => invoke(handler, sqsEvent([body(failure)])));

    // Assess
    expect(first).toMatchObject({ kind: 'deferred', code: 'desktop-not-ready', delaySeconds: 1 });
    expect(still).toMatchObject({ kind: 'deferred', code: 'desktop-not-ready' });
    expect(given).toMatchObject({
      kind: 'dead-lettered',
      code: 'desktop-not-ready',
      reason: expect.stringContaining(
        `is still ACTIVE, REGISTERED, in maintenance ${WAIT_MAX_SECONDS} s after it was first found not ready`,
      ),
    });
    expect(await chainOf(failure.record_id)).toMatchObject({
      state: 'dead-lettered',
      attempts: 0,
      history: [{ outcome: 'desktop not ready' }, { outcome: 'dead-lettered' }],
    });
  });
});

describe('reading desktops', () => {
  it('a batch of failures on many desktops is read in one list request, each desktop once', async () => {
    // Prepare
    const failures = Array.from({ length: 6 }, () => failureOn({}));
    const handler = await queue();
    routes.length = 0;

    // Act
    const outcomes = await outcomesOf(() => invoke(handler, sqsEvent(failures.map(body))));

    // Assess
    expect(outcomes.map((o) => o['kind'])).toEqual(Array(6).fill('retried'));
    expect(routes.filter((route) => route === 'list-desktops')).toHaveLength(1);
    expect(routes.filter((route) => route === 'desktop-detail')).toHaveLength(0);
  });

  it('a desktop read that fails for now defers its failure: no attempt', async () => {
    const failure = failureOn({});
    sim().planFaults({ kind: '503', route: 'list-desktops' });
    const handler = await queue({ WORKSPACE_IN_CALL_RETRIES: '0' });
    const [outcome] = await outcomesOf(() => invoke(handler, sqsEvent([body(failure)])));
    expect(outcome).toMatchObject({
      kind: 'deferred',
      code: 'lookup-failed',
      reason: expect.stringContaining(`while looking up desktop ${failure.resource_id}`),
    });
    expect(sim().rerunsOf(failure.record_id)).toBe(0);
  });
});

describe('a dry run', () => {
  it('shows the desktop read and the start it would send, and sends nothing', async () => {
    // Prepare
    const failure = failureOn({ status: 'SHUTOFF' });
    routes.length = 0;

    // Act
    const answer = await dryRun(failure.record_id);

    // Assess
    expect(answer).toMatchObject({
      ok: true,
      results: [
        {
          outcome: 'previewed',
          reason: expect.stringMatching(
            /^dry-run: would start desktop \S+ \(SHUTOFF, UNREGISTER; os-start SOFT\), then retry once it is ready/,
          ),
        },
      ],
    });
    const request = (answer as Extract<ManualAnswer, { ok: true }>).results[0]!.request!;
    expect(request).toMatchObject({
      method: 'POST',
      url: expect.stringMatching(/\/v2\/[0-9a-f]{32}\/desktops\/action$/),
    });
    expect(JSON.parse(request.body!)).toEqual({
      desktop_ids: [failure.resource_id],
      op_type: 'os-start',
      type: 'SOFT',
    });
    expect(routes).toContain('list-desktops');
    expect(routes).not.toContain('desktop-action');
    expect(await chainOf(failure.record_id)).toBeUndefined();
  });

  it('on a ready desktop, says what the read found beside the retry it would send', async () => {
    const failure = failureOn({});
    const answer = await dryRun(failure.record_id);
    expect(answer).toMatchObject({
      ok: true,
      results: [
        {
          outcome: 'previewed',
          reason: `dry-run: would retry now (rule manual-request); desktop ${failure.resource_id} is ACTIVE, REGISTERED`,
        },
      ],
    });
  });
});
