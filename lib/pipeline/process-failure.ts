import { stableJitter } from '../platform/backoff.js';
import { delayPast, MAX_DELAY_SECONDS } from '../platform/queue-sender.js';
import type { AppConfig } from '../config/app-config.js';
import type { WorkspaceCredentials } from '../workspace/credentials.js';
import type { DeadLetter } from './dead-letter.js';
import { retryTargetOf, type ScriptFailure } from '../events/failure.js';
import type { AttemptLedger } from '../ledger/attempt-ledger.js';
import type { Located, RecordNow } from '../ledger/locate.js';
import type { Chain, RunFacts } from '../ledger/chain.js';
import { standingOf, type Standing } from '../ledger/standing.js';
import { decide, statusVerdict, type Decision } from '../policy/policy.js';
import type { Resolution } from './resolution.js';
import { callRetry, circuitOpen, withKey } from './retry-call.js';
import type { SigningCredentials } from '../workspace/signer.js';
import { resolveUnknownOutcome } from './unknown-outcome.js';
import type { CircuitBreakers } from '../workspace/circuit-breakers.js';
import type { ErrorBudget } from '../workspace/error-budget.js';
import type { InvocationKeyGate } from '../workspace/key-gate.js';
import type { WorkspaceClient } from '../workspace/client.js';
import type { RetryReadings } from '../workspace/retry-readings.js';
import { lookUpRun, failedRecordsOf, hasRecords } from './workspace-lookups.js';
import { lookupFailure } from './lookup-failure.js';
import { isWorkspaceApiError } from '../workspace/errors.js';

/**
 * One failure event through the protocol of docs/ledger-protocol.md: find its
 * chain and run, ask the ledger what the run's standing is, decide under the
 * policy, claim, call, and say what must happen next (plain data: the way in
 * performs the forwards and settles the ledger by their result).
 */

export interface PipelineDeps {
  readonly config: AppConfig;
  readonly workspace: WorkspaceClient;
  readonly ledger: AttemptLedger;
  readonly credentials: WorkspaceCredentials;
  readonly breakers: CircuitBreakers;
  /** This invocation's tolerance for failed calls. */
  readonly errorBudget: ErrorBudget;
  /** One call first per key version not yet accepted; refusals shared across containers (lib/workspace/key-gate.ts). */
  readonly keyGate?: InvocationKeyGate | undefined;
  /** What the container has seen Workspace's retries do (lib/workspace/retry-readings.ts); none: nothing assumed. */
  readonly readings?: RetryReadings | undefined;
  readonly now?: () => number;
}

/** One failure event and how it came in. */
export interface FailureInput {
  readonly failure: ScriptFailure;
  /** When the failure was first seen (the first message's send time); the ledger's first sighting wins when older. */
  readonly firstSeenAt: number;
  /** An operator's override of the policy's verdict (console); never of dry run, the kill switch or a duplicate. */
  readonly force?: { readonly reason: string } | undefined;
  /** Decide and describe only (console `dry_run`), on top of the global switch. */
  readonly dryRun?: boolean | undefined;
  /** Asked for by an operator (console): see DecisionInput.requestedByOperator. */
  readonly manual?: boolean | undefined;
  /** A replayed dead letter: the `decided_at` it carries. */
  readonly replayOf?: number | undefined;
  /** An accepted retry the ledger could not record, carried by the re-enqueued message. */
  readonly carried?: { readonly taskId: string; readonly rev: number } | undefined;
}

/** Everything the steps of one failure share. */
export interface FailureContext {
  readonly input: FailureInput;
  readonly deps: PipelineDeps;
  readonly now: number;
  readonly dryRun: boolean;
  readonly project: { readonly projectId: string; readonly region?: string | undefined };
  /** The Workspace origin this failure's calls go to (resolved once). */
  readonly endpoint: string;
  readonly credentials: SigningCredentials;
  readonly version: number;
  /** Builds the dead letter for a decision taken now. */
  readonly letter: (reason: string, errorCode: string, ruleId: string, attempts: number) => DeadLetter;
}

