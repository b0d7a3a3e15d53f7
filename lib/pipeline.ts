import { createHash, randomUUID } from 'node:crypto';
import type { AppConfig } from './config.js';
import type { WorkspaceCredentials } from './credentials.js';
import type { DeadLetter } from './dead-letter.js';
import { retryTargetOf, type ScriptFailure } from './failure.js';
import { standingOf, type AttemptLedger, type Claim, type LedgerView, type Standing } from './ledger.js';
import { backoffSeconds, decide, type Decision } from './policy.js';
import type { SigningCredentials } from './signer.js';
import type { PreparedRequest, WorkspaceClient } from './workspace-client.js';
import { certainlyNotApplied, isWorkspaceApiError, type WorkspaceApiError } from './workspace-errors.js';
import { CircuitBreakers, CircuitOpenError } from './circuit-breakers.js';
import type { ErrorBudget } from './error-budget.js';
import { admitKey, admitRotatedKey } from './key-admission.js';
import type { InvocationKeyGate, KeyPass } from './key-gate.js';
import { countApiError } from './observability.js';
import type { RetryAccepted } from './workspace-types.js';

/**
 * One failure through the pipeline: ledger standing, policy decision, claim,
 * the signed retry call (with one credential refresh on 401), and what must
 * happen next. The caller (queue, sweep or console) performs the forwards
 * (dead letter, re-enqueue) and settles the ledger by their result.
 */

/** What the caller must do with a failure. */
export type Resolution =
  | { readonly kind: 'retried'; readonly newTaskId: string; readonly requestId?: string | undefined; readonly ruleId: string; readonly attempt: number; readonly forced?: boolean }
  | { readonly kind: 'duplicate'; readonly reason: string }
  | {
      readonly kind: 'dead-letter';
      readonly letter: DeadLetter;
      /** A dry run's decision: dead-lettered from a queue (so nothing is lost), only shown elsewhere. */
      readonly dryRun?: boolean | undefined;
      readonly preview?: PreparedRequest | undefined;
      readonly decision?: Decision | undefined;
      readonly onAccepted?: (() => Promise<void>) | undefined;
      readonly onRejected?: (() => Promise<void>) | undefined;
    }
  | { readonly kind: 'requeue'; readonly reason: string; readonly delaySeconds: number; readonly attempt: number; readonly ruleId?: string | undefined }
  | { readonly kind: 'hold'; readonly reason: string };

export interface PipelineDeps {
  readonly config: AppConfig;
  readonly workspace: WorkspaceClient;
  readonly ledger: AttemptLedger;
  readonly credentials: WorkspaceCredentials;
  readonly breakers: CircuitBreakers;
  /** This invocation's tolerance for failed calls. */
  readonly errorBudget: ErrorBudget;
  /** One call per key version not yet accepted; refusals shared by the fleet (lib/key-gate.ts). */
  readonly keyGate?: InvocationKeyGate | undefined;
  readonly now?: () => number;
}

/** One failure and how it came in. */
export interface FailureInput {
  readonly failure: ScriptFailure;
  /** When the failure was first seen (the first message's send time), for its age. */
  readonly firstSeenAt: number;
  /** An operator's override of the policy's verdict (console); never of dry run or the kill switch. */
  readonly force?: { readonly reason: string } | undefined;
  /** Decide and describe only (console `dry_run`), on top of the global switch. */
  readonly dryRun?: boolean | undefined;
  /** Asked for by an operator (console): see DecisionInput.requestedByOperator. */
  readonly manual?: boolean | undefined;
}

/** The longest SQS message delay (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html). */
export const MAX_DELAY_SECONDS = 900;

/** A number in [0, 1) fixed by failure and attempt, so every redelivery computes the same jitter. */
export function stableJitter(key: string, attempt: number): number {
  return createHash('sha256').update(`${key}#${attempt}`).digest().readUInt32BE(0) / 2 ** 32;
}

