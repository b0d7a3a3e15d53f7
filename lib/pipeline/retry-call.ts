import { redeliverySeconds } from '../platform/backoff.js';
import { CircuitBreakers, CircuitOpenError } from '../workspace/circuit-breakers.js';
import { retryTargetOf } from '../events/failure.js';
import type { Claim } from '../ledger/attempt-ledger.js';
import type { Located } from '../ledger/locate.js';
import type { Chain } from '../ledger/chain.js';
import type { Standing } from '../ledger/standing.js';
import { describeApiError } from './lookup-failure.js';
import { countApiError, logger } from '../platform/observability.js';
import type { FailureContext } from './process-failure.js';
import { delayFor, delayPast, MAX_DELAY_SECONDS } from '../platform/queue-sender.js';
import type { Decision } from '../policy/policy.js';
import type { Resolution } from './resolution.js';
import type { SigningCredentials } from '../workspace/signer.js';
import { certainlyNotApplied, isWorkspaceApiError, WorkspaceApiError } from '../workspace/errors.js';
import { admitKey, admitRotatedKey, type KeyAdmission } from '../workspace/key-admission.js';
import type { RetryAccepted } from '../workspace/types.js';
import { lookUpRun } from './workspace-lookups.js';
import { withHandledStart } from './handled-run.js';
import { runsOf } from '../ledger/runs.js';

/**
 * The retry call under a claim, and what its answer means for the chain
 * (docs/ledger-protocol.md, "Calling"): accepted → retried (the new task id is
 * never thrown away); certainly not run → the claim is released and the
 * attempt not counted; refused for good → dead-lettered; answer lost → the
 * chain says "unknown" and no one calls again before asking Workspace.
 */
