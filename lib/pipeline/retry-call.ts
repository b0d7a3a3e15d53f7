import { retryTargetOf } from '../events/failure.js';
import type { Claim } from '../ledger/attempt-ledger.js';
import type { Chain } from '../ledger/chain.js';
import type { Located } from '../ledger/locate.js';
import { runsOf } from '../ledger/runs.js';
import type { Standing } from '../ledger/standing.js';
import { redeliverySeconds } from '../platform/backoff.js';
import { countApiError, logger } from '../platform/observability.js';
import type { Decision } from '../policy/policy.js';
import { CircuitBreakers, CircuitOpenError } from '../workspace/circuit-breakers.js';
import { certainlyNotApplied, describeRefusal, isWorkspaceApiError } from '../workspace/errors.js';
import { admit, callWith, withKey } from '../workspace/key-calls.js';
import type { RetryAccepted } from '../workspace/types.js';
import { budgetWait, readyToCall } from './call-place.js';
import type { FailureContext } from './context.js';
import { desktopGate } from './desktop-gate.js';
import { withHandledStart } from './handled-run.js';
import { duplicate, hold, type Resolution, requeue } from './resolution.js';
import { lookUpRun } from './workspace-lookups.js';

/**
 * The retry call under a claim, and what its answer means for the chain
 * (docs/ledger-protocol.md, "Calling"): accepted → retried (the new task id is
 * never thrown away); certainly not run → the claim is released and the
 * attempt not counted; refused for good → dead-lettered; answer lost → the
 * chain says "unknown" and no one calls again before asking Workspace.
 */
export async function callRetry(
  found: Located,
  standing: Extract<Standing, { kind: 'fresh' }>,
  decision: Extract<Decision, { kind: 'retry-now' }>,
  ctx: FailureContext,
  base?: Chain,
): Promise<Resolution | 'conflict'> {
  const { deps } = ctx;
  const rule = { attempt: decision.attempt, ruleId: decision.ruleId };
  // Calls this invocation or container should not make are deferred before the claim: no attempt is spent.
  const open = circuitWait(ctx, decision.attempt, decision.ruleId);
  if (open) return open;
  const spent = budgetWait(ctx, rule);
  if (spent) return spent;
  // A retry that needs its desktop ready waits, wakes it or gives up before the claim (lib/pipeline/desktop-gate.ts).
  const desktop = await desktopGate(found, standing, decision, ctx, base);
  if (desktop.kind === 'stop') return desktop.resolution;
  // The claim records when the retried run started: if Workspace re-runs the record in place, nothing else tells the
  // two runs apart.
  const handled = await withHandledStart(found, ctx);
  if ('superseded' in handled) return duplicate('superseded', handled.superseded);
  const { located, freshTask } = handled;
  const admission = await admit(ctx.keys);
  if (admission.kind === 'refused')
    return requeue(
      'key-refused',
      `key-refused: ${admission.error.message}`,
      { ms: admission.error.retryAfterMs },
      rule,
    );
  // The pass is given back whatever happens before the call (callWith releases it after).
  const claim = await deps.ledger.claim(located, standing.rev, 'retry', { base, freshTask }).catch((error: unknown) => {
    admission.pass.release();
    throw error;
  });
  if (!claim) {
    admission.pass.release();
    return 'conflict';
  }
  // A claim made ahead waits here for its call's place, and is checked again once it has it.
  const ready = await readyToCall(claim, admission, decision, ctx);
  if (ready.kind === 'given-back') return ready.resolution;
  const forcedBy = ctx.input.force?.reason;
  let accepted: RetryAccepted;
  try {
    const target = retryTargetOf(ctx.input.failure);
    accepted = await callWith(
      ctx.keys,
      ready.admission,
      (credentials) => deps.workspace.retry(ctx.project, target, credentials),
      { held: ready.place, notAgain: ready.notAgain },
    );
  } catch (error) {
    if (isWorkspaceApiError(error)) deps.errorBudget.record(false);
    return failedCall(claim, decision, error, ctx);
  }
  deps.errorBudget.record(true);
  // The call is over: the next failure may start while the answer is recorded (the batch still waits for it).
  ctx.slot.free?.();
  const attempt = claim.chain.attempts;
  const learned = deps.readings?.observe(retriedTaskOf(claim.chain), accepted.taskId);
  if (learned) await deps.ledger.noteReading(ctx.project.projectId, learned).catch(() => undefined);
  try {
    const { outcome } = await deps.ledger.settleRetried(claim, {
      taskId: accepted.taskId,
      requestId: accepted.requestId,
      ruleId: decision.ruleId,
      forcedBy,
      via: 'answer',
    });
    if (outcome === 'lease-lost') {
      logger.warn('lease lost during the call: another delivery took this failure over; it reports the outcome', {
        chain: claim.chain.pk,
        newTaskId: accepted.taskId,
      });
      return duplicate(
        'lease-lost',
        `lease-lost: the claim expired during the call (new task ${accepted.taskId}); the delivery that took over decides the outcome`,
      );
    }
    return {
      kind: 'retried',
      newTaskId: accepted.taskId,
      requestId: accepted.requestId,
      ruleId: decision.ruleId,
      attempt,
      forced: forcedBy !== undefined,
      via: 'answer',
    };
  } catch (error) {
    // The ledger is unreachable: the task id travels with the message, so the next delivery settles without calling.
    logger.error('retry accepted but the ledger could not record it: re-enqueued with the new task id', {
      chain: claim.chain.pk,
      newTaskId: accepted.taskId,
      error: (error as Error).message,
    });
    return requeue(
      'recording',
      `recording: retried (new task ${accepted.taskId}) but the ledger could not record it`,
      { seconds: 2 },
      { attempt, ruleId: decision.ruleId, carry: { taskId: accepted.taskId, rev: claim.chain.rev } },
    );
  }
}