export async function processFailure(input: FailureInput, deps: PipelineDeps): Promise<Resolution> {
  const now = (deps.now ?? Date.now)();
  const { failure } = input;
  const { config } = deps;
  if (!config.retriesEnabled) {
    return { kind: 'requeue', reason: 'retries-disabled: RETRIES_ENABLED is false', delaySeconds: MAX_DELAY_SECONDS, attempt: 0 };
  }
  const view = await deps.ledger.view(failure);
  const standing = standingOf(view, failure.eventId, now, input.force !== undefined);
  if (standing.kind === 'duplicate') return { kind: 'duplicate', reason: standing.reason };
  // Another delivery is calling now: come back when its lease ends; if it died, this one takes over.
  if (standing.kind === 'in-flight') {
    return { kind: 'requeue', reason: 'in-flight: another delivery of this failure holds the lease', delaySeconds: Math.max(1, Math.ceil((standing.leaseEndsAt - now) / 1000)), attempt: 0 };
  }

  const jitter = stableJitter(view.rootKey, standing.attemptsMade);
  const decided = decide({ failure, attempts: { count: standing.attemptsMade, lastAttemptAt: standing.lastAttemptAt }, policy: config.policy, now, firstSeenAt: input.firstSeenAt, jitter, requestedByOperator: input.manual });
  const decision: Decision = input.force ? { kind: 'retry-now', ruleId: 'forced', attempt: standing.attemptsMade + 1 } : decided;
  const dryRun = config.dryRun || input.dryRun === true;
  const letter = (reason: string, errorCode: string, ruleId: string, attempts = standing.attemptsMade): DeadLetter => ({
    reason, errorCode, attempts, ruleId, firstSeenAt: input.firstSeenAt, decidedAt: now,
  });

  if (decision.kind === 'give-up') {
    const dead = letter(decision.reason, failure.resultCode ?? decision.ruleId, decision.ruleId);
    if (dryRun) return { kind: 'dead-letter', letter: { ...dead, reason: `dry-run: would give up: ${decision.reason}`, errorCode: 'DRY_RUN' }, decision, dryRun };
    const giveUp = () => deps.ledger.recordGiveUp(view, failure.eventId, { outcome: 'dead-lettered', ruleId: decision.ruleId, reason: decision.reason });
    return { kind: 'dead-letter', letter: dead, decision, onAccepted: giveUp };
  }
  if (decision.kind === 'retry-later') {
    if (dryRun) return { kind: 'dead-letter', letter: letter(`dry-run: would retry in ${decision.delaySeconds} s (rule ${decision.ruleId})`, 'DRY_RUN', decision.ruleId), decision, dryRun };
    return { kind: 'requeue', reason: `retry-later: rule ${decision.ruleId}`, delaySeconds: decision.delaySeconds, attempt: decision.attempt, ruleId: decision.ruleId };
  }

  const { credentials, version } = await deps.credentials.forProject(failure.projectId);
  const project = { projectId: failure.projectId, region: failure.region };
  if (dryRun) {
    const preview = deps.workspace.describeRetry(project, retryTargetOf(failure), credentials);
    return { kind: 'dead-letter', letter: letter(`dry-run: would retry now (rule ${decision.ruleId})`, 'DRY_RUN', decision.ruleId), preview, decision, dryRun };
  }
  // Calls this invocation or this container should not make: defer without claiming, so no attempt is spent.
  const endpoint = deps.workspace.endpointOf(project);
  const breakerKey = CircuitBreakers.keyFor(endpoint, credentials.ak);
  const wait = deps.breakers.waitFor(breakerKey);
  if (wait > 0) return { kind: 'requeue', reason: `circuit-open: no calls to ${endpoint} for now`, delaySeconds: Math.ceil(wait / 1000), attempt: decision.attempt, ruleId: decision.ruleId };
  if (deps.errorBudget.exhausted()) {
    return { kind: 'requeue', reason: `error-threshold: ${deps.errorBudget.describe()}; the rest of the batch waits`, delaySeconds: deps.config.breakerCooldownSeconds, attempt: decision.attempt, ruleId: decision.ruleId };
  }
  // Key safety: the gate sits here, before the claim, so no lease is held while this waits for another call's answer on the key.
  const admitted = await admitKey(deps.keyGate, deps.credentials, failure.projectId, { credentials, version });
  if (admitted.kind === 'refused') {
    const seconds = Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.ceil(admitted.retryAfterMs / 1000)));
    return { kind: 'requeue', reason: `auth-refused: key version ${admitted.keyVersion.slice(0, 12)} was refused by Workspace; not used for ${seconds} s`, delaySeconds: seconds, attempt: decision.attempt, ruleId: decision.ruleId };
  }
  const key = admitted.key;
  try {
    return await callAndSettle({ failure, project, decision, standing, view, credentials: key.credentials, version: key.version, endpoint, breakerKey: CircuitBreakers.keyFor(endpoint, key.credentials.ak), pass: admitted.pass, forceReason: input.force?.reason, firstSeenAt: input.firstSeenAt, now }, deps);
  } finally {
    admitted.pass.release();
  }
}

interface CallContext {
  readonly failure: ScriptFailure;
  readonly project: { readonly projectId: string; readonly region?: string | undefined };
  readonly decision: Extract<Decision, { kind: 'retry-now' }>;
  readonly standing: Extract<Standing, { kind: 'new' }>;
  readonly view: LedgerView;
  readonly credentials: SigningCredentials;
  readonly version: number;
  readonly endpoint: string;
  readonly breakerKey: string;
  /** The key gate's pass for these credentials: told whether Workspace accepted them. */
  readonly pass: KeyPass;
  readonly forceReason?: string | undefined;
  readonly firstSeenAt: number;
  readonly now: number;
}

