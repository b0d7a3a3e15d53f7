import { stableJitter } from './backoff.js';
import { CircuitBreakers, CircuitOpenError } from './circuit-breakers.js';
import { retryTargetOf } from './failure.js';
import type { Claim, Located } from './ledger/attempt-ledger.js';
import type { Chain } from './ledger/chain.js';
import type { Standing } from './ledger/standing.js';
import { describeApiError } from './lookup-failure.js';
import { countApiError, logger } from './observability.js';
import { MAX_DELAY_SECONDS, type FailureContext } from './pipeline.js';
import { backoffSeconds, type Decision } from './policy.js';
import type { Resolution } from './resolution.js';
import type { SigningCredentials } from './signer.js';
import { certainlyNotApplied, isWorkspaceApiError } from './workspace-errors.js';
import type { RetryAccepted } from './workspace-types.js';
import { lookUpRun } from './workspace-lookups.js';

/**
 * The retry call under a claim, and what its answer means for the chain
 * (docs/ledger-protocol.md, "Calling"): accepted → retried (the new task id is
 * never thrown away); certainly not run → the claim is released and the
 * attempt not counted; refused for good → dead-lettered; answer lost → the
 * chain says "unknown" and no one calls again before asking Workspace.
 */
export async function callRetry(located: Located, standing: Extract<Standing, { kind: 'fresh' }>, decision: Extract<Decision, { kind: 'retry-now' }>, ctx: FailureContext, base?: Chain): Promise<Resolution | 'conflict'> {
  const { deps } = ctx;
  // Calls this invocation or container should not make are deferred before the claim: no attempt is spent.
  const endpoint = deps.workspace.endpointOf(ctx.project);
  const breakerKey = CircuitBreakers.keyFor(endpoint, ctx.credentials.ak);
  const wait = deps.breakers.waitFor(breakerKey);
  if (wait > 0) return { kind: 'requeue', reason: `circuit-open: no calls to ${endpoint} for now`, delaySeconds: Math.ceil(wait / 1000), attempt: decision.attempt, ruleId: decision.ruleId };
  if (deps.errorBudget.exhausted()) {
    return { kind: 'requeue', reason: `error-threshold: ${deps.errorBudget.describe()}; the rest of the batch waits`, delaySeconds: deps.config.breakerCooldownSeconds, attempt: decision.attempt, ruleId: decision.ruleId };
  }
  const claim = await deps.ledger.claim(located, standing.rev, 'retry', base);
  if (!claim) return 'conflict';
  const forcedBy = ctx.input.force?.reason;
  let accepted: RetryAccepted;
  try {
    const target = retryTargetOf(ctx.input.failure);
    accepted = await withKey(ctx, (credentials) => deps.workspace.retry(ctx.project, target, credentials));
  } catch (error) {
    if (isWorkspaceApiError(error)) deps.errorBudget.record(false);
    return failedCall(claim, decision, error, ctx);
  }
  deps.errorBudget.record(true);
  const attempt = claim.chain.attempts;
  try {
    const { outcome } = await deps.ledger.settleRetried(claim, { taskId: accepted.taskId, requestId: accepted.requestId, ruleId: decision.ruleId, forcedBy, via: 'answer' });
    if (outcome === 'lease-lost') {
      logger.warn('lease lost during the call: another delivery took this failure over; it reports the outcome', { chain: claim.chain.pk, newTaskId: accepted.taskId });
      return { kind: 'duplicate', reason: `lease-lost: the claim expired during the call (new task ${accepted.taskId}); the delivery that took over decides the outcome` };
    }
    return { kind: 'retried', newTaskId: accepted.taskId, requestId: accepted.requestId, ruleId: decision.ruleId, attempt, forced: forcedBy !== undefined, via: 'answer' };
  } catch (error) {
    // The ledger is unreachable: the task id travels with the message, so the next delivery settles without calling.
    logger.error('retry accepted but the ledger could not record it: re-enqueued with the new task id', { chain: claim.chain.pk, newTaskId: accepted.taskId, error: (error as Error).message });
    return { kind: 'requeue', reason: `recording: retried (new task ${accepted.taskId}) but the ledger could not record it`, delaySeconds: 2, attempt, ruleId: decision.ruleId, carry: { taskId: accepted.taskId, rev: claim.chain.rev } };
  }
}

/**
 * Makes a signed call through the key's circuit breaker; on 401 reads the
 * secret again once and, if the key changed, tries once more. A key refused
 * after that is isolated for the auth cool-down. Every signed call goes
 * through here (retries and lookups), so no call walks a refused key towards
 * Huawei's lockout.
 */
