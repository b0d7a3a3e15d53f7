/**
 * The one entrance from a way in: its failure events, already read, run
 * through the pipeline at bounded concurrency, their forwards made durable,
 * one outcome line each, in order. A way in hands its items over and gets
 * their outcomes back; the pipeline never calls into it.
 */

import { type AppConfig, leaseFloorSeconds } from '../config/app-config.js';
import type { ScriptFailure } from '../events/failure.js';
import type { ReadAhead } from '../ledger/locate.js';
import { mapWithConcurrency, Places } from '../platform/concurrency.js';
import type { SourceMessage } from '../platform/queue-sender.js';
import type { FailureInput, ItemSlot, PipelineDeps } from './context.js';
import { reportOutcome } from './outcome.js';
import { processFailure, readAheadFor } from './process-failure.js';
import { hold, type Resolution } from './resolution.js';
import { type Forwarders, type Settled, type Settling, settleAll } from './settlement.js';

/**
 * One event as a way in hands it over: a failure to decide, or what was decided without one (a body that is no failure
 * event).
 */
export type PipelineItem = { readonly source: SourceMessage; readonly firstSeenAt: number } & (
  | { readonly input: FailureInput; readonly resolution?: undefined }
  | { readonly input?: undefined; readonly resolution: Resolution; readonly failure?: ScriptFailure | undefined }
);

/**
 * One run of the pipeline: the items, their dependencies, where dead letters and re-enqueues go, and how items are
 * ordered and cut off.
 */
export interface PipelineRun {
  readonly items: readonly PipelineItem[];
  readonly deps: PipelineDeps;
  readonly forwarders: Forwarders;
  /** `queue`, `schedule`, `manual`: in every outcome line. */
  readonly way: string;
  /** Items with the same key run one after the other (copies of one failure in a batch). */
  readonly keyOf?: ((item: PipelineItem) => string | undefined) | undefined;
  /**
   * Asked as each item is about to start: a reason to leave it where it is instead (the invocation's time is nearly
   * spent).
   */
  readonly tooLate?: (() => string | undefined) | undefined;
}

/**
 * Resolves, settles and reports every item; returns them settled, in order.
 * At most MAX_CONCURRENCY Workspace calls at once, each holding one of the
 * run's places, and at most MAX_CONCURRENCY items preparing (before their
 * retry call has its place): the next items' ledger work (the reads, the
 * claim) is done while the calls before them are out, so a call place never
 * waits on DynamoDB (docs/ledger-protocol.md, "Claims made ahead"), and the
 * first items' claims are not slowed by the next ones'. The ledger reads of
 * the items after those are made ahead too, and an item whose retry call was
 * answered gives its place to the next while its outcome is written
 * (lib/platform/concurrency.ts).
 */
export async function runPipeline(run: PipelineRun): Promise<Settled[]> {
  const { config } = run.deps;
  const places = new Places(config.maxConcurrency);
  const preparing = new Places(config.maxConcurrency);
  const reads = new Map<number, ReadAhead>();
  const ahead = (item: PipelineItem, index: number) => {
    const read = item.input && readAheadFor(item.input, run.deps);
    if (read) reads.set(index, read);
  };
  const resolve = async (item: PipelineItem, index: number, free: () => void) => {
    const read = reads.get(index);
    reads.delete(index);
    const preparation = await preparing.take();
    try {
      return await resolveItem(item, run, {
        ahead: read,
        free,
        places,
        tooLate: run.tooLate,
        prepared: () => preparation.release(),
      });
    } finally {
      preparation.release();
    }
  };
  const settling = await mapWithConcurrency(run.items, config.maxConcurrency + claimsAhead(config), resolve, {
    keyOf: run.keyOf,
    ahead,
  });
  const settled = await settleAll(settling, run.forwarders, run.deps.ledger);
  for (const item of settled) reportOutcome(item.outcome, item, run.way);
  return settled;
}

/**
 * How many items beyond MAX_CONCURRENCY are under way, their claims made before a call place is free: as many again
 * when the lease outlives a wait for a place (at most one worst-case call: the places' holders are ahead of it) and
 * then the call; none when it does not (a lease set near its floor), and every claim is then made with its place in
 * reach.
 */
export function claimsAhead(config: Pick<AppConfig, 'maxConcurrency' | 'leaseSeconds' | 'worstCaseCallMs'>): number {
  return config.leaseSeconds >= leaseFloorSeconds(2 * config.worstCaseCallMs) ? config.maxConcurrency : 0;
}

async function resolveItem(item: PipelineItem, run: PipelineRun, slot: ItemSlot): Promise<Settling> {
  const late = run.tooLate?.();
  if (item.input === undefined)
    return { source: item.source, resolution: item.resolution, firstSeenAt: item.firstSeenAt, failure: item.failure };
  if (late !== undefined)
    return {
      source: item.source,
      resolution: hold('time-budget', late),
      firstSeenAt: item.firstSeenAt,
      failure: item.input.failure,
    };
  return resolveFailure(item.input, item.source, run.deps, slot);
}

/** Runs one failure through the pipeline; anything thrown (ledger or secret unreachable) holds it where it is. */
export async function resolveFailure(
  input: FailureInput,
  source: SourceMessage,
  deps: PipelineDeps,
  slot: ItemSlot = {},
): Promise<Settling> {
  try {
    return {
      source,
      resolution: await processFailure(input, deps, slot),
      firstSeenAt: input.firstSeenAt,
      failure: input.failure,
    };
  } catch (error) {
    return {
      source,
      resolution: hold('unavailable', `${(error as Error).name}: ${(error as Error).message}`),
      firstSeenAt: input.firstSeenAt,
      failure: input.failure,
    };
  }
}

/**
 * A source message for a failure that did not come from a queue (the sweep, the console): its body is the failure as
 * JSON.
 */
export function syntheticSource(messageId: string, payload: unknown): SourceMessage {
  return { messageId, originId: messageId, body: JSON.stringify(payload), attributes: {} };
}
