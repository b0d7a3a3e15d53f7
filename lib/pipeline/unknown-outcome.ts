import type { Located } from '../ledger/locate.js';
import { withRunFacts, type Chain } from '../ledger/chain.js';
import { released } from '../ledger/transitions.js';
import type { Standing } from '../ledger/standing.js';
import type { FailureContext } from './process-failure.js';
import { withKey } from './retry-call.js';
import type { Resolution } from './resolution.js';
import { findLandedRun, lookUpRun } from './workspace-lookups.js';

type Fresh = Extract<Standing, { kind: 'fresh' }>;
type DecideAndAct = (located: Located, standing: Fresh, ctx: FailureContext, base?: Chain) => Promise<Resolution | 'conflict'>;

/**
 * A retry whose outcome is unknown (its answer was lost, or its holder died
 * mid-call) is resolved before anyone calls again (docs/ledger-protocol.md,
 * "Unknown outcomes"): Workspace is asked for a run of the same script on the
 * same desktop that started after the claim (less the allowed clock skew).
 * Found: the retry landed, settled as retried with that run's task, no call.
 * Not found: the attempt is given back and the run is decided afresh.
 * The lookup failing: deferred (lookupFailure, by the caller).
 */
export async function resolveUnknownOutcome(located: Located, standing: Extract<Standing, { kind: 'unresolved' }>, ctx: FailureContext, decideAndAct: DecideAndAct): Promise<Resolution | 'conflict'> {
  const { deps } = ctx;
  let chain = located.chain!;
  if (chain.resource_id === undefined || chain.script_id === undefined) {
    chain = withRunFacts(chain, await withKey(ctx, (key) => lookUpRun(deps.workspace, ctx.project, chain.current_record, key)));
  }
  if (chain.resource_id === undefined || chain.script_id === undefined) {
    // Workspace does not say which desktop and script: the outcome cannot be checked, so it is surfaced, never called again.
    const reason = `outcome-unknown: the retry's answer was lost and record ${chain.current_record} names no desktop or script to check it by`;
    if (ctx.dryRun) return dryRunPreview(`would give up: ${reason}`, 'outcome-unknown', ctx, chain);
    const claim = await deps.ledger.claim(located, standing.rev, 'give-up', chain);
    return claim ? { kind: 'dead-letter', letter: ctx.letter(reason, 'OUTCOME_UNKNOWN', 'outcome-unknown', chain.attempts), claim } : 'conflict';
  }
  const { resource_id: resourceId, script_id: scriptId } = chain;
  const landed = await withKey(ctx, (key) => findLandedRun(deps.workspace, ctx.project, {
    resourceId,
    scriptId,
    since: standing.claimedAt - deps.config.clockSkewSeconds * 1000,
    knownRecords: [chain.root_record, chain.current_record],
    knownTasks: chain.tasks,
  }, key));
  if (landed) {
    const taskId = landed.script_task_id!;
    if (ctx.dryRun) return dryRunPreview(`would record the lost retry as retried: Workspace shows its run (task ${taskId})`, 'lost-answer-found', ctx, chain);
    const link = await deps.ledger.resolveLanded(chain, { taskId, via: 'lookup' });
    if (!link) return 'conflict';
    // This event is a later run (the lost retry's own, or its failure): written now, it is decided as its generation.
    if (located.generation > standing.attemptsMade) return 'conflict';
    return { kind: 'retried', newTaskId: taskId, ruleId: 'lost-answer-found', attempt: chain.attempts, via: 'lookup' };
  }
  const reopened = released(chain, { reason: 'the lost retry did not run (Workspace shows no run after the claim)', errorCode: 'NOT_RUN' }, { now: ctx.now });
  return decideAndAct(located, { kind: 'fresh', attemptsMade: reopened.attempts, lastAttemptAt: reopened.last_attempt_at, rev: standing.rev }, ctx, { ...reopened, rev: chain.rev });
}

/** A dry run reads but never writes: what resolving the outcome would record, shown instead. */
function dryRunPreview(would: string, ruleId: string, ctx: FailureContext, chain: Chain): Resolution {
  return { kind: 'dead-letter', letter: ctx.letter(`dry-run: ${would}`, 'DRY_RUN', ruleId, chain.attempts), dryRun: true };
}
