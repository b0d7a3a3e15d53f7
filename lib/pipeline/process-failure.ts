import type { ScriptFailure } from '../events/failure.js';
import type { RunFacts } from '../ledger/chain.js';
import type { Located, ReadAhead, RecordNow } from '../ledger/locate.js';
import { standingOf } from '../ledger/standing.js';
import { MAX_DELAY_SECONDS } from '../platform/queue-sender.js';
import { statusVerdict } from '../policy/policy.js';
import { isWorkspaceApiError } from '../workspace/errors.js';
import { withKey } from '../workspace/key-calls.js';
import {
  type FailureContext,
  type FailureInput,
  failureContext,
  type ItemSlot,
  isDryRun,
  letterOf,
  type PipelineDeps,
} from './context.js';
import { decideAndAct, settleCarried } from './decide.js';
import { lookupFailure } from './lookup-failure.js';
import { duplicate, type Resolution, requeue } from './resolution.js';
import { circuitWait } from './retry-call.js';
import { resolveUnknownOutcome } from './unknown-outcome.js';
import { failedRecordsOf, hasRecords, lookUpRun } from './workspace-lookups.js';

export type { FailureContext, FailureInput, PipelineDeps } from './context.js';

/**
 * One failure event through the protocol of docs/ledger-protocol.md: find its
 * chain and run, ask the ledger what the run's standing is, decide under the
 * policy, claim, call, and say what must happen next (plain data: the way in
 * performs the forwards and settles the ledger by their result).
 */
export async function processFailure(
  input: FailureInput,
  deps: PipelineDeps,
  slot: ItemSlot = {},
): Promise<Resolution> {
  const now = (deps.now ?? Date.now)();
  const { failure } = input;
  const dryRun = isDryRun(input, deps);
  const letter = letterOf(input, now);
  // The status word first: it says nothing about a chain, so neither answer touches the ledger or Workspace.
  const status = statusVerdict(failure, deps.config.policy);
  if (status.kind === 'not-failed') return { kind: 'not-failed', status: status.status, reason: status.reason };
  if (status.kind === 'unknown-status') {
    const dead = letter(status.reason, 'UNKNOWN_STATUS', 'unknown-status', 0);
    return dryRun
      ? {
          kind: 'preview',
          letter: { ...dead, reason: `dry-run: would give up: ${status.reason}`, errorCode: 'DRY_RUN' },
        }
      : { kind: 'dead-letter', code: 'unknown-status', letter: dead };
  }
  if (!deps.config.retriesEnabled) {
    const reason = 'retries-disabled: the kill switch is off (its SSM parameter, or RETRIES_ENABLED)';
    if (dryRun)
      return { kind: 'preview', letter: letter(`dry-run: would defer (${reason})`, 'DRY_RUN', 'retries-disabled', 0) };
    return requeue('retries-disabled', reason, { seconds: MAX_DELAY_SECONDS });
  }
  const ctx = await failureContext(input, deps, now, slot);
  try {
    const open = circuitWait(ctx, 0);
    if (open) return open;
    if (failure.recordId === undefined) return await expandTask(failure.taskId!, ctx);
    const run = runOf(failure, failure.recordId);
    // A dry run reads but never writes: the lookup is not cached.
    let located = await deps.ledger.locate(run, () => lookUpOrAsIs(run, ctx), { cache: !dryRun, ahead: slot.ahead });
    // A conflict means another delivery wrote first: locate again from fresh reads (the chain, and the run's place in
    // it, may have changed) and decide again (a few times at most).
    for (let round = 0; round < 3; round++) {
      const resolution = await step(located, ctx);
      if (resolution !== 'conflict') return resolution;
      located = await locateAfresh(located, ctx);
    }
    return requeue('contended', 'contended: other deliveries of this failure kept writing first', { seconds: 5 });
  } catch (error) {
    return lookupFailure(error, ctx);
  }
}

/**
 * The ledger reads a record-level failure's location begins with, started
 * before its turn (lib/pipeline/runner.ts); none for an event that will not
 * read the ledger (not a failure, retries switched off, a task-level event).
 */
export function readAheadFor(input: FailureInput, deps: PipelineDeps): ReadAhead | undefined {
  const { failure } = input;
  if (
    failure.recordId === undefined ||
    !deps.config.retriesEnabled ||
    statusVerdict(failure, deps.config.policy).kind !== 'failure'
  )
    return undefined;
  return deps.ledger.readAhead(runOf(failure, failure.recordId));
}

function runOf(failure: ScriptFailure, recordId: string): RunFacts {
  return {
    projectId: failure.projectId,
    recordId,
    taskId: failure.taskId,
    resourceId: failure.resourceId,
    scriptId: failure.scriptId,
    region: failure.region,
    failedAt: failure.failedAt,
    startedAt: failure.startedAt,
    endedAt: failure.endedAt,
  };
}

