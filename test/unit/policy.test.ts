import { describe, expect, it } from 'vitest';
import type { ScriptFailure } from '../../lib/events/failure.js';
import { equalJitterSeconds } from '../../lib/platform/backoff.js';
import { type DecisionInput, decide, desktopRequirementOf, statusVerdict } from '../../lib/policy/policy.js';
import { loadPolicy } from '../../lib/policy/policy-config.js';

const NOW = Date.parse('2026-11-29T12:00:00Z');
const policy = loadPolicy(undefined);
const failure = (overrides: Partial<ScriptFailure> = {}): ScriptFailure => ({
  projectId: 'p1',
  recordId: 'r1',
  status: 'FAILED',
  shape: 'plain',
  failedAt: NOW - 60_000,
  ...overrides,
});
const input = (overrides: Partial<DecisionInput> = {}): DecisionInput => ({
  failure: failure(),
  attempts: { count: 0 },
  policy,
  now: NOW,
  firstSeenAt: NOW,
  jitter: 0.5,
  ...overrides,
});

describe('the default policy, as a table', () => {
  it.each([
    ['Script execution timed out', 'retry-now', 'timeout'],
    ['Deadline exceeded while waiting for output', 'retry-now', 'timeout'],
    ['Network connection reset', 'retry-now', 'network'],
    ['Service busy, try again later', 'retry-now', 'service-busy'],
    ['Access denied: needs administrator permission', 'give-up', 'permission-denied'],
    ['Script file not found', 'give-up', 'not-found'],
    ['Script exited with code 1', 'give-up', 'script-error'],
    ['Something nobody has seen before', 'give-up', 'default'],
  ])('%j → %s by rule %s', (reason, kind, ruleId) => {
    expect(decide(input({ failure: failure({ reason }) }))).toMatchObject({ kind, ruleId });
  });

  it('waits for a desktop that was offline: retry later, the rest of its 120 s', () => {
    expect(decide(input({ failure: failure({ reason: 'Desktop is offline', failedAt: NOW - 20_000 }) }))).toEqual({
      kind: 'retry-later',
      ruleId: 'desktop-not-ready',
      attempt: 1,
      delaySeconds: 100,
    });
    expect(
      decide(input({ failure: failure({ reason: 'Desktop is offline', failedAt: NOW - 200_000 }) })),
    ).toMatchObject({ kind: 'retry-now' });
  });

  it('matches result codes as well as reasons', () => {
    expect(decide(input({ failure: failure({ resultCode: 'WKS.00081102', reason: undefined }) }))).toMatchObject({
      kind: 'give-up',
      ruleId: 'permission-denied',
    });
  });

  it('gives up on a failure older than max_age_seconds, using first-seen when the event has no time', () => {
    expect(decide(input({ failure: failure({ reason: 'timed out', failedAt: NOW - 86_401_000 }) }))).toMatchObject({
      kind: 'give-up',
      ruleId: 'max-age',
    });
    expect(
      decide(input({ failure: failure({ reason: 'timed out', failedAt: undefined }), firstSeenAt: NOW - 90_000_000 })),
    ).toMatchObject({ kind: 'give-up', ruleId: 'max-age' });
  });

  it('gives up at max_attempts', () => {
    expect(
      decide(
        input({ failure: failure({ reason: 'timed out' }), attempts: { count: 3, lastAttemptAt: NOW - 10_000_000 } }),
      ),
    ).toEqual({ kind: 'give-up', ruleId: 'max-attempts', reason: '3 attempts made, max_attempts is 3' });
  });

  it('backs off between attempts from the last attempt, within [ceiling/2, ceiling]', () => {
    const later = decide(
      input({ failure: failure({ reason: 'timed out' }), attempts: { count: 1, lastAttemptAt: NOW - 10_000 } }),
    );
    expect(later).toMatchObject({ kind: 'retry-later', attempt: 2 });
    expect((later as { delaySeconds: number }).delaySeconds).toBe(45 - 10);
    expect(
      decide(input({ failure: failure({ reason: 'timed out' }), attempts: { count: 1, lastAttemptAt: NOW - 61_000 } })),
    ).toMatchObject({ kind: 'retry-now', attempt: 2 });
  });
});

