import { retryTargetOf, type ScriptFailure } from '../events/failure.js';
import type { Chain } from '../ledger/chain.js';
import type { Located } from '../ledger/locate.js';
import type { Standing } from '../ledger/standing.js';
import { stableJitter } from '../platform/backoff.js';
import { type Decision, decide, desktopRequirementOf } from '../policy/policy.js';
import type { RetryPolicy } from '../policy/policy-config.js';
import type { FailureContext } from './context.js';
import { desktopGate } from './desktop-gate.js';
import { claimGiveUp, giveUpLetter } from './give-up.js';
import { type Resolution, requeue } from './resolution.js';
import { callRetry } from './retry-call.js';

/**
 * A run that is the chain's to decide (docs/ledger-protocol.md, "Standing":
 * fresh): the policy's verdict, then a give-up claimed for its dead letter, a
 * wait, or a retry claimed and called. A dry run only says what it would do.
 */
export async function decideAndAct(
  located: Located,
  standing: Extract<Standing, { kind: 'fresh' }>,
  ctx: FailureContext,
  base?: Chain,
): Promise<Resolution | 'conflict'> {
  const { input, deps, now, dryRun } = ctx;
  const chain = base ?? located.chain;
  const failure: ScriptFailure = {
    ...input.failure,
    scriptId: input.failure.scriptId ?? located.run.scriptId ?? chain?.script_id,
    failedAt: input.failure.failedAt ?? located.run.failedAt ?? chain?.failed_at,
  };
  const firstSeenAt = Math.min(input.firstSeenAt, chain?.first_seen_at ?? input.firstSeenAt);
  const jitter = stableJitter(located.chainKey, standing.attemptsMade);
  const decided = decide({
    failure,
    attempts: { count: standing.attemptsMade, lastAttemptAt: standing.lastAttemptAt },
    policy: deps.config.policy,
    now,
    firstSeenAt,
    jitter,
    requestedByOperator: input.manual,
  });
  const decision: Decision = input.force
    ? forcedRetry(deps.config.policy, failure, standing.attemptsMade + 1)
    : decided;
  const letter = (reason: string, errorCode: string, ruleId: string) => ({
    ...ctx.letter(reason, errorCode, ruleId, standing.attemptsMade),
    firstSeenAt,
  });

  if (decision.kind === 'give-up') {
    const dead = giveUpLetter(
      ctx,
      standing,
      chain,
      decision.reason,
      failure.resultCode ?? decision.ruleId,
      decision.ruleId,
    );
    if (dryRun)
      return {
        kind: 'preview',
        letter: { ...dead, reason: `dry-run: would give up: ${decision.reason}`, errorCode: 'DRY_RUN' },
        decision,
      };
    return claimGiveUp(located, standing, ctx, 'policy', dead, { decision, base });
  }
  if (decision.kind === 'retry-later') {
    if (dryRun)
      return {
        kind: 'preview',
        letter: letter(
          `dry-run: would retry in ${decision.delaySeconds} s (rule ${decision.ruleId})`,
          'DRY_RUN',
          decision.ruleId,
        ),
        decision,
      };
    return requeue(
      'retry-later',
      `retry-later: rule ${decision.ruleId}`,
      { seconds: decision.delaySeconds },
      { attempt: decision.attempt, ruleId: decision.ruleId },
    );
  }
  if (dryRun) {
    // The desktop is read in a dry run too: what it would do about it is shown instead of the retry.
    const desktop = await desktopGate(located, standing, decision, ctx, base);
    if (desktop.kind === 'stop') return desktop.resolution;
    const preview = deps.workspace.describeRetry(ctx.project, retryTargetOf(failure), ctx.credentials);
    return {
      kind: 'preview',
      letter: letter(
        `dry-run: would retry now (rule ${decision.ruleId})${desktop.note ? `; ${desktop.note}` : ''}`,
        'DRY_RUN',
        decision.ruleId,
      ),
      preview,
      decision,
    };
  }
  return callRetry(located, standing, decision, ctx, base);
}

/** An operator's forced retry: the policy's verdict is overridden, not what the run needs of its desktop. */
function forcedRetry(policy: RetryPolicy, failure: ScriptFailure, attempt: number): Decision {
  const desktop = desktopRequirementOf(policy, failure);
  return { kind: 'retry-now', ruleId: 'forced', attempt, ...(desktop ? { desktop } : {}) };
}

/** An accepted retry the ledger could not record, carried by its re-enqueued message: recorded now, without calling. */
export async function settleCarried(
  chain: Chain,
  taskId: string,
  ctx: FailureContext,
): Promise<Resolution | 'conflict'> {
  const { outcome } = await ctx.deps.ledger.settleRetried({ chain }, { taskId, via: 'carried' });
  if (outcome === 'lease-lost') return 'conflict';
  return { kind: 'retried', newTaskId: taskId, ruleId: 'carried', attempt: chain.attempts, via: 'carried' };
}