export async function processFailure(input: FailureInput, deps: PipelineDeps): Promise<Resolution> {
  const now = (deps.now ?? Date.now)();
  const { failure } = input;
  const dryRun = deps.config.dryRun || input.dryRun === true;
  const letter = (reason: string, errorCode: string, ruleId: string, attempts: number): DeadLetter => ({ reason, errorCode, attempts, ruleId, firstSeenAt: input.firstSeenAt, decidedAt: now });
  // The status word first: it says nothing about a chain, so neither answer touches the ledger or Workspace.
  const status = statusVerdict(failure, deps.config.policy);
  if (status.kind === 'not-failed') return { kind: 'not-failed', status: status.status, reason: status.reason };
  if (status.kind === 'unknown-status') {
    const dead = letter(status.reason, 'UNKNOWN_STATUS', 'unknown-status', 0);
    return { kind: 'dead-letter', letter: dryRun ? { ...dead, reason: `dry-run: would give up: ${status.reason}`, errorCode: 'DRY_RUN' } : dead, dryRun };
  }
  if (!deps.config.retriesEnabled) {
    const reason = 'retries-disabled: the kill switch is off (its SSM parameter, or RETRIES_ENABLED)';
    if (dryRun) return { kind: 'dead-letter', letter: letter(`dry-run: would defer (${reason})`, 'DRY_RUN', 'retries-disabled', 0), dryRun };
    return { kind: 'requeue', reason, delaySeconds: MAX_DELAY_SECONDS, attempt: 0 };
  }
  const project = { projectId: failure.projectId, region: failure.region };
  const { credentials, version } = await deps.credentials.forProject(failure.projectId);
  const ctx: FailureContext = { input, deps, now, dryRun, project, endpoint: deps.workspace.endpointOf(project), credentials, version, letter };
  try {
    const open = circuitOpen(ctx, 0);
    if (open) return open;
    if (failure.recordId === undefined) return expandTask(failure.taskId!, ctx);
    const run = { projectId: failure.projectId, recordId: failure.recordId, taskId: failure.taskId, resourceId: failure.resourceId, scriptId: failure.scriptId, region: failure.region, failedAt: failure.failedAt, startedAt: failure.startedAt, endedAt: failure.endedAt };
    // A dry run reads but never writes: the lookup is not cached.
    let located = await deps.ledger.locate(run, () => lookUpOrAsIs(run, ctx), { cache: !dryRun });
    // A conflict means another delivery wrote first: read again and decide again (a few times at most).
    for (let round = 0; round < 3; round++) {
      const resolution = await step(located, ctx);
      if (resolution !== 'conflict') return resolution;
      located = await deps.ledger.reread(located);
    }
    return { kind: 'requeue', reason: 'contended: other deliveries of this failure kept writing first', delaySeconds: 5, attempt: 0 };
  } catch (error) {
    return lookupFailure(error, ctx);
  }
}

/**
 * A task-level event: its failed records, each a failure of its own. None
 * failed, but the task has runs: nothing to retry (its failures were retried
 * and superseded, as Workspace may list them only as history, or it
 * succeeded). No runs at all: surfaced once.
 */
async function expandTask(taskId: string, ctx: FailureContext): Promise<Resolution> {
  const records = await withKey(ctx, (key) => failedRecordsOf(ctx.deps.workspace, ctx.project, taskId, key));
  if (records.length > 0) return { kind: 'expand', taskId, records };
  if (await withKey(ctx, (key) => hasRecords(ctx.deps.workspace, ctx.project, taskId, key))) {
    return { kind: 'duplicate', ruleId: 'no-failed-records', reason: `no-failed-records: task ${taskId} has no failed execution records now (its failures were retried, or it succeeded): nothing to retry` };
  }
  const reason = `no-failed-records: task ${taskId} has no execution records (Workspace does not know it, or its records are gone)`;
  return { kind: 'dead-letter', letter: ctx.letter(reason, ctx.input.failure.resultCode ?? 'NO_FAILED_RECORDS', 'no-failed-records', 0), dryRun: ctx.dryRun || undefined };
}

/**
 * Record detail for an event that lacks its task. A record Workspace does not
 * know (404) is taken as the event describes it: the policy decides, and a
 * retry of it is refused with the evidence.
 */
async function lookUpOrAsIs(run: RunFacts, ctx: FailureContext): Promise<RecordNow> {
  try {
    return await withKey(ctx, (key) => lookUpRun(ctx.deps.workspace, ctx.project, run.recordId, key));
  } catch (error) {
    if (isWorkspaceApiError(error) && error.kind === 'permanent') return run;
    throw error;
  }
}