describe('status words (docs/workspace-api.md, "Status words")', () => {
  it.each([
    ['FAILED', 'failure'],
    ['FAIL', 'failure'],
    ['failed', 'failure'],
    [' Failed ', 'failure'],
    [undefined, 'failure'],
    ['', 'failure'],
  ] as const)('a record whose status is %j is a failure to decide on', (status, kind) => {
    expect(statusVerdict(failure({ status }), policy)).toEqual({ kind });
  });

  it.each([
    ['SUCCESS', 'succeeded'],
    ['SKIP', 'skipped'],
    ['SKIPPED', 'skipped'],
    ['skipped', 'skipped'],
    ['RUNNING', 'in-progress'],
    ['WAITING', 'in-progress'],
    ['INIT', 'in-progress'],
    ['FINISH', 'finished'],
  ] as const)(
    'a record whose status is %s is not a failure (%s): nothing to retry, whatever its reason',
    (status, state) => {
      expect(statusVerdict(failure({ status, reason: 'timed out' }), policy)).toEqual({
        kind: 'not-failed',
        status: status.toUpperCase(),
        state,
        reason: expect.stringMatching(/^not-failed: status [A-Z]+ \([a-z-]+\) is not a failure/),
      });
    },
  );

  it('a task that FINISHed may hold failed records: a task-level event is looked into; one that succeeded is not', () => {
    expect(statusVerdict(failure({ recordId: undefined, taskId: 't1', status: 'FINISH' }), policy)).toEqual({
      kind: 'failure',
    });
    expect(statusVerdict(failure({ recordId: undefined, taskId: 't1', status: 'SUCCESS' }), policy)).toMatchObject({
      kind: 'not-failed',
      state: 'succeeded',
    });
  });

  it('an unknown word is surfaced, never retried nor taken for a success', () => {
    expect(statusVerdict(failure({ status: 'TIMEOUT', reason: 'timed out' }), policy)).toEqual({
      kind: 'unknown-status',
      status: 'TIMEOUT',
      reason:
        'unknown-status: status "TIMEOUT" is none of FAILED, FAIL, SUCCESS, SKIP, SKIPPED, RUNNING, WAITING, INIT, FINISH; a policy rule listing it under statuses has it decided as a failure',
    });
  });

  it('an unknown word that a rule of the project lists under statuses is a failure, decided by that rule', () => {
    // Prepare
    const listing = loadPolicy(
      JSON.stringify({ projects: { p1: { rules: [{ id: 'timeouts', verdict: 'retry', statuses: ['timeout'] }] } } }),
    );
    const other = failure({ projectId: 'p2', status: 'TIMEOUT' });

    // Act
    const verdict = statusVerdict(failure({ status: 'TIMEOUT' }), listing);

    // Assess
    expect(verdict).toEqual({ kind: 'failure' });
    expect(decide(input({ failure: failure({ status: 'TIMEOUT' }), policy: listing }))).toMatchObject({
      kind: 'retry-now',
      ruleId: 'timeouts',
    });
    expect(statusVerdict(other, listing)).toMatchObject({ kind: 'unknown-status' });
  });
});

describe('backoff', () => {
  it.each([
    [0, 0, 0],
    [1, 0, 30],
    [1, 0.999, 60],
    [2, 0, 60],
    [3, 0.5, 180],
    [10, 1, 3600],
  ])('after %i attempts with jitter %f waits %i s', (attempts, jitter, seconds) => {
    expect(equalJitterSeconds(attempts, policy, jitter)).toBe(seconds);
  });
});

describe('overrides and switches', () => {
  const custom = loadPolicy(
    JSON.stringify({
      max_attempts: 2,
      projects: {
        p2: { max_attempts: 5, rules: [{ id: 'p2-exit-code', verdict: 'retry', reason_contains: ['exit code 3'] }] },
        p3: { retries_enabled: false },
      },
      scripts: { s9: { max_attempts: 1 } },
    }),
  );

  it('applies project rules before the global ones, and script over project', () => {
    const exit3 = failure({ projectId: 'p2', reason: 'Script exited with exit code 3' });
    expect(decide(input({ policy: custom, failure: exit3 }))).toMatchObject({
      kind: 'retry-now',
      ruleId: 'p2-exit-code',
    });
    expect(
      decide(
        input({ policy: custom, failure: failure({ projectId: 'p1', reason: 'Script exited with exit code 3' }) }),
      ),
    ).toMatchObject({ kind: 'give-up', ruleId: 'script-error' });
    expect(
      decide(
        input({ policy: custom, failure: { ...exit3, reason: 'timed out' }, attempts: { count: 4, lastAttemptAt: 0 } }),
      ),
    ).toMatchObject({ kind: 'retry-now' });
    expect(
      decide(
        input({
          policy: custom,
          failure: { ...exit3, reason: 'timed out', scriptId: 's9' },
          attempts: { count: 1, lastAttemptAt: 0 },
        }),
      ),
    ).toMatchObject({ kind: 'give-up', ruleId: 'max-attempts' });
  });

  it('disables retries for a project', () => {
    expect(decide(input({ policy: custom, failure: failure({ projectId: 'p3', reason: 'timed out' }) }))).toMatchObject(
      { kind: 'give-up', ruleId: 'retries-disabled' },
    );
  });

  it('can default to retry when no rule matches', () => {
    const lenient = loadPolicy('{"default_verdict":"retry"}');
    expect(decide(input({ policy: lenient, failure: failure({ reason: 'mystery' }) }))).toMatchObject({
      kind: 'retry-now',
      ruleId: 'default',
    });
  });
});

