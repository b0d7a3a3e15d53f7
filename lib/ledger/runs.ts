/**
 * A chain's runs, and where a run an event names belongs among them
 * (docs/ledger-protocol.md, "Runs"). Pure: no I/O.
 *
 * A run is a record at a start time. Whatever a retry does in Workspace (a
 * new task with a new record, a new record in the original task, or the same
 * record run again in place), the run it starts is told from the run it
 * retried by its record, its task or its start time, in that order.
 */

import { type Chain, handlingGeneration, type RunEntry, type RunFacts } from './chain.js';

export type { RunEntry } from './chain.js';

/** Where a run belongs in a chain. */
export type Placement =
  /** It is the chain's run of this generation. */
  | { readonly kind: 'run'; readonly generation: number }
  /** It is not a run of this chain. */
  | { readonly kind: 'not-ours' }
  /**
   * It names a record that may have run again in place, without its start: Workspace's current run of the record tells.
   */
  | { readonly kind: 'ask' };

/** How runs are placed: the clock skew allowed, and whether to place by what the chain knows only. */
export interface PlacementOptions {
  /** How far other clocks may differ from ours: a retry's run may show a start this much before its claim. */
  readonly skewMs: number;
  /**
   * Place only by what the chain knows: a retry whose answer was lost places
   * no run (it could be anyone's on its desktop and script). Whether a run is
   * another chain's is asked so.
   */
  readonly knownOnly?: boolean | undefined;
}

/**
 * The chain's runs, oldest first. A chain written before runs were kept is
 * read as the one reading it was built for: each retry's run in a new task.
 */
export function runsOf(chain: Chain): readonly RunEntry[] {
  if (chain.runs) return chain.runs;
  const entries: RunEntry[] = [{ g: 0, record: chain.root_record, task: chain.tasks[0] }];
  for (let g = 1; g <= chain.attempts; g++)
    entries.push({ g, task: chain.tasks[g], ...(g === chain.attempts ? { claimed_at: chain.last_attempt_at } : {}) });
  const handling = entries[Math.min(entries.length - 1, handlingGeneration(chain))];
  if (handling && handling.record === undefined) entries[handling.g] = { ...handling, record: chain.current_record };
  return entries;
}

/** The runs with what `facts` says of the run of generation `g` added (nothing known is overwritten). */
export function withRun(
  entries: readonly RunEntry[],
  g: number,
  facts: Pick<RunFacts, 'recordId' | 'taskId' | 'startedAt' | 'endedAt'> | Partial<RunFacts>,
): RunEntry[] {
  const known = entries.find((entry) => entry.g === g) ?? { g };
  const merged: RunEntry = {
    ...known,
    record: known.record ?? facts.recordId,
    task: known.task ?? facts.taskId,
    start: known.start ?? facts.startedAt,
    end: known.end ?? facts.endedAt,
  };
  return [...entries.filter((entry) => entry.g !== g), merged].sort((a, b) => a.g - b.g);
}

/** The runs without the run a retry that did not run would have started. */
export function withoutRun(entries: readonly RunEntry[], g: number): RunEntry[] {
  return entries.filter((entry) => entry.g !== g);
}

/**
 * The entries that are, or may be, runs of `record`: where it ran first, then each retry that may have run it again in
 * place.
 */
export function runsOfRecord(entries: readonly RunEntry[], record: string, knownOnly = false): RunEntry[] {
  const sequence: RunEntry[] = [];
  const inPlace = mayRunInPlace(entries);
  for (const entry of entries) {
    const previous = sequence.at(-1);
    const answer = knownOnly
      ? entry.task !== undefined && entry.task === previous?.task
      : entry.task === undefined || entry.task === previous?.task;
    if (entry.record === record) sequence.push(entry);
    else if (inPlace && entry.record === undefined && previous && previous.g === entry.g - 1 && answer)
      sequence.push(entry);
  }
  return sequence;
}

/**
 * Whether the chain's retries may run a record again in place: not once one
 * of its answers named a task other than the retried run's, nor when a retry
 * was claimed knowing that Workspace answers with new tasks (`fresh_task`).
 */
export function mayRunInPlace(entries: readonly RunEntry[]): boolean {
  return !entries.some(
    (entry, i) =>
      entry.fresh_task === true ||
      (i > 0 && entry.task !== undefined && entries[i - 1]!.task !== undefined && entry.task !== entries[i - 1]!.task),
  );
}

