import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ManualAnswer } from '../../lib/ways-in/manual.js';
import { lambdaContext, toRecord } from '../../local/poller.js';
import { RETRY_READINGS } from '../../local/workspace-state.js';
import { inCloudEvent, inEventBridge, inSns } from '../helpers/envelopes.js';
import { body, failedRecord, minutesAgo, PROJECT_ID, plainFailure, recordFor } from '../helpers/factories.js';
import { attr, type Harness, invoke, outcomesOf, sqsEvent, startHarness } from '../helpers/harness.js';

/**
 * One regression test per case of docs/ledger-protocol.md ("The cases"),
 * through the real handlers on the local stack, under every reading of what
 * Workspace's retry does (docs/workspace-api.md, "What a retry does"): a new
 * task, the original task, or the record run again in place. Time jumps past
 * leases with a faked Date, never a sleep.
 */

type Manual = (event: unknown, context: Context) => Promise<ManualAnswer>;
let h: Harness;
const QUICK = JSON.stringify({ backoff: { base_seconds: 1, max_seconds: 1 } });

/** A failed record Workspace knows, and its failure event (record + task, as real events carry). */
function knownFailure(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const failure = plainFailure(overrides);
  h.stack.simulator.seedRecords(PROJECT_ID, [recordFor(failure)]);
  return failure;
}

/** Jumps the clock this process sees (the function, the ledger's leases) forward. */
function jump(ms: number): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + ms);
}

/** The new runs Workspace made for a record's retries, failing now (the retry failed again). */
function failNewRunsOf(recordId: string): string[] {
  const runs = h.stack.simulator.retries
    .filter((r) => r.target.recordId === recordId)
    .flatMap((r) => r.reruns.map((rerun) => rerun.newRecordId));
  for (const run of runs)
    h.stack.simulator.finishRun(PROJECT_ID, run, { status: 'FAILED', reason: 'Script execution timed out' });
  return runs;
}