/**
 * A task-level event: its failed records, each a failure of its own. None
 * failed, but the task has runs: nothing to retry (its failures were retried
 * and superseded, as Workspace may list them only as history, or it
 * succeeded). No runs at all: surfaced once.
 */
async function expandTask(taskId: string, ctx: FailureContext): Promise<Resolution> {
  const records = await withKey(ctx.keys, (key) => failedRecordsOf(ctx.deps.workspace, ctx.project, taskId, key));
  if (records.length > 0) return { kind: 'expand', taskId, records };
  if (await withKey(ctx.keys, (key) => hasRecords(ctx.deps.workspace, ctx.project, taskId, key))) {
    return duplicate(
      'no-failed-records',
      `no-failed-records: task ${taskId} has no failed execution records now (its failures were retried, or it succeeded): nothing to retry`,
    );
  }
  const reason = `no-failed-records: task ${taskId} has no execution records (Workspace does not know it, or its records are gone)`;
  const letter = ctx.letter(reason, ctx.input.failure.resultCode ?? 'NO_FAILED_RECORDS', 'no-failed-records', 0);
  return ctx.dryRun ? { kind: 'preview', letter } : { kind: 'dead-letter', code: 'no-failed-records', letter };
}

/**
 * Record detail for an event that lacks its task. A record Workspace does not
 * know (404) is taken as the event describes it: the policy decides, and a
 * retry of it is refused with the evidence.
 */
async function lookUpOrAsIs(run: RunFacts, ctx: FailureContext): Promise<RecordNow> {
  try {
    return await withKey(ctx.keys, (key) => lookUpRun(ctx.deps.workspace, ctx.project, run.recordId, key));
  } catch (error) {
    if (isWorkspaceApiError(error) && error.kind === 'permanent') return run;
    throw error;
  }
}

/**
 * The run located again from fresh reads (no reads made ahead), from the event's own facts. What a lookup added to
 * them is kept where it names the run's place (its task, desktop and script never change); what it said of the
 * record's current run is not. For an event without its start, the lookup's start was the record's run at that
 * moment, placed with whether that run had failed; taken as the event's own start, a run still going that a retry
 * started in place would be decided as this failure (docs/ledger-protocol.md, "Reads made ahead").
 */
function locateAfresh(located: Located, ctx: FailureContext): Promise<Located> {
  const event = runOf(ctx.input.failure, located.run.recordId);
  const run: RunFacts = {
    ...event,
    taskId: event.taskId ?? located.run.taskId,
    resourceId: event.resourceId ?? located.run.resourceId,
    scriptId: event.scriptId ?? located.run.scriptId,
  };
  return ctx.deps.ledger.locate(run, () => lookUpOrAsIs(run, ctx), { cache: !ctx.dryRun });
}

/** One read-decide-write round; 'conflict' when the chain changed under it. */
async function step(located: Located, ctx: FailureContext): Promise<Resolution | 'conflict'> {
  const { input, deps, now } = ctx;
  const chain = located.chain;
  // A message that carries its claim's answer (the claim it names still stands): settled with that answer.
  const carried =
    chain && (chain.state === 'claimed' || chain.state === 'unknown') && chain.rev === input.carried?.rev
      ? { chain, taskId: input.carried.taskId }
      : undefined;
  const standing = standingOf(chain, located.generation, {
    now,
    force: input.force !== undefined,
    replayOf: input.replayOf,
    clockSkewMs: deps.config.clockSkewSeconds * 1000,
  });
  // A chain read ahead may be old: its lease judged by today's clock, an unknown outcome since resolved. It decides a
  // claim (conditional on the revision read) or a duplicate (chains only move on); anything else is judged again on a
  // fresh read (docs/ledger-protocol.md, "Reads made ahead").
  if (located.ahead && (carried || (standing.kind !== 'fresh' && standing.kind !== 'duplicate')))
    return step(await locateAfresh(located, ctx), ctx);
  if (carried) return settleCarried(carried.chain, carried.taskId, ctx);
  switch (standing.kind) {
    case 'duplicate':
      // A dry run writes nothing, not even a link it could repair.
      return duplicate(
        'handled',
        standing.reason,
        standing.relink && chain && !ctx.dryRun ? deps.ledger.relinkOf(chain) : undefined,
      );
    case 'in-flight': {
      const wait = { until: standing.until, now };
      if (chain?.state === 'unknown')
        return requeue(
          'outcome-unknown',
          "outcome-unknown: the last retry's answer was lost; Workspace is asked once its lease ends",
          wait,
        );
      return requeue('in-flight', 'in-flight: another delivery of this failure holds the claim', wait);
    }
    case 'unresolved':
      return resolveUnknownOutcome(located, standing, ctx);
    case 'fresh':
      return decideAndAct(located, standing, ctx);
  }
}
