/**
 * The retry decision: a pure function of the failure, the attempts already
 * made, the policy and the clock. No I/O, so it is tested as a table.
 */

import type { ScriptFailure } from '../events/failure.js';
import { KNOWN_STATUS_WORDS, type RunState, runStateOf, statusWord } from '../events/run-status.js';
import { equalJitterSeconds } from '../platform/backoff.js';
import type { DesktopRequirement, PolicyOverride, PolicyRule, RetryPolicy } from './policy-config.js';

/** Attempts already made for this failure, from the ledger (or none). */
export interface AttemptHistory {
  readonly count: number;
  readonly lastAttemptAt?: number | undefined;
}

/** Everything a decision depends on; decide reads nothing else. */
export interface DecisionInput {
  readonly failure: ScriptFailure;
  readonly attempts: AttemptHistory;
  readonly policy: RetryPolicy;
  readonly now: number;
  /** When the failure was first seen, for its age when the event has no failed_at. */
  readonly firstSeenAt: number;
  /** A number in [0, 1) for the jitter, stable per failure and attempt so redeliveries agree. */
  readonly jitter: number;
  /**
   * An operator asked for this retry (the console): with no failure reason to classify, no rule
   * matches, and the request itself is the verdict (rule `manual-request`); the limits still apply.
   */
  readonly requestedByOperator?: boolean | undefined;
}

/**
 * The decision: retry now, retry after `delaySeconds`, or give up with the reason; `ruleId` names the rule that
 * decided.
 */
export type Decision =
  /** `desktop`: what the retry needs of its desktop, read before the claim (lib/pipeline/desktop-gate.ts). */
  | {
      readonly kind: 'retry-now';
      readonly ruleId: string;
      readonly attempt: number;
      readonly desktop?: DesktopRequirement | undefined;
    }
  | { readonly kind: 'retry-later'; readonly ruleId: string; readonly attempt: number; readonly delaySeconds: number }
  | { readonly kind: 'give-up'; readonly ruleId: string; readonly reason: string };

interface Effective {
  readonly maxAttempts: number;
  readonly maxAgeSeconds: number;
  readonly retriesEnabled: boolean;
  readonly rules: readonly PolicyRule[];
  readonly desktop?: DesktopRequirement | undefined;
}

/** Script override over project override over the global policy; override rules are tried first. */
export function effectivePolicy(policy: RetryPolicy, projectId: string, scriptId: string | undefined): Effective {
  const layers: PolicyOverride[] = [
    policy.projects.get(projectId),
    scriptId ? policy.scripts.get(scriptId) : undefined,
  ].filter((o): o is PolicyOverride => o !== undefined);
  let effective: Effective = {
    maxAttempts: policy.maxAttempts,
    maxAgeSeconds: policy.maxAgeSeconds,
    retriesEnabled: true,
    rules: policy.rules,
  };
  for (const o of layers) {
    effective = {
      maxAttempts: o.maxAttempts ?? effective.maxAttempts,
      maxAgeSeconds: o.maxAgeSeconds ?? effective.maxAgeSeconds,
      retriesEnabled: o.retriesEnabled ?? effective.retriesEnabled,
      rules: [...o.rules, ...effective.rules],
      desktop: o.desktop ?? effective.desktop,
    };
  }
  return effective;
}

/** The first rule that matches the failure's result code, reason or status. */
export function matchRule(rules: readonly PolicyRule[], failure: ScriptFailure): PolicyRule | undefined {
  const reason = failure.reason?.toLowerCase() ?? '';
  const status = failure.status?.toUpperCase() ?? '';
  return rules.find(
    (rule) =>
      (failure.resultCode !== undefined && rule.resultCodes.includes(failure.resultCode)) ||
      (reason !== '' && rule.reasonContains.some((s) => reason.includes(s))) ||
      (status !== '' && rule.statuses.includes(status)),
  );
}

/**
 * What a retry of this failure needs of its desktop: the matching rule's
 * `desktop`, else the script's override's, else the project's; none when
 * no one asks (the retry then goes without reading the desktop).
 */
export function desktopRequirementOf(policy: RetryPolicy, failure: ScriptFailure): DesktopRequirement | undefined {
  const effective = effectivePolicy(policy, failure.projectId, failure.scriptId);
  return matchRule(effective.rules, failure)?.desktop ?? effective.desktop;
}