describe.each(RETRY_READINGS)('the ledger protocol, case by case (retry reading: %s)', (reading) => {
  beforeAll(async () => {
    h = await startHarness({ simulator: { reading } });
  });
  afterAll(() => h.stop());
  afterEach(() => {
    vi.useRealTimers();
    h.stack.simulator.clearFaults();
  });

  it.each([
    ['an SNS notification (MessageId)', inSns],
    ['an EventBridge event (id)', inEventBridge],
    ['a CloudEvent (id)', inCloudEvent],
    [
      'a plain event with event_id',
      (f: Record<string, unknown>) => ({ ...f, event_id: `evt-${String(f['record_id'])}` }),
    ],
  ])('case 1: %s deferred once is retried when its copy comes back, not dropped as a duplicate', async (_, wrap) => {
    const handler = await h.loadHandler('queue', { POWERTOOLS_LOG_LEVEL: 'INFO', WORKSPACE_IN_CALL_RETRIES: '0' });
    const failure = knownFailure();
    const event = body(wrap(failure));
    h.stack.simulator.planFaults({ kind: '503', route: 'retry' });
    const outcomes = await outcomesOf(async () => {
      await invoke(handler, sqsEvent([event]));
      await invoke(handler, sqsEvent([event]));
    });
    expect(outcomes.map((o) => o['kind'])).toEqual(['deferred', 'retried']);
    expect(h.stack.simulator.rerunsOf(String(failure['record_id']))).toBe(1);
  });

  it.each(['stall-after', 'reset-after', 'garbled-after', '5xx-after'] as const)(
    'case 2: a retry whose answer is lost after it landed (%s) is found by the lookup: the script runs once',
    async (fault) => {
      const handler = await h.loadHandler('queue', {
        POWERTOOLS_LOG_LEVEL: 'INFO',
        WORKSPACE_TIMEOUT_MS: '300',
        WORKSPACE_IN_CALL_RETRIES: '1',
      });
      const failure = knownFailure();
      h.stack.simulator.forceFaults(fault);
      const first = await outcomesOf(() => invoke(handler, sqsEvent([body(failure)])));
      expect(first[0]).toMatchObject({ kind: 'deferred', code: 'outcome-unknown' });
      jump(200_000); // past the lease (60 s) and the clock-skew allowance (120 s)
      const second = await outcomesOf(() => invoke(handler, sqsEvent([body(failure)])));
      expect(second[0]).toMatchObject({ kind: 'retried', via: 'lookup' });
      expect(h.stack.simulator.rerunsOf(String(failure['record_id']))).toBe(1);
    },
  );

  it("case 2, later run: the lost retry's own run failing and reported before the lookup belongs to its chain, so max_attempts holds", async () => {
    const handler = await h.loadHandler('queue', {
      POWERTOOLS_LOG_LEVEL: 'INFO',
      WORKSPACE_TIMEOUT_MS: '300',
      WORKSPACE_IN_CALL_RETRIES: '0',
      RETRY_POLICY: JSON.stringify({ max_attempts: 1 }),
    });
    const failure = knownFailure();
    h.stack.simulator.forceFaults('reset-after');
    await invoke(handler, sqsEvent([body(failure)]));
    const [lostRun] = failNewRunsOf(String(failure['record_id']));
    const event = body({ ...h.stack.simulator.state.record(PROJECT_ID, lostRun!), project_id: PROJECT_ID });
    const during = await outcomesOf(() => invoke(handler, sqsEvent([event])));
    expect(during[0]).toMatchObject({ kind: 'deferred' });
    jump(200_000); // past the lease (60 s) and the clock-skew allowance (120 s)
    const after = await outcomesOf(() => invoke(handler, sqsEvent([event])));
    expect(after[0]).toMatchObject({ kind: 'dead-lettered', ruleId: 'max-attempts' });
    expect(h.stack.simulator.rerunsOfRun(h.stack.simulator.state.runKey(PROJECT_ID, lostRun!)!)).toBe(0);
  });

  it("case 3: a task failing on four desktops is four failures, and each one's next run is its own attempt 2", async () => {
    const handler = await h.loadHandler('queue', { POWERTOOLS_LOG_LEVEL: 'INFO', RETRY_POLICY: QUICK });
    const task = `task-four-${Date.now()}`;
    const records = Array.from({ length: 4 }, (_, i) =>
      failedRecord({ id: `${task}-r${i}`, script_task_id: task, resource_id: `desk-${task}-${i}` }),
    );
    h.stack.simulator.seedRecords(PROJECT_ID, records);
    await h.send([
      body({ project_id: PROJECT_ID, task_id: task, status: 'FAILED', reason: 'Script execution timed out' }),
    ]);
    await h.drain(handler);
    for (const r of records) expect(h.stack.simulator.rerunsOf(r.id)).toBe(1);

    // Each retry's run fails again on its desktop: four record events, four chains, four second attempts.
    jump(5_000);
    const again = records.flatMap((r) => failNewRunsOf(r.id));
    expect(again).toHaveLength(4);
    const events = again.map((id) => ({ ...h.stack.simulator.state.record(PROJECT_ID, id), project_id: PROJECT_ID }));
    const outcomes = await outcomesOf(() => invoke(handler, sqsEvent(events.map(body))));
    expect(outcomes.map((o) => [o['kind'], o['attempt']])).toEqual(Array.from({ length: 4 }, () => ['retried', 2]));
  });

  it('case 4: a dead letter replayed to the source queue after the cause is fixed is decided again, once', async () => {
    const giveUp = await h.loadHandler('queue');
    const failure = knownFailure({ reason: 'Script exited with code 2' });
    await h.takeAll(h.stack.dlqUrl);
    await invoke(giveUp, sqsEvent([body(failure)]));
    const [letter] = await h.takeAll(h.stack.dlqUrl);
    expect(attr(letter!, 'rule_id')).toBe('script-error');

    // The operator fixed the script, changed the policy, and redrives the DLQ: the letter keeps its attributes.
    const fixed = await h.loadHandler('queue', {
      POWERTOOLS_LOG_LEVEL: 'INFO',
      RETRY_POLICY: JSON.stringify({ rules: [{ id: 'fixed', verdict: 'retry', reason_contains: ['exited'] }] }),
    });
    const replay = { Records: [toRecord(letter!, h.stack.queueArn), toRecord(letter!, h.stack.queueArn)] };
    replay.Records[1] = { ...replay.Records[1]!, messageId: `${replay.Records[1]!.messageId}-copy` };
    const outcomes = await outcomesOf(async () => {
      await invoke(fixed, { Records: [replay.Records[0]!] });
      await invoke(fixed, { Records: [replay.Records[1]!] });
    });
    expect(outcomes.map((o) => o['kind'])).toEqual(['retried', 'duplicate']);
    expect(h.stack.simulator.rerunsOf(String(failure['record_id']))).toBe(1);
  });

  it('case 5: the console answers a deferral instead of enqueueing it, and a dry run under the kill switch sends and writes nothing', async () => {
    const manual = await h.loadHandler<Manual>('manual', { RETRIES_ENABLED: 'false' });
    h.stack.simulator.seedRecords(PROJECT_ID, [failedRecord({ id: 'console-kill' })]);
    const depth = await h.stack.depth(h.stack.queueUrl);
    const deferred = await manual(
      { project_id: PROJECT_ID, record_id: 'console-kill' },
      lambdaContext('retryManually', 120_000),
    );
    const dry = await manual(
      { project_id: PROJECT_ID, record_id: 'console-kill', dry_run: true },
      lambdaContext('retryManually', 120_000),
    );
    expect(deferred.ok && deferred.results[0]).toMatchObject({ outcome: 'deferred', retry_after_seconds: 900 });
    expect(dry.ok && dry.results[0]).toMatchObject({ outcome: 'previewed' });
    expect(await h.stack.depth(h.stack.queueUrl)).toEqual(depth);
    expect(h.stack.simulator.rerunsOf('console-kill')).toBe(0);
  });

  it('case 6: events that name only a record follow the lineage through a lookup, so max_attempts 1 stops the second run', async () => {
    const handler = await h.loadHandler('queue', {
      POWERTOOLS_LOG_LEVEL: 'INFO',
      RETRY_POLICY: JSON.stringify({ max_attempts: 1 }),
    });
    const failure = knownFailure();
    await invoke(handler, sqsEvent([body({ ...failure, task_id: undefined })]));
    const [next] = failNewRunsOf(String(failure['record_id']));
    const outcomes = await outcomesOf(() =>
      invoke(
        handler,
        sqsEvent([
          body({ project_id: PROJECT_ID, record_id: next, status: 'FAILED', reason: 'Script execution timed out' }),
        ]),
      ),
    );
    expect(outcomes[0]).toMatchObject({ kind: 'dead-lettered', ruleId: 'max-attempts' });
    expect(h.stack.simulator.rerunsOfRun(h.stack.simulator.state.runKey(PROJECT_ID, next!)!)).toBe(0);
  });

  it('case 8: force never retries a run already retried, even when a later run of its chain was dead-lettered', async () => {
    const queue = await h.loadHandler('queue', { RETRY_POLICY: JSON.stringify({ max_attempts: 1 }) });
    const failure = knownFailure();
    await invoke(queue, sqsEvent([body(failure)]));
    const [next] = failNewRunsOf(String(failure['record_id']));
    await invoke(
      queue,
      sqsEvent([body({ ...h.stack.simulator.state.record(PROJECT_ID, next!), project_id: PROJECT_ID })]),
    );
    const manual = await h.loadHandler<Manual>('manual', { RETRY_POLICY: JSON.stringify({ max_attempts: 1 }) });
    const forceOld = await manual(
      { project_id: PROJECT_ID, record_id: String(failure['record_id']), force: true, reason: 'INC-7' },
      lambdaContext('retryManually', 120_000),
    );
    const forceNew = await manual(
      { project_id: PROJECT_ID, record_id: next!, force: true, reason: 'INC-7' },
      lambdaContext('retryManually', 120_000),
    );
    // In place, both requests name one record: the first is its current (dead-lettered) run, the second finds that run
    // retried.
    const [first, second] = reading === 'in-place' ? ['retried', 'duplicate'] : ['duplicate', 'retried'];
    expect(forceOld.ok && forceOld.results[0]).toMatchObject({ outcome: first });
    expect(forceNew.ok && forceNew.results[0]).toMatchObject({ outcome: second });
    expect(
      [forceOld, forceNew].flatMap((a) => (a.ok ? a.results : [])).find((r) => r.outcome === 'retried'),
    ).toMatchObject({ forced: true, attempt: 2 });
    expect(h.stack.simulator.rerunsOfRun(`${String(failure['record_id'])}#0`)).toBe(1);
    expect(
      h.stack.simulator.retries.filter((r) => [String(failure['record_id']), next].includes(r.target.recordId)),
    ).toHaveLength(2);
  });

  it('case 9: a lease shorter than the worst-case call is refused at cold start, naming the variable', async () => {
    await expect(h.loadHandler('queue', { LEDGER_LEASE_SECONDS: '5' })).rejects.toThrow(
      /LEDGER_LEASE_SECONDS must be at least \d+/,
    );
  });

  it("case 10: the console keeps max_age from the record's end and per-script overrides from its script", async () => {
    h.stack.simulator.seedRecords(PROJECT_ID, [
      failedRecord({ id: 'console-old', start_time: minutesAgo(3 * 1440), end_time: minutesAgo(3 * 1440 - 1) }),
      failedRecord({ id: 'console-script', script_id: 'frozen-script' }),
    ]);
    const manual = await h.loadHandler<Manual>('manual', {
      RETRY_POLICY: JSON.stringify({ scripts: { 'frozen-script': { retries_enabled: false } } }),
    });
    const answer = await manual(
      {
        items: [
          { project_id: PROJECT_ID, record_id: 'console-old' },
          { project_id: PROJECT_ID, record_id: 'console-script' },
        ],
      },
      lambdaContext('retryManually', 120_000),
    );
    expect(answer.ok && answer.results.map((r) => r.rule_id)).toEqual(['max-age', 'retries-disabled']);
    expect(h.stack.simulator.rerunsOf('console-old') + h.stack.simulator.rerunsOf('console-script')).toBe(0);
  });

  it('case 11: a give-up for a run whose retry is pending waits for it, and after the lease the run ends exactly once', async () => {
    const handler = await h.loadHandler('queue', {
      POWERTOOLS_LOG_LEVEL: 'INFO',
      WORKSPACE_TIMEOUT_MS: '300',
      WORKSPACE_IN_CALL_RETRIES: '0',
    });
    const failure = knownFailure();
    // The first delivery's call is cut off (its answer lost, the retry did not land).
    h.stack.simulator.planFaults({ kind: 'reset', route: 'retry' });
    await invoke(handler, sqsEvent([body(failure)]));
    const giveUp = { ...failure, reason: 'Access denied' };
    const during = await outcomesOf(() => invoke(handler, sqsEvent([body(giveUp)])));
    expect(during[0]).toMatchObject({ kind: 'deferred' });
    jump(200_000); // past the lease (60 s) and the clock-skew allowance (120 s)
    const after = await outcomesOf(() => invoke(handler, sqsEvent([body(failure)])));
    expect(after[0]).toMatchObject({ kind: 'retried', via: 'answer', attempt: 1 });
    expect(h.stack.simulator.rerunsOf(String(failure['record_id']))).toBe(1);
  });

  it('case 12: each failure delivered again after its retry, in another envelope, is a duplicate: one retry per failed run', async () => {
    const handler = await h.loadHandler('queue', { POWERTOOLS_LOG_LEVEL: 'INFO' });
    const failures = Array.from({ length: 4 }, () => knownFailure());
    // Workspace's records as they were when they failed (in place, a retry changes the record itself).
    const records = failures.map((f) => ({
      ...h.stack.simulator.state.record(PROJECT_ID, String(f['record_id'])),
      project_id: PROJECT_ID,
    }));
    await invoke(handler, sqsEvent(failures.map((f, i) => body(i % 2 ? records[i] : f))));
    const again = await outcomesOf(() =>
      invoke(handler, sqsEvent(failures.map((f, i) => body(i % 2 ? f : inSns(records[i]))))),
    );
    expect(again.map((o) => o['kind'])).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate']);
    for (const f of failures) expect(h.stack.simulator.rerunsOfRun(`${String(f['record_id'])}#0`)).toBe(1);
  });

  it.each([
    [
      'a plain event (no start)',
      (run: Record<string, unknown>) => ({
        project_id: PROJECT_ID,
        record_id: run['id'],
        task_id: run['script_task_id'],
        resource_id: run['resource_id'],
        script_id: run['script_id'],
        status: 'FAILED',
        reason: 'Script execution timed out',
      }),
    ],
    ["Workspace's record", (run: Record<string, unknown>) => ({ ...run, project_id: PROJECT_ID })],
  ])(
    "case 13: a retried run that fails again, told by %s, is its chain's next attempt: dead-lettered under max_attempts 1, never a duplicate",
    async (_, eventOf) => {
      const handler = await h.loadHandler('queue', {
        POWERTOOLS_LOG_LEVEL: 'INFO',
        RETRY_POLICY: JSON.stringify({ max_attempts: 1 }),
      });
      const failure = knownFailure();
      await invoke(handler, sqsEvent([body(failure)]));
      jump(5_000);
      const [next] = failNewRunsOf(String(failure['record_id']));
      const run = h.stack.simulator.state.record(PROJECT_ID, next!)! as unknown as Record<string, unknown>;
      const outcomes = await outcomesOf(() => invoke(handler, sqsEvent([body(eventOf(run))])));
      expect(outcomes[0]).toMatchObject({ kind: 'dead-lettered', ruleId: 'max-attempts' });
      const again = await outcomesOf(() => invoke(handler, sqsEvent([body(eventOf(run))])));
      expect(again[0]).toMatchObject({ kind: 'duplicate' });
      expect(h.stack.simulator.rerunsOfRun(`${String(failure['record_id'])}#0`)).toBe(1);
    },
  );

  it('case 14: the lost-answer lookup never takes a run another chain owns, even one of the same script and desktop started inside the skew window', async () => {
    const handler = await h.loadHandler('queue', {
      POWERTOOLS_LOG_LEVEL: 'INFO',
      WORKSPACE_TIMEOUT_MS: '300',
      WORKSPACE_IN_CALL_RETRIES: '0',
    });
    const task = `shared-${reading}-${Date.now()}`;
    const [r1, r2] = [
      failedRecord({
        id: `${task}-a`,
        script_task_id: `${task}-ta`,
        resource_id: `${task}-desk`,
        script_id: 'shared-script',
        start_time: minutesAgo(5),
        end_time: minutesAgo(4),
      }),
      failedRecord({
        id: `${task}-b`,
        script_task_id: `${task}-tb`,
        resource_id: `${task}-desk`,
        script_id: 'shared-script',
        start_time: minutesAgo(1),
        end_time: minutesAgo(0.5),
      }),
    ];
    h.stack.simulator.seedRecords(PROJECT_ID, [r1!, r2!]);
    const eventOf = (r: typeof r1) => body({ ...r, project_id: PROJECT_ID });
    // r2, the same script on the same desktop, is retried; then r1's retry is cut off before Workspace ran it: its
    // outcome is unknown.
    await invoke(handler, sqsEvent([eventOf(r2)]));
    expect(h.stack.simulator.rerunsOfRun(`${r2!.id}#0`)).toBe(1);
    h.stack.simulator.planFaults({ kind: 'reset', route: 'retry' });
    await invoke(handler, sqsEvent([eventOf(r1)]));
    // Past r1's lease: its lookup sees r2 and r2's retry's run, both r2's chain's, and takes neither for its own.
    jump(200_000);
    const after = await outcomesOf(() => invoke(handler, sqsEvent([eventOf(r1)])));
    expect(after[0]).toMatchObject({ kind: 'retried', via: 'answer' });
    const r2Again = await outcomesOf(() => invoke(handler, sqsEvent([eventOf(r2)])));
    expect(r2Again[0]).toMatchObject({ kind: 'duplicate' });
    expect([h.stack.simulator.rerunsOfRun(`${r1!.id}#0`), h.stack.simulator.rerunsOfRun(`${r2!.id}#0`)]).toEqual([
      1, 1,
    ]);
  });

  it('case 15: a task event delivered again after its records were retried retries nothing and dead-letters nothing', async () => {
    const handler = await h.loadHandler('queue', { POWERTOOLS_LOG_LEVEL: 'INFO' });
    const task = `again-${reading}-${Date.now()}`;
    const records = [0, 1].map((i) =>
      failedRecord({
        id: `${task}-r${i}`,
        script_task_id: task,
        resource_id: `${task}-d${i}`,
        start_time: minutesAgo(5),
        end_time: minutesAgo(4),
      }),
    );
    h.stack.simulator.seedRecords(PROJECT_ID, records);
    const taskEvent = body({
      project_id: PROJECT_ID,
      task_id: task,
      status: 'FAILED',
      reason: 'Script execution timed out',
    });
    await h.takeAll(h.stack.dlqUrl);
    await h.send([taskEvent]);
    await h.drain(handler);
    await h.send([taskEvent]);
    await h.drain(handler);
    for (const r of records) expect(h.stack.simulator.rerunsOfRun(`${r.id}#0`)).toBe(1);
    expect(await h.takeAll(h.stack.dlqUrl)).toEqual([]);
  });

  it('case 16: a failure whose record someone ran again meanwhile is not retried when that run did not fail (in place), else retried once', async () => {
    const handler = await h.loadHandler('queue', { POWERTOOLS_LOG_LEVEL: 'INFO' });
    const failure = knownFailure();
    const recordId = String(failure['record_id']);
    // Someone retries it by hand first: in place, the record itself is RUNNING again.
    h.stack.simulator.state.retry(PROJECT_ID, { recordId });
    const outcomes = await outcomesOf(() => invoke(handler, sqsEvent([body(failure)])));
    if (reading === 'in-place') {
      expect(outcomes[0]).toMatchObject({ kind: 'duplicate', code: 'superseded' });
      expect(String(outcomes[0]!['reason'])).toMatch(/record .* has run again since this failure/);
      expect(h.stack.simulator.retryCount(recordId)).toBe(1);
    } else {
      expect(outcomes[0]).toMatchObject({ kind: 'retried' });
      expect(h.stack.simulator.retryCount(recordId)).toBe(2);
    }
  });
});
