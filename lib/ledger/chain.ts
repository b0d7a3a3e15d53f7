/**
 * The attempt ledger's items, as plain data: their shapes, their keys, and
 * what a chain says about the run it handles. The protocol they follow is
 * written down in docs/ledger-protocol.md; the pure transitions between
 * states are in lib/ledger/transitions.ts.
 */

/** Where a failure chain stands. */
export type ChainState = 'open' | 'claimed' | 'unknown' | 'retried' | 'dead-lettered';

/** What a claim is taken for: a retry call, or a give-up whose dead letter is being sent. */
export type ClaimIntent = 'retry' | 'give-up';

/** One line of a chain's history: an attempt's outcome and the evidence for it. The last 50 are kept. */
export interface HistoryEntry {
  readonly attempt: number;
  readonly at: string;
  readonly outcome: string;
  readonly record_id?: string;
  readonly rule_id?: string;
  readonly task_id?: string;
  readonly request_id?: string;
  readonly error_code?: string;
  readonly reason?: string;
  readonly forced_by?: string;
}

/** One run of a chain: the original (generation 0) or the run retry `g` started. */
export interface RunEntry {
  readonly g: number;
  readonly record?: string | undefined;
  readonly task?: string | undefined;
  /** Workspace's `start_time` of the run, epoch ms (Workspace's clock). */
  readonly start?: number | undefined;
  /** Workspace's `end_time` of the run, epoch ms: the run a retry starts begins after it, on the same clock. */
  readonly end?: number | undefined;
  /** For a retry's run: when that retry was claimed (our clock). */
  readonly claimed_at?: number | undefined;
  /**
   * For a retry's run: Workspace was known to answer retries with a new task when it was claimed, so it runs no record
   * in place.
   */
  readonly fresh_task?: boolean | undefined;
}

/**
 * One failed execution of one script on one desktop, followed through its
 * retries: `pk` = `<project_id>#record#<root record id>`.
 */
export interface Chain {
  readonly pk: string;
  readonly project_id: string;
  readonly root_record: string;
  readonly region?: string | undefined;
  readonly resource_id?: string | undefined;
  readonly script_id?: string | undefined;
  readonly state: ChainState;
  /** Retry calls that ran, or may have run, the script again. */
  readonly attempts: number;
  /** Bumped by every write: each write is conditional on the revision it read. */
  readonly rev: number;
  /** The failed run being handled: its record and task. */
  readonly current_record: string;
  readonly current_task?: string | undefined;
  /** Every task of the chain, oldest first: the root's, then each retry's. */
  readonly tasks: readonly string[];
  /** Every run of the chain, oldest first (lib/ledger/runs.ts); absent on chains written before runs were kept. */
  readonly runs?: readonly RunEntry[] | undefined;
  readonly intent?: ClaimIntent | undefined;
  readonly claimed_at?: number | undefined;
  readonly lease_until?: number | undefined;
  readonly new_task_id?: string | undefined;
  readonly reason?: string | undefined;
  readonly rule_id?: string | undefined;
  readonly error_code?: string | undefined;
  readonly dead_lettered_at?: number | undefined;
  /**
   * A give-up's decision time: a give-up decided again (its letter unconfirmed) reuses it, so its replay still matches.
   */
  readonly decided_at?: number | undefined;
  readonly first_seen_at: number;
  readonly failed_at?: number | undefined;
  readonly last_attempt_at?: number | undefined;
  readonly history: readonly HistoryEntry[];
  /**
   * The handled run waits for its desktop (docs/ledger-protocol.md, "Desktops"); absent until a desktop check first
   * deferred it.
   */
  readonly desktop_wait?: DesktopWait | undefined;
  readonly expires_at?: number | undefined;
}

/** A run waiting for its desktop to be ready before its retry: since when, and whether this chain started it. */
export interface DesktopWait {
  /** The generation of the run that waits: the wait of an earlier run says nothing about a later one. */
  readonly g: number;
  readonly desktop: string;
  /** When the run was first found waiting for its desktop: `wait_max_seconds` counts from here. */
  readonly since: number;
  /** When a delivery of this chain sent the desktop's start. */
  readonly woken_at?: number | undefined;
}

/**
 * One start of a desktop per window, whichever failure on it asked:
 * `pk` = `<project_id>#desktop#<desktop id>`, taken by a conditional write
 * before the start is sent.
 */
export interface DesktopStart {
  readonly pk: string;
  /** The chain whose delivery took it, and that chain's generation. */
  readonly started_by: string;
  readonly g: number;
  readonly at: number;
  /** No other start of the desktop before this (ms). */
  readonly until: number;
  readonly rev: number;
  readonly expires_at?: number | undefined;
}

/** A pointer from a retry's new task (or a later record of a chain) to its chain. */
export interface Link {
  readonly pk: string;
  readonly link_to: string;
  /** Retries that came before the runs it names: 1 for the first retry's task. */
  readonly generation: number;
  readonly expires_at?: number | undefined;
}