export async function callRetry(found: Located, standing: Extract<Standing, { kind: 'fresh' }>, decision: Extract<Decision, { kind: 'retry-now' }>, ctx: FailureContext, base?: Chain): Promise<Resolution | 'conflict'> {
  const { deps } = ctx;
  // Calls this invocation or container should not make are deferred before the claim: no attempt is spent.
  const open = circuitOpen(ctx, decision.attempt, decision.ruleId);
  if (open) return open;
  if (deps.errorBudget.exhausted()) {
    return { kind: 'requeue', reason: `error-threshold: ${deps.errorBudget.describe()}; the rest of the batch waits`, delaySeconds: deps.config.breakerCooldownSeconds, attempt: decision.attempt, ruleId: decision.ruleId };
  }
  // The claim records when the retried run started: if Workspace re-runs the record in place, nothing else tells the two runs apart.
  const handled = await withHandledStart(found, ctx);
  if ('superseded' in handled) return { kind: 'duplicate', reason: handled.superseded };
  const { located, freshTask } = handled;
  const admission = await admit(ctx);
  if (admission.kind === 'refused') {
    const seconds = delayFor(admission.retryAfterMs);
    return { kind: 'requeue', reason: `auth-refused: ${keyRefused(admission).message}`, delaySeconds: seconds, attempt: decision.attempt, ruleId: decision.ruleId };
  }
  // The pass is given back whatever happens before the call (callWith releases it after).
  const claim = await deps.ledger.claim(located, standing.rev, 'retry', { base, freshTask }).catch((error: unknown) => {
    admission.pass.release();
    throw error;
  });
  if (!claim) {
    admission.pass.release();
    return 'conflict';
  }
  const forcedBy = ctx.input.force?.reason;
  let accepted: RetryAccepted;
  try {
    const target = retryTargetOf(ctx.input.failure);
    accepted = await callWith(ctx, admission, (credentials) => deps.workspace.retry(ctx.project, target, credentials));
  } catch (error) {
    if (isWorkspaceApiError(error)) deps.errorBudget.record(false);
    return failedCall(claim, decision, error, ctx);
  }
  deps.errorBudget.record(true);
  const attempt = claim.chain.attempts;
  deps.readings?.observe(retriedTaskOf(claim.chain), accepted.taskId);
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

/** The task of the run a chain's pending retry retried. */
export function retriedTaskOf(chain: Chain): string | undefined {
  return runsOf(chain).find((run) => run.g === chain.attempts - 1)?.task;
}

/** While the endpoint's circuit is open for this key, the failure waits without a call (and without a claim). */
export function circuitOpen(ctx: FailureContext, attempt: number, ruleId?: string): Resolution | undefined {
  const wait = ctx.deps.breakers.waitFor(CircuitBreakers.keyFor(ctx.endpoint, ctx.credentials.ak));
  return wait > 0 ? { kind: 'requeue', reason: `circuit-open: no calls to ${ctx.endpoint} for now`, delaySeconds: delayFor(wait), attempt, ruleId } : undefined;
}

/** A key admitted by the gate (lib/workspace/key-gate.ts) for one call, or refused for a while. */
export type Admitted = Extract<KeyAdmission, { kind: 'go' }>;

/**
 * Passes the key gate before anything is claimed, so no lease is held while a
 * call waits for the answer of the key version's first call.
 */
export async function admit(ctx: FailureContext): Promise<KeyAdmission> {
  const current = await ctx.deps.credentials.forProject(ctx.project.projectId);
  return admitKey(ctx.deps.keyGate, ctx.deps.credentials, ctx.project.projectId, current);
}

/** A refused key version as an error a lookup's caller already knows how to defer. */
function keyRefused(admission: Extract<KeyAdmission, { kind: 'refused' }>): WorkspaceApiError {
  return new WorkspaceApiError({ status: 401, code: 'KEY_REFUSED', message: `key version ${admission.keyVersion.slice(0, 12)} was refused by Workspace; not used for ${Math.ceil(admission.retryAfterMs / 1000)} s` });
}

/**
 * Makes a signed call (retries and lookups alike) with an admitted key:
 * through the key's circuit breaker; on 401 the secret is read again once and,
 * if it rotated, the new key probes once more. A key refused after that is
 * isolated for the auth cool-down, here and, through the gate, in every
 * container, so no call walks a refused key towards Huawei's lockout.
 */
export async function callWith<T>(ctx: FailureContext, admitted: Admitted, call: (credentials: SigningCredentials) => Promise<T>): Promise<T> {
  const { deps } = ctx;
  const { endpoint } = ctx;
  const through = (credentials: SigningCredentials) => deps.breakers.execute(CircuitBreakers.keyFor(endpoint, credentials.ak), () => call(credentials));
  const current = admitted.key;
  try {
    const result = await through(current.credentials);
    admitted.pass.accepted();
    return result;
  } catch (error) {
    if (!isWorkspaceApiError(error) || error.kind !== 'auth') throw error;
    await deps.credentials.refreshAfter(current.version);
    const fresh = await deps.credentials.forProject(ctx.project.projectId);
    if (fresh.credentials.ak === current.credentials.ak && fresh.credentials.sk === current.credentials.sk) {
      deps.breakers.refuseKey(CircuitBreakers.keyFor(endpoint, current.credentials.ak));
      await admitted.pass.refused();
      throw error;
    }
    // A rotated secret: this call probes the new version, then the old one's waiters go (they read the secret again).
    const freshPass = await admitRotatedKey(deps.keyGate, fresh);
    await admitted.pass.refused(false);
    if (!freshPass) throw error;
    try {
      const result = await through(fresh.credentials);
      freshPass.accepted();
      return result;
    } catch (second) {
      if (isWorkspaceApiError(second) && second.kind === 'auth') {
        deps.breakers.refuseKey(CircuitBreakers.keyFor(endpoint, fresh.credentials.ak));
        await freshPass.refused();
      }
      throw second;
    } finally {
      freshPass.release();
    }
  } finally {
    admitted.pass.release();
  }
}

/** A signed read (lookups): admitted, called, released. */
export async function withKey<T>(ctx: FailureContext, call: (credentials: SigningCredentials) => Promise<T>): Promise<T> {
  const admission = await admit(ctx);
  if (admission.kind === 'refused') throw keyRefused(admission);
  return callWith(ctx, admission, call);
}

async function failedCall(claim: Claim, decision: Extract<Decision, { kind: 'retry-now' }>, error: unknown, ctx: FailureContext): Promise<Resolution> {
  const { deps } = ctx;
  const attempt = claim.chain.attempts;
  const backoff = () => Math.min(MAX_DELAY_SECONDS, redeliverySeconds(claim.chain.pk, attempt, deps.config.policy));
  const release = (errorCode: string, reason: string) => deps.ledger.release(claim, { errorCode, reason, ruleId: decision.ruleId });
  if (error instanceof CircuitOpenError) {
    await release('CIRCUIT_OPEN', error.message);
    return { kind: 'requeue', reason: `circuit-open: ${error.message}`, delaySeconds: delayFor(error.retryAfterMs), attempt, ruleId: decision.ruleId };
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
  const delaySeconds = delayPast(claim.chain.lease_until ?? 0, (deps.now ?? Date.now)());
  return { kind: 'requeue', reason: `outcome-unknown: ${evidence}; Workspace is asked whether it ran before any new call`, delaySeconds, attempt, ruleId: decision.ruleId };
}