describe('what a retry needs of its desktop (`desktop`)', () => {
  const desktop = { require: 'registered', wake: true, wait_max_seconds: 900 };
  const rules = [
    { id: 'desktop-not-ready', verdict: 'retry', reason_contains: ['offline'], desktop },
    { id: 'timeout', verdict: 'retry', reason_contains: ['timed out'] },
  ];

  it('a rule that names one passes it on with its retry, the defaults filled in', () => {
    // Prepare
    const withDesktop = loadPolicy(JSON.stringify({ rules }));

    // Act
    const decision = decide(input({ policy: withDesktop, failure: failure({ reason: 'Desktop is offline' }) }));

    // Assess
    expect(decision).toEqual({
      kind: 'retry-now',
      ruleId: 'desktop-not-ready',
      attempt: 1,
      desktop: { require: 'registered', wake: true, waitMaxSeconds: 900, onError: 'give-up', recheckSeconds: 60 },
    });
  });

  it("a rule that names none: the script's, else the project's, else none at all", () => {
    // Prepare
    const byProject = { require: 'active' };
    const byScript = { wake: true };
    const policy = loadPolicy(
      JSON.stringify({ rules, projects: { p1: { desktop: byProject } }, scripts: { s1: { desktop: byScript } } }),
    );
    const timeout = (overrides: Partial<ScriptFailure>) =>
      decide(input({ policy, failure: failure({ reason: 'Script timed out', ...overrides }) }));

    // Act, Assess
    expect(timeout({ scriptId: 's1' })).toMatchObject({ desktop: { require: 'registered', wake: true } });
    expect(timeout({ scriptId: 's2' })).toMatchObject({ desktop: { require: 'active', wake: false } });
    expect(timeout({ projectId: 'p2' })).not.toHaveProperty('desktop');
  });

  it("the rule's own comes before the script's", () => {
    const policy = loadPolicy(JSON.stringify({ rules, scripts: { s1: { desktop: { wake: false } } } }));
    expect(desktopRequirementOf(policy, failure({ reason: 'Desktop is offline', scriptId: 's1' }))).toMatchObject({
      wake: true,
      waitMaxSeconds: 900,
    });
  });

  it('is not looked at by a wait or a give-up: only a retry due now reads the desktop', () => {
    const policy = loadPolicy(JSON.stringify({ rules: [{ ...rules[0], delay_seconds: 120 }] }));
    expect(decide(input({ policy, failure: failure({ reason: 'Desktop is offline', failedAt: NOW }) }))).toEqual({
      kind: 'retry-later',
      ruleId: 'desktop-not-ready',
      attempt: 1,
      delaySeconds: 120,
    });
  });

  it.each([
    [{ require: 'on' }, /rules\.0\.desktop\.require/],
    [{ wait_max_seconds: 5 }, /rules\.0\.desktop\.wait_max_seconds/],
    [{ recheck_seconds: 0 }, /rules\.0\.desktop\.recheck_seconds/],
    [{ on_error: 'retry' }, /rules\.0\.desktop\.on_error/],
    [{ wake: 'yes' }, /rules\.0\.desktop\.wake/],
    [{ power: 'on' }, /rules\.0\.desktop\.power: is not a known field/],
  ])('refuses %j, naming the field', (bad, message) => {
    expect(() => loadPolicy(JSON.stringify({ rules: [{ ...rules[0], desktop: bad }] }))).toThrow(message);
  });
});