/** What an event's status word means before anything else is looked at. */
export type StatusVerdict =
  | { readonly kind: 'failure' }
  /** A run that did not fail (succeeded, skipped, not ended yet): nothing to retry, nothing to surface. */
  | { readonly kind: 'not-failed'; readonly status: string; readonly state: RunState; readonly reason: string }
  /** A word Workspace's SDKs never use and no rule names: surfaced for a person, never guessed at. */
  | { readonly kind: 'unknown-status'; readonly status: string; readonly reason: string };

/**
 * Sorts an event by its status word (docs/workspace-api.md, "Status words").
 * FAILED and FAIL (or no status) are failures for `decide`. SUCCESS, SKIP,
 * SKIPPED, RUNNING, WAITING and INIT are not: a skipped run was never run, so
 * a retry would not repeat anything that failed. FINISH is not a failure of a
 * record, but a task that finished may hold failed records: a task-level
 * event is looked into. Any other word is unknown, unless a rule of the
 * effective policy lists it under `statuses`: then it is a failure.
 */
export function statusVerdict(failure: ScriptFailure, policy: RetryPolicy): StatusVerdict {
  const status = statusWord(failure.status);
  const state = runStateOf(status);
  if (state === 'failed' || status === undefined) return { kind: 'failure' };
  if (state === 'finished' && failure.recordId === undefined) return { kind: 'failure' };
  if (state !== 'unknown')
    return {
      kind: 'not-failed',
      status,
      state,
      reason: `not-failed: status ${status} (${state}) is not a failure; nothing to retry`,
    };
  if (effectivePolicy(policy, failure.projectId, failure.scriptId).rules.some((rule) => rule.statuses.includes(status)))
    return { kind: 'failure' };
  const known = KNOWN_STATUS_WORDS.join(', ');
  return {
    kind: 'unknown-status',
    status,
    reason: `unknown-status: status ${JSON.stringify(status.slice(0, 32))} is none of ${known}; a policy rule listing it under statuses has it decided as a failure`,
  };
}

/** Decides a failure (one whose status word is a failure's: see statusVerdict). */
export function decide(input: DecisionInput): Decision {
  const { failure, attempts, policy, now } = input;
  const effective = effectivePolicy(policy, failure.projectId, failure.scriptId);
  if (!effective.retriesEnabled) {
    return {
      kind: 'give-up',
      ruleId: 'retries-disabled',
      reason: 'retries are disabled for this project or script by policy',
    };
  }
  const failedAt = failure.failedAt ?? input.firstSeenAt;
  const ageSeconds = Math.floor((now - failedAt) / 1000);
  if (ageSeconds > effective.maxAgeSeconds) {
    return {
      kind: 'give-up',
      ruleId: 'max-age',
      reason: `failed ${ageSeconds} s ago, older than max_age_seconds ${effective.maxAgeSeconds}`,
    };
  }
  if (attempts.count >= effective.maxAttempts) {
    return {
      kind: 'give-up',
      ruleId: 'max-attempts',
      reason: `${attempts.count} attempts made, max_attempts is ${effective.maxAttempts}`,
    };
  }
  const rule = matchRule(effective.rules, failure);
  const ruleId = rule?.id ?? (input.requestedByOperator ? 'manual-request' : 'default');
  if ((rule?.verdict ?? (input.requestedByOperator ? 'retry' : policy.defaultVerdict)) === 'give-up') {
    const why = rule
      ? (rule.description ?? `matched rule ${rule.id}`)
      : 'no rule matched the failure and default_verdict is give-up';
    return { kind: 'give-up', ruleId, reason: `${ruleId}: ${why}` };
  }
  const attempt = attempts.count + 1;
  const readyAt =
    attempts.count === 0
      ? failedAt + (rule?.delaySeconds ?? 0) * 1000
      : (attempts.lastAttemptAt ?? failedAt) + equalJitterSeconds(attempts.count, policy, input.jitter) * 1000;
  if (readyAt > now) return { kind: 'retry-later', ruleId, attempt, delaySeconds: Math.ceil((readyAt - now) / 1000) };
  const desktop = rule?.desktop ?? effective.desktop;
  return desktop ? { kind: 'retry-now', ruleId, attempt, desktop } : { kind: 'retry-now', ruleId, attempt };
}