async function callAndSettle(ctx: CallContext, deps: PipelineDeps): Promise<Resolution> {
  const claim = await deps.ledger.claim(ctx.view, ctx.standing, ctx.failure.eventId, randomUUID());
  if (!claim) return { kind: 'duplicate', reason: 'another delivery claimed this failure first' };
  let accepted: RetryAccepted;
  try {
    accepted = await retryWithRefresh(ctx, deps);
  } catch (error) {
    if (isWorkspaceApiError(error)) deps.errorBudget.record(false);
    return settleFailedCall(claim, ctx, error, deps);
  }
  deps.errorBudget.record(true);
  await deps.ledger.settle(claim, { outcome: 'retried', ruleId: ctx.decision.ruleId, taskId: accepted.taskId, requestId: accepted.requestId, forcedBy: ctx.forceReason });
  return { kind: 'retried', newTaskId: accepted.taskId, requestId: accepted.requestId, ruleId: ctx.decision.ruleId, attempt: claim.attempt, forced: ctx.forceReason !== undefined };
}

/**
 * Calls retry through the key's circuit breaker; on 401 reads the secret
 * again once and, if the key changed, tries once more. A key refused after
 * that is isolated for the auth cool-down.
 */
async function retryWithRefresh(ctx: CallContext, deps: PipelineDeps): Promise<RetryAccepted> {
  const target = retryTargetOf(ctx.failure);
  const call = (key: string, credentials: SigningCredentials) => deps.breakers.execute(key, () => deps.workspace.retry(ctx.project, target, credentials));
  try {
    const accepted = await call(ctx.breakerKey, ctx.credentials);
    ctx.pass.accepted();
    return accepted;
  } catch (error) {
    if (!isWorkspaceApiError(error) || error.kind !== 'auth') throw error;
    await deps.credentials.refreshAfter(ctx.version);
    const fresh = await deps.credentials.forProject(ctx.project.projectId);
    if (fresh.credentials.ak === ctx.credentials.ak && fresh.credentials.sk === ctx.credentials.sk) {
      deps.breakers.refuseKey(ctx.breakerKey);
      await ctx.pass.refused();
      throw error;
    }
    // A rotated secret: this call probes the new version, then the old one's waiters go (they re-read the secret).
    const freshPass = await admitRotatedKey(deps.keyGate, fresh);
    await ctx.pass.refused(false);
    if (!freshPass) throw error;
    const freshKey = CircuitBreakers.keyFor(ctx.endpoint, fresh.credentials.ak);
    try {
      const accepted = await call(freshKey, fresh.credentials);
      freshPass.accepted();
      return accepted;
    } catch (second) {
      if (isWorkspaceApiError(second) && second.kind === 'auth') {
        deps.breakers.refuseKey(freshKey);
        await freshPass.refused();
      }
      throw second;
    } finally {
      freshPass.release();
    }
  }
}

async function settleFailedCall(claim: Claim, ctx: CallContext, error: unknown, deps: PipelineDeps): Promise<Resolution> {
  const deferred = (errorCode: string, reason: string, refundAttempt: boolean) =>
    deps.ledger.settle(claim, { outcome: 'deferred', ruleId: ctx.decision.ruleId, errorCode, reason, refundAttempt });
  const backoff = () => Math.min(MAX_DELAY_SECONDS, backoffSeconds(claim.attempt, deps.config.policy, stableJitter(claim.rootKey, claim.attempt)));
  if (error instanceof CircuitOpenError) {
    await deferred('CIRCUIT_OPEN', error.message, true);
    return { kind: 'requeue', reason: `circuit-open: ${error.message}`, delaySeconds: Math.ceil(error.retryAfterMs / 1000), attempt: claim.attempt, ruleId: ctx.decision.ruleId };
  }
  if (!isWorkspaceApiError(error)) {
    await deferred('INTERNAL', (error as Error).message ?? 'unexpected error', true);
    return { kind: 'hold', reason: `error: ${(error as Error).message}` };
  }
  const evidence = describeApiError(error);
  countApiError(error.code);
  if (error.kind === 'permanent') {
    const reason = `workspace-refused: ${evidence}`;
    return {
      kind: 'dead-letter',
      letter: { reason, errorCode: error.code, attempts: claim.attempt, ruleId: ctx.decision.ruleId, firstSeenAt: ctx.firstSeenAt, decidedAt: ctx.now },
      onAccepted: () => deps.ledger.settle(claim, { outcome: 'dead-lettered', ruleId: ctx.decision.ruleId, errorCode: error.code, requestId: error.requestId, reason }),
      onRejected: () => deferred(error.code, reason, false),
    };
  }
  // A refused signature or an answer from the gateway never ran the script: it does not spend an attempt.
  await deferred(error.code, evidence, error.kind === 'auth' || certainlyNotApplied(error));
  const kind = error.kind === 'auth' ? 'auth-failed' : 'workspace-transient';
  return { kind: 'requeue', reason: `${kind}: ${evidence}`, delaySeconds: backoff(), attempt: claim.attempt, ruleId: ctx.decision.ruleId };
}

function describeApiError(error: WorkspaceApiError): string {
  return `${error.status ?? '-'} ${error.code}${error.requestId ? ` (X-Request-Id ${error.requestId})` : ''}`;
}