/** What Workspace answered when asked for a record's current run (record detail). */
export interface CurrentRun {
  /** Whether that run failed: if not, an event saying the record failed speaks of the run before it. */
  readonly failed: boolean;
}

/**
 * Where `run` belongs in `chain`. A run of another desktop or script is not
 * ours. A record the chain knows is placed by its start time; without one, a
 * record that may have run again in place needs Workspace's word (`ask`,
 * then place again with the facts of the record's current run and `current`).
 * A record the chain does not know is the run of the retry whose answer named
 * its task (or of a retry whose answer was lost), if it started after that
 * retry's claim.
 */
export function placeRun(
  chain: Chain,
  run: Pick<RunFacts, 'recordId' | 'taskId' | 'resourceId' | 'scriptId' | 'startedAt'>,
  options: PlacementOptions,
  current?: CurrentRun,
): Placement {
  if (differs(chain.resource_id, run.resourceId) || differs(chain.script_id, run.scriptId)) return { kind: 'not-ours' };
  const entries = runsOf(chain);
  const sequence = runsOfRecord(entries, run.recordId, options.knownOnly);
  if (sequence.length > 0) return placeInSequence(sequence, run.startedAt, current);
  const newest = entries.at(-1)!;
  if (newest.g === 0 || newest.record !== undefined || (options.knownOnly && newest.task === undefined))
    return { kind: 'not-ours' };
  // A record the chain has not seen: the newest retry's run, if that retry's answer named its task (or was lost).
  if (run.taskId === undefined) return current ? { kind: 'not-ours' } : { kind: 'ask' };
  // A retry known to answer with a new task does not put its run in a task the chain already had.
  const earlierTask = entries.some((entry) => entry.g < newest.g && entry.task === run.taskId);
  const taskFits =
    newest.task === undefined ? !(newest.fresh_task === true && earlierTask) : newest.task === run.taskId;
  return taskFits && startsAfterRetry(entries, newest, run.startedAt, options)
    ? { kind: 'run', generation: newest.g }
    : { kind: 'not-ours' };
}

/**
 * Whether a run that started at `start` can be the run of `retry`: it started
 * after the claim (less the skew other clocks may have), and after the run it
 * retried ended (Workspace's own clock on both sides: a retry is sent once a
 * failure was seen, so its run starts in a later second).
 */
function startsAfterRetry(
  entries: readonly RunEntry[],
  retry: RunEntry,
  start: number | undefined,
  options: PlacementOptions,
): boolean {
  if (start === undefined) return true;
  const retried = entries.find((entry) => entry.g === retry.g - 1);
  if (retried?.end !== undefined && start <= retried.end) return false;
  return retry.claimed_at === undefined || start >= retry.claimed_at - options.skewMs;
}

function placeInSequence(
  sequence: readonly RunEntry[],
  start: number | undefined,
  current: CurrentRun | undefined,
): Placement {
  if (start === undefined) return sequence.length === 1 ? { kind: 'run', generation: sequence[0]!.g } : { kind: 'ask' };
  const index = indexOfStart(sequence, start);
  // The record's current run did not fail: the failure an event reports is the run before it.
  const placed = current && !current.failed && index > 0 ? index - 1 : index;
  return { kind: 'run', generation: sequence[placed]!.g };
}

/** The entry a run of the record that started at `start` is: its own, else the newest one it does not precede. */
function indexOfStart(sequence: readonly RunEntry[], start: number): number {
  const exact = sequence.findIndex((entry) => entry.start === start);
  if (exact >= 0) return exact;
  for (let i = sequence.length - 1; i > 0; i--) {
    const entry = sequence[i]!;
    if (entry.start !== undefined ? entry.start < start : knownBefore(sequence, i) < start) return i;
  }
  return 0;
}

/** The latest start or end known among the entries before `index` (runs of one record follow one another). */
function knownBefore(sequence: readonly RunEntry[], index: number): number {
  // A run again in place starts after the runs before it ended: their ends count where their starts are unknown.
  return Math.max(
    -Infinity,
    ...sequence.slice(0, index).flatMap((entry) => [entry.start, entry.end].filter((t) => t !== undefined)),
  );
}

function differs(known: string | undefined, given: string | undefined): boolean {
  return known !== undefined && given !== undefined && known !== given;
}