/** One read-decide-write round; 'conflict' when the chain changed under it. */
async function step(located: Located, ctx: FailureContext): Promise<Resolution | 'conflict'> {
  const { input, deps, now } = ctx;
  const chain = located.chain;
  if (input.carried && chain && (chain.state === 'claimed' || chain.state === 'unknown') && chain.rev === input.carried.rev) {
    return settleCarried(chain, input.carried.taskId, ctx);
  }
  const standing = standingOf(chain, located.generation, { now, force: input.force !== undefined, replayOf: input.replayOf, clockSkewMs: deps.config.clockSkewSeconds * 1000 });
  switch (standing.kind) {
    case 'duplicate':
      // A dry run writes nothing, not even a link it could repair.
      return { kind: 'duplicate', reason: standing.reason, link: standing.relink && chain && !ctx.dryRun ? deps.ledger.relinkOf(chain) : undefined };
    case 'in-flight': {
      const why = chain?.state === 'unknown' ? 'outcome-unknown: the last retry\'s answer was lost; Workspace is asked once its lease ends' : 'in-flight: another delivery of this failure holds the claim';
      return { kind: 'requeue', reason: why, delaySeconds: delayPast(standing.until, now), attempt: 0 };
    }
    case 'unresolved':
      return resolveUnknownOutcome(located, standing, ctx, decideAndAct);
    case 'fresh':
      return decideAndAct(located, standing, ctx);
  }
}

/** Decides under the policy and acts: dead letter (claimed), re-enqueue, or claim and call. */
export async function decideAndAct(located: Located, standing: Extract<Standing, { kind: 'fresh' }>, ctx: FailureContext, base?: Chain): Promise<Resolution | 'conflict'> {
  const { input, deps, now, dryRun } = ctx;
  const chain = base ?? located.chain;
  const failure: ScriptFailure = { ...input.failure, scriptId: input.failure.scriptId ?? located.run.scriptId ?? chain?.script_id, failedAt: input.failure.failedAt ?? located.run.failedAt ?? chain?.failed_at };
  const firstSeenAt = Math.min(input.firstSeenAt, chain?.first_seen_at ?? input.firstSeenAt);
  const jitter = stableJitter(located.chainKey, standing.attemptsMade);
  const decided = decide({ failure, attempts: { count: standing.attemptsMade, lastAttemptAt: standing.lastAttemptAt }, policy: deps.config.policy, now, firstSeenAt, jitter, requestedByOperator: input.manual });
  const decision: Decision = input.force ? { kind: 'retry-now', ruleId: 'forced', attempt: standing.attemptsMade + 1 } : decided;
  const letter = (reason: string, errorCode: string, ruleId: string) => ({ ...ctx.letter(reason, errorCode, ruleId, standing.attemptsMade), firstSeenAt });

  if (decision.kind === 'give-up') {
    // A give-up decided again because its letter was never confirmed keeps its first decision time: either letter's replay then matches.
    const again = standing.reopened === undefined && chain?.decided_at !== undefined && (chain.state === 'claimed' || chain.state === 'open') ? chain.decided_at : undefined;
    const dead = { ...letter(decision.reason, failure.resultCode ?? decision.ruleId, decision.ruleId), ...(again !== undefined ? { decidedAt: again } : {}) };
    if (dryRun) return { kind: 'dead-letter', letter: { ...dead, reason: `dry-run: would give up: ${decision.reason}`, errorCode: 'DRY_RUN' }, decision, dryRun };
    const claim = await deps.ledger.claim(located, standing.rev, 'give-up', { base, decidedAt: dead.decidedAt });
    return claim ? { kind: 'dead-letter', letter: dead, decision, claim } : 'conflict';
  }
  if (decision.kind === 'retry-later') {
    if (dryRun) return { kind: 'dead-letter', letter: letter(`dry-run: would retry in ${decision.delaySeconds} s (rule ${decision.ruleId})`, 'DRY_RUN', decision.ruleId), decision, dryRun };
    return { kind: 'requeue', reason: `retry-later: rule ${decision.ruleId}`, delaySeconds: decision.delaySeconds, attempt: decision.attempt, ruleId: decision.ruleId };
  }
  if (dryRun) {
    const preview = deps.workspace.describeRetry(ctx.project, retryTargetOf(failure), ctx.credentials);
    return { kind: 'dead-letter', letter: letter(`dry-run: would retry now (rule ${decision.ruleId})`, 'DRY_RUN', decision.ruleId), preview, decision, dryRun };
  }
  return callRetry(located, standing, decision, ctx, base);
}

async function settleCarried(chain: Chain, taskId: string, ctx: FailureContext): Promise<Resolution | 'conflict'> {
  const { outcome } = await ctx.deps.ledger.settleRetried({ chain }, { taskId, via: 'carried' });
  if (outcome === 'lease-lost') return 'conflict';
  return { kind: 'retried', newTaskId: taskId, ruleId: 'carried', attempt: chain.attempts, via: 'carried' };
}