/** The task of the run a chain's pending retry retried. */
export function retriedTaskOf(chain: Chain): string | undefined {
  return runsOf(chain).find((run) => run.g === chain.attempts - 1)?.task;
}

/** While the endpoint's circuit is open for this key, the failure waits without a call (and without a claim). */
export function circuitWait(ctx: FailureContext, attempt: number, ruleId?: string): Resolution | undefined {
  const wait = ctx.deps.breakers.waitFor(CircuitBreakers.keyFor(ctx.keys.endpoint, ctx.credentials.ak));
  return wait > 0
    ? requeue(
        'circuit-open',
        `circuit-open: no calls to ${ctx.keys.endpoint} for now`,
        { ms: wait },
        { attempt, ruleId },
      )
    : undefined;
}

async function failedCall(
  claim: Claim,
  decision: Extract<Decision, { kind: 'retry-now' }>,
  error: unknown,
  ctx: FailureContext,
): Promise<Resolution> {
  const { deps } = ctx;
  const attempt = claim.chain.attempts;
  const rule = { attempt, ruleId: decision.ruleId };
  const release = (errorCode: string, reason: string) =>
    deps.ledger.release(claim, { errorCode, reason, ruleId: decision.ruleId });
  if (error instanceof CircuitOpenError) {
    await release('CIRCUIT_OPEN', error.message);
    return requeue('circuit-open', `circuit-open: ${error.message}`, { ms: error.retryAfterMs }, rule);
  }
  if (!isWorkspaceApiError(error)) {
    // Not an answer from Workspace (the secret unreadable, a bug): nothing was sent, so the claim is given back.
    await release('INTERNAL', (error as Error).message ?? 'unexpected error').catch(() => undefined);
    return hold('unavailable', `error: ${(error as Error).name}: ${(error as Error).message}`);
  }
  const evidence = describeRefusal(error);
  countApiError(error.code);
  if (error.kind === 'permanent') {
    const reason = `workspace-refused: ${evidence}`;
    return {
      kind: 'dead-letter',
      code: 'workspace-refused',
      letter: ctx.letter(reason, error.code, decision.ruleId, attempt - 1),
      claim,
      forcedBy: ctx.input.force?.reason,
      refusal: { status: error.status, errorCode: error.code, requestId: error.requestId },
    };
  }
  if (error.kind === 'auth' || certainlyNotApplied(error)) {
    // A refused signature or an answer from the gateway never ran the script: the attempt is not counted.
    await release(error.code, evidence);
    const backoff = { seconds: redeliverySeconds(claim.chain.pk, attempt, deps.config.policy) };
    return error.kind === 'auth'
      ? requeue('auth-failed', `auth-failed: ${evidence}`, backoff, rule)
      : requeue('workspace-transient', `workspace-transient: ${evidence}`, backoff, rule);
  }
  // Timeout, reset, 5xx after the gateway, garbled answer: the retry may have run the script.
  // The desktop and script let the lost retry's run find this chain (and the lookup check it): look them up if unknown.
  const facts =
    claim.chain.resource_id && claim.chain.script_id
      ? undefined
      : await withKey(ctx.keys, (key) => lookUpRun(deps.workspace, ctx.project, claim.chain.current_record, key)).catch(
          () => undefined,
        );
  await deps.ledger
    .markUnknown(
      claim,
      { errorCode: error.code, reason: evidence, ruleId: decision.ruleId, requestId: error.requestId },
      facts,
    )
    .catch(() => undefined);
  return requeue(
    'outcome-unknown',
    `outcome-unknown: ${evidence}; Workspace is asked whether it ran before any new call`,
    { until: claim.chain.lease_until ?? 0, now: (deps.now ?? Date.now)() },
    rule,
  );
}
