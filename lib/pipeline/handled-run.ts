import { overlaidFacts } from '../ledger/chain.js';
import type { Located } from '../ledger/locate.js';
import { mayRunInPlace, runsOf } from '../ledger/runs.js';
import { withKey } from '../workspace/key-calls.js';
import type { FailureContext } from './context.js';
import { lookUpRun } from './workspace-lookups.js';

/** The run a retry is about to retry, as the claim will record it. */
export type HandledRun =
  /** `freshTask`: Workspace is known to answer with a new task, so the retry will run no record in place. */
  | { readonly located: Located; readonly freshTask: boolean }
  /** The record has run again since this failure, and that run did not fail: nothing to retry. */
  | { readonly superseded: string };

/**
 * Before a retry: when the run it retries started, and that it is still the
 * record's current run (docs/ledger-protocol.md, "Runs"). If Workspace re-runs
 * a record in place, the start is all that tells the retried run from the run
 * the retry starts, and once the retry has run, Workspace shows only the new
 * one; so the claim records it, from the record's detail. The detail also
 * shows whether someone ran the record again meanwhile: then this failure was
 * superseded, and is not retried (its record's newer run is a failure of its
 * own, or no failure at all). Not asked once Workspace is known to answer with
 * new tasks: by this chain's own answers, or by this container's
 * (lib/workspace/retry-readings.ts), which the claim then records
 * (`fresh_task`) for every container that reads the chain.
 */
export async function withHandledStart(located: Located, ctx: FailureContext): Promise<HandledRun> {
  const runs = located.chain ? runsOf(located.chain) : [];
  const freshTask = !mayRunInPlace(runs) || ctx.deps.readings?.mayRunInPlace === false;
  if (freshTask) return { located, freshTask };
  const handledStart = located.run.startedAt ?? runs.find((run) => run.g === located.generation)?.start;
  const now = await withKey(ctx.keys, (key) => lookUpRun(ctx.deps.workspace, ctx.project, located.run.recordId, key));
  const ranAgain = handledStart !== undefined && now.startedAt !== undefined && now.startedAt !== handledStart;
  if (ranAgain || now.failed === false) {
    const started = now.startedAt !== undefined ? new Date(now.startedAt).toISOString() : 'at an unknown time';
    return {
      superseded: `superseded: record ${located.run.recordId} has run again since this failure (its run that started ${started} ${now.failed === false ? 'did not fail' : 'is a failure of its own'})`,
    };
  }
  const { failed: _failed, ...facts } = now;
  return { located: { ...located, run: overlaidFacts(facts, located.run) }, freshTask };
}