export async function withKey<T>(ctx: FailureContext, call: (credentials: SigningCredentials) => Promise<T>): Promise<T> {
  const { deps } = ctx;
  const endpoint = deps.workspace.endpointOf(ctx.project);
  const through = (credentials: SigningCredentials) => deps.breakers.execute(CircuitBreakers.keyFor(endpoint, credentials.ak), () => call(credentials));
  // The newest key this container has: another call may have refreshed it since this failure began.
  const current = await deps.credentials.forProject(ctx.project.projectId);
  try {
    return await through(current.credentials);
  } catch (error) {
    if (!isWorkspaceApiError(error) || error.kind !== 'auth') throw error;
    await deps.credentials.refreshAfter(current.version);
    const fresh = await deps.credentials.forProject(ctx.project.projectId);
    if (fresh.credentials.ak === current.credentials.ak && fresh.credentials.sk === current.credentials.sk) {
      deps.breakers.refuseKey(CircuitBreakers.keyFor(endpoint, current.credentials.ak));
      throw error;
    }
    try {
      return await through(fresh.credentials);
    } catch (second) {
      if (isWorkspaceApiError(second) && second.kind === 'auth') deps.breakers.refuseKey(CircuitBreakers.keyFor(endpoint, fresh.credentials.ak));
      throw second;
    }
  }
}

async function failedCall(claim: Claim, decision: Extract<Decision, { kind: 'retry-now' }>, error: unknown, ctx: FailureContext): Promise<Resolution> {
  const { deps } = ctx;
  const attempt = claim.chain.attempts;
  const backoff = () => Math.min(MAX_DELAY_SECONDS, backoffSeconds(attempt, deps.config.policy, stableJitter(claim.chain.pk, attempt)));
  const release = (errorCode: string, reason: string) => deps.ledger.release(claim, { errorCode, reason, ruleId: decision.ruleId });
  if (error instanceof CircuitOpenError) {
    await release('CIRCUIT_OPEN', error.message);
    return { kind: 'requeue', reason: `circuit-open: ${error.message}`, delaySeconds: Math.ceil(error.retryAfterMs / 1000), attempt, ruleId: decision.ruleId };
  }
  if (!isWorkspaceApiError(error)) {
    // Not an answer from Workspace (the secret unreadable, a bug): nothing was sent, so the claim is given back.
    await release('INTERNAL', (error as Error).message ?? 'unexpected error').catch(() => undefined);
    return { kind: 'hold', reason: `error: ${(error as Error).name}: ${(error as Error).message}` };
  }
  const evidence = describeApiError(error);
  countApiError(error.code);
  if (error.kind === 'permanent') {
    const reason = `workspace-refused: ${evidence}`;
    return { kind: 'dead-letter', letter: ctx.letter(reason, error.code, decision.ruleId, attempt - 1), claim, forcedBy: ctx.input.force?.reason };
  }
  if (error.kind === 'auth' || certainlyNotApplied(error)) {
    // A refused signature or an answer from the gateway never ran the script: the attempt is not counted.
    await release(error.code, evidence);
    return { kind: 'requeue', reason: `${error.kind === 'auth' ? 'auth-failed' : 'workspace-transient'}: ${evidence}`, delaySeconds: backoff(), attempt, ruleId: decision.ruleId };
  }
  // Timeout, reset, 5xx after the gateway, garbled answer: the retry may have run the script.
  // The desktop and script let the lost retry's run find this chain (and the lookup check it): look them up if unknown.
  const facts = claim.chain.resource_id && claim.chain.script_id ? undefined : await withKey(ctx, (key) => lookUpRun(deps.workspace, ctx.project, claim.chain.current_record, key)).catch(() => undefined);
  await deps.ledger.markUnknown(claim, { errorCode: error.code, reason: evidence, ruleId: decision.ruleId, requestId: error.requestId }, facts).catch(() => undefined);
  const untilLeaseEnd = Math.ceil(((claim.chain.lease_until ?? 0) - (deps.now ?? Date.now)()) / 1000) + 1;
  return { kind: 'requeue', reason: `outcome-unknown: ${evidence}; Workspace is asked whether it ran before any new call`, delaySeconds: Math.min(MAX_DELAY_SECONDS, Math.max(1, untilLeaseEnd)), attempt, ruleId: decision.ruleId };
}