/** The key of a record's item: its chain, or a link to the chain of a later record. */
export const recordKey = (projectId: string, recordId: string): string => `${projectId}#record#${recordId}`;
/** The key of a task's link item: a retry's new task points at its chain. */
export const taskKey = (projectId: string, taskId: string): string => `${projectId}#task#${taskId}`;

/**
 * A retry of a chain whose answer was lost, by desktop and script: a failure
 * event for a run nobody has linked yet (the lost retry's own run) finds its
 * chain through it.
 */
export const pendingKey = (projectId: string, resourceId: string, scriptId: string): string =>
  `${projectId}#pending#${resourceId}#${scriptId}`;

/**
 * That a retry's answer showed this reading of Workspace's retry, for the project (lib/workspace/retry-readings.ts).
 */
export const readingKey = (projectId: string, reading: string): string => `${projectId}#reading#${reading}`;

/**
 * The chains a pending marker names, the last claimer first: `link_to`, then
 * the ones before it (`recent`, newest first), so a chain whose retry is
 * still pending is found even after another chain of the same desktop and
 * script claimed.
 */
export function markerChains(item: Record<string, unknown> | undefined): string[] {
  if (!isLink(item)) return [];
  const recent = Array.isArray(item['recent'])
    ? item['recent'].filter((key): key is string => typeof key === 'string')
    : [];
  return [...new Set([item.link_to, ...recent])];
}

/**
 * A chain that retried a run of this task on this desktop and script: a
 * retry that adds its run to the retried run's own task is found by it (and
 * by no other chain with runs on the same desktop and script).
 */
export const memberKey = (projectId: string, taskId: string, resourceId: string, scriptId: string): string =>
  `${projectId}#run#${taskId}#${resourceId}#${scriptId}`;

/** The key of a desktop's DesktopStart item. */
export const desktopKey = (projectId: string, desktopId: string): string => `${projectId}#desktop#${desktopId}`;

/** Whether a ledger item is a DesktopStart. */
export function isDesktopStart(
  item: Record<string, unknown> | undefined,
): item is Record<string, unknown> & DesktopStart {
  return (
    typeof item?.['started_by'] === 'string' && typeof item?.['until'] === 'number' && typeof item?.['rev'] === 'number'
  );
}

/** Whether a ledger item is a Link (it has `link_to`). */
export function isLink(item: Record<string, unknown> | undefined): item is Record<string, unknown> & Link {
  return typeof item?.['link_to'] === 'string';
}

/** Whether a ledger item is a Chain (it has a state and an attempt count). */
export function isChain(item: Record<string, unknown> | undefined): item is Record<string, unknown> & Chain {
  return typeof item?.['state'] === 'string' && typeof item?.['attempts'] === 'number';
}

/**
 * The generation of the run whose failure the chain is handling: the run
 * made by retry number `generation` (0 is the original run).
 */
export function handlingGeneration(chain: Pick<Chain, 'state' | 'attempts' | 'intent'>): number {
  const inFlightRetry = (chain.state === 'claimed' && chain.intent === 'retry') || chain.state === 'unknown';
  return inFlightRetry ? chain.attempts - 1 : chain.attempts;
}

/** What a failure event tells the ledger about the run it names. */
export interface RunFacts {
  readonly projectId: string;
  readonly recordId: string;
  readonly taskId?: string | undefined;
  readonly resourceId?: string | undefined;
  readonly scriptId?: string | undefined;
  readonly region?: string | undefined;
  readonly failedAt?: number | undefined;
  /** Workspace's `start_time` of the run, epoch ms: with the record, what tells one run from another. */
  readonly startedAt?: number | undefined;
  /** Workspace's `end_time` of the run, epoch ms (not a producer's own failure time). */
  readonly endedAt?: number | undefined;
}

/** What `base` says of a run, with every fact `over` knows laid over it (an event's own facts over a lookup's). */
export function overlaidFacts(base: RunFacts, over: RunFacts): RunFacts {
  const known = Object.fromEntries(Object.entries(over).filter(([, value]) => value !== undefined));
  return { ...base, ...known } as RunFacts;
}

/** A chain seen for the first time, before its first write. */
export function newChain(run: RunFacts, now: number): Chain {
  return {
    pk: recordKey(run.projectId, run.recordId),
    project_id: run.projectId,
    root_record: run.recordId,
    region: run.region,
    resource_id: run.resourceId,
    script_id: run.scriptId,
    state: 'open',
    attempts: 0,
    rev: 0,
    current_record: run.recordId,
    current_task: run.taskId,
    tasks: run.taskId ? [run.taskId] : [],
    runs: [{ g: 0, record: run.recordId, task: run.taskId, start: run.startedAt, end: run.endedAt }],
    first_seen_at: now,
    failed_at: run.failedAt,
    history: [],
  };
}

/** Fills what the chain does not know yet about its desktop and script from a run of it. */
export function withRunFacts(chain: Chain, run: RunFacts): Chain {
  return {
    ...chain,
    resource_id: chain.resource_id ?? run.resourceId,
    script_id: chain.script_id ?? run.scriptId,
    region: chain.region ?? run.region,
  };
}
