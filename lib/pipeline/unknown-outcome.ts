import { type Chain, type RunFacts, withRunFacts } from '../ledger/chain.js';
import type { Located } from '../ledger/locate.js';
import { placeRun, runsOf } from '../ledger/runs.js';
import type { Standing } from '../ledger/standing.js';
import { released } from '../ledger/transitions.js';
import { withKey } from '../workspace/key-calls.js';
import type { Reading } from '../workspace/retry-readings.js';
import type { FailureContext } from './context.js';
import { decideAndAct } from './decide.js';
import type { Resolution } from './resolution.js';
import { lookUpRun, runsSince } from './workspace-lookups.js';

/**
 * A retry whose outcome is unknown (its answer was lost, or its holder died
 * mid-call) is resolved before anyone calls again (docs/ledger-protocol.md,
 * "Unknown outcomes"): Workspace lists the runs of the same script on the
 * same desktop that started after the claim (less the allowed clock skew),
 * superseded runs included, and the one the retry started is looked for.
 * Found: the retry landed, settled as retried with that run, no call.
 * Not found: the attempt is given back and the run is decided afresh.
 * The lookup failing: deferred (lookupFailure, by the caller).
 */
export async function resolveUnknownOutcome(
  located: Located,
  standing: Extract<Standing, { kind: 'unresolved' }>,
  ctx: FailureContext,
): Promise<Resolution | 'conflict'> {
  const { deps } = ctx;
  let chain = located.chain!;
  if (chain.resource_id === undefined || chain.script_id === undefined) {
    chain = withRunFacts(
      chain,
      await withKey(ctx.keys, (key) => lookUpRun(deps.workspace, ctx.project, chain.current_record, key)),
    );
  }
  if (chain.resource_id === undefined || chain.script_id === undefined) {
    // Workspace does not say which desktop and script: the outcome cannot be checked, so it is surfaced, never called
    // again.
    const reason = `outcome-unknown: the retry's answer was lost and record ${chain.current_record} names no desktop or script to check it by`;
    if (ctx.dryRun) return dryRunPreview(`would give up: ${reason}`, 'outcome-unknown', ctx, chain);
    const claim = await deps.ledger.claim(located, standing.rev, 'give-up', { base: chain });
    return claim
      ? {
          kind: 'dead-letter',
          code: 'outcome-unknown',
          letter: ctx.letter(reason, 'OUTCOME_UNKNOWN', 'outcome-unknown', chain.attempts),
          claim,
        }
      : 'conflict';
  }
  const landed = await findOwnRun(
    chain,
    { resourceId: chain.resource_id, scriptId: chain.script_id },
    standing.claimedAt,
    ctx,
  );
  if (landed) {
    const taskId = landed.taskId!;
    if (ctx.dryRun)
      return dryRunPreview(
        `would record the lost retry as retried: Workspace shows its run (record ${landed.recordId}, task ${taskId})`,
        'lost-answer-found',
        ctx,
        chain,
      );
    const written = await deps.ledger.resolveLanded(chain, { taskId, via: 'lookup', run: landed });
    if (!written) return 'conflict';
    // This event is a later run (the lost retry's own, or its failure): written now, it is decided as its generation.
    if (located.generation > standing.attemptsMade) return 'conflict';
    return { kind: 'retried', newTaskId: taskId, ruleId: 'lost-answer-found', attempt: chain.attempts, via: 'lookup' };
  }
  const reopened = released(
    chain,
    { reason: 'the lost retry did not run (Workspace shows no run after the claim)', errorCode: 'NOT_RUN' },
    { now: ctx.now },
  );
  return decideAndAct(
    located,
    { kind: 'fresh', attemptsMade: reopened.attempts, lastAttemptAt: reopened.last_attempt_at, rev: standing.rev },
    ctx,
    { ...reopened, rev: chain.rev },
  );
}

/**
 * The run the chain's pending retry started, if Workspace shows one: a run of
 * its script on its desktop, started after the claim (less the skew), that
 * the chain places as that retry's run (lib/ledger/runs.ts placeRun: not the
 * run it retried, not a run of another record's task) and that no other chain
 * claims. Preferred, in order: a run Workspace ties to the chain (its record
 * run again in place, or a new record in one of its tasks); a run that
 * started at or after the claim; a run inside the skew window. The earliest
 * of the best kind.
 */
async function findOwnRun(
  chain: Chain,
  on: { readonly resourceId: string; readonly scriptId: string },
  claimedAt: number,
  ctx: FailureContext,
): Promise<RunFacts | undefined> {
  const { deps } = ctx;
  const skewMs = deps.config.clockSkewSeconds * 1000;
  const query = { ...on, since: claimedAt - skewMs };
  const runs = await withKey(ctx.keys, (key) => runsSince(deps.workspace, ctx.project, query, key));
  const retry = chain.attempts;
  const candidates = runs.filter((run) => run.taskId !== undefined && placesAt(chain, run, skewMs) === retry);
  if (candidates.length === 0) return undefined;
  const elsewhere = await deps.ledger.claimedElsewhere(chain, candidates);
  const ours = candidates.filter((run) => !elsewhere.has(run.recordId));
  const known = runsOf(chain);
  const tied = (run: RunFacts) =>
    known.some((entry) => entry.g < retry && (entry.record === run.recordId || entry.task === run.taskId));
  // Once answers have shown the reading, a retry's run is tied to its chain (same task) or never is (new task).
  const seen = await readingsKnown(chain, ctx);
  const fitting = seen.size === 1 ? ours.filter((run) => tied(run) === seen.has('same-task')) : ours;
  const rank = (run: RunFacts) => (tied(run) ? 0 : (run.startedAt ?? claimedAt) >= claimedAt ? 1 : 2);
  return fitting.sort((a, b) => rank(a) - rank(b) || (a.startedAt ?? 0) - (b.startedAt ?? 0))[0];
}

/**
 * What answers have shown of Workspace's retry: this chain's own, this container's, and any container's in the ledger.
 */
async function readingsKnown(chain: Chain, ctx: FailureContext): Promise<Set<Reading>> {
  const readings: readonly Reading[] = ['new-task', 'same-task'];
  const recorded = await ctx.deps.ledger.readingsSeen(ctx.project.projectId, readings);
  ctx.deps.readings?.learn(recorded);
  const seen = new Set<Reading>(recorded);
  for (const reading of readings) if (ctx.deps.readings?.has(reading)) seen.add(reading);
  const runs = runsOf(chain);
  runs.forEach((entry, i) => {
    const previous = runs[i - 1];
    if (entry.fresh_task) seen.add('new-task');
    if (previous?.task !== undefined && entry.task !== undefined)
      seen.add(entry.task === previous.task ? 'same-task' : 'new-task');
  });
  return seen;
}

function placesAt(chain: Chain, run: RunFacts, skewMs: number): number | undefined {
  const placement = placeRun(chain, run, { skewMs });
  return placement.kind === 'run' ? placement.generation : undefined;
}

/** A dry run reads but never writes: what resolving the outcome would record, shown instead. */
function dryRunPreview(would: string, ruleId: string, ctx: FailureContext, chain: Chain): Resolution {
  return { kind: 'preview', letter: ctx.letter(`dry-run: ${would}`, 'DRY_RUN', ruleId, chain.attempts) };
}
