/**
 * The attempt ledger's items, as plain data. The protocol they follow is
 * written down in docs/ledger-protocol.md; this module holds the shapes and
 * the pure transitions (each returns the next item; the store writes it with
 * a condition on the revision it was computed from).
 */

/** Where a failure chain stands. */
export type ChainState = 'open' | 'claimed' | 'unknown' | 'retried' | 'dead-lettered';

/** What a claim is taken for: a retry call, or a give-up whose dead letter is being sent. */
export type ClaimIntent = 'retry' | 'give-up';

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
  readonly intent?: ClaimIntent | undefined;
  readonly claimed_at?: number | undefined;
  readonly lease_until?: number | undefined;
  readonly new_task_id?: string | undefined;
  readonly reason?: string | undefined;
  readonly rule_id?: string | undefined;
  readonly error_code?: string | undefined;
  readonly dead_lettered_at?: number | undefined;
  /** A give-up's decision time: a give-up decided again (its letter unconfirmed) reuses it, so its replay still matches. */
  readonly decided_at?: number | undefined;
  readonly first_seen_at: number;
  readonly failed_at?: number | undefined;
  readonly last_attempt_at?: number | undefined;
  readonly history: readonly HistoryEntry[];
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

export const recordKey = (projectId: string, recordId: string): string => `${projectId}#record#${recordId}`;
export const taskKey = (projectId: string, taskId: string): string => `${projectId}#task#${taskId}`;

/**
 * A retry of a chain whose answer was lost, by desktop and script: a failure
 * event for a run nobody has linked yet (the lost retry's own run) finds its
 * chain through it.
 */
export const pendingKey = (projectId: string, resourceId: string, scriptId: string): string => `${projectId}#pending#${resourceId}#${scriptId}`;

export function isLink(item: Record<string, unknown> | undefined): item is Record<string, unknown> & Link {
  return typeof item?.['link_to'] === 'string';
}

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

const HISTORY_LIMIT = 50;

function appendHistory(chain: Chain, entry: HistoryEntry): readonly HistoryEntry[] {
  return [...chain.history, entry].slice(-HISTORY_LIMIT);
}

/** Everything a transition needs to know about the moment. */
export interface Moment {
  readonly now: number;
}

/** Takes the claim for one action on the run `run` names. A retry counts the attempt now. */
export function claimed(chain: Chain, run: RunFacts, intent: ClaimIntent, moment: Moment & { readonly leaseMs: number; readonly decidedAt?: number | undefined }): Chain {
  const known = withRunFacts(chain, run);
  const tasks = run.taskId && !known.tasks.includes(run.taskId) ? [...known.tasks, run.taskId] : known.tasks;
  return {
    ...known,
    state: 'claimed',
    intent,
    attempts: chain.attempts + (intent === 'retry' ? 1 : 0),
    rev: chain.rev + 1,
    current_record: run.recordId,
    current_task: run.taskId ?? known.current_task,
    tasks,
    claimed_at: moment.now,
    lease_until: moment.now + moment.leaseMs,
    last_attempt_at: intent === 'retry' ? moment.now : chain.last_attempt_at,
    decided_at: intent === 'give-up' ? (moment.decidedAt ?? moment.now) : chain.decided_at,
  };
}

export interface RetriedDetails {
  readonly taskId: string;
  readonly requestId?: string | undefined;
  readonly ruleId?: string | undefined;
  readonly forcedBy?: string | undefined;
  /** How the outcome became known: the answer, or a lookup after an unknown outcome. */
  readonly via: 'answer' | 'lookup' | 'carried';
}

/** The retry landed: the chain now waits for the new task's run. */
export function retried(chain: Chain, details: RetriedDetails, moment: Moment): Chain {
  const { lease_until: _lease, intent: _intent, decided_at: _decided, ...rest } = chain;
  return {
    ...rest,
    state: 'retried',
    rev: chain.rev + 1,
    new_task_id: details.taskId,
    tasks: chain.tasks.includes(details.taskId) ? chain.tasks : [...chain.tasks, details.taskId],
    history: appendHistory(chain, entry(chain.attempts, moment.now, details.via === 'answer' ? 'retried' : `retried (${details.via})`, {
      record_id: chain.current_record, task_id: details.taskId, rule_id: details.ruleId, request_id: details.requestId, forced_by: details.forcedBy,
    })),
  };
}

export interface Evidence {
  readonly reason: string;
  readonly errorCode?: string | undefined;
  readonly ruleId?: string | undefined;
  readonly requestId?: string | undefined;
}

/** The call's answer was lost: it may have run the script. Resolved by a lookup once the lease has ended. */
export function unknown(chain: Chain, evidence: Evidence, moment: Moment): Chain {
  return {
    ...chain,
    state: 'unknown',
    rev: chain.rev + 1,
    history: appendHistory(chain, entry(chain.attempts, moment.now, 'unknown', { record_id: chain.current_record, error_code: evidence.errorCode, reason: evidence.reason, request_id: evidence.requestId })),
  };
}

/**
 * The claim is given back: the call certainly did not run the script (or
 * was never made), so a retry's attempt is not counted.
 */
export function released(chain: Chain, evidence: Evidence, moment: Moment): Chain {
  const { lease_until: _lease, intent, ...rest } = chain;
  const refund = intent === 'retry' || chain.state === 'unknown' ? 1 : 0;
  return {
    ...rest,
    state: 'open',
    attempts: chain.attempts - refund,
    rev: chain.rev + 1,
    history: appendHistory(chain, entry(chain.attempts, moment.now, refund ? 'not run' : 'released', { record_id: chain.current_record, error_code: evidence.errorCode, reason: evidence.reason, rule_id: evidence.ruleId })),
  };
}

/** Given up, and the dead letter was accepted: surfaced once, with its reason. */
export function deadLettered(chain: Chain, evidence: Evidence & { readonly decidedAt: number; readonly refund: boolean; readonly forcedBy?: string | undefined }, moment: Moment): Chain {
  const { lease_until: _lease, intent: _intent, ...rest } = chain;
  return {
    ...rest,
    state: 'dead-lettered',
    attempts: chain.attempts - (evidence.refund ? 1 : 0),
    rev: chain.rev + 1,
    reason: evidence.reason.slice(0, 1000),
    rule_id: evidence.ruleId,
    error_code: evidence.errorCode,
    dead_lettered_at: evidence.decidedAt,
    history: appendHistory(chain, entry(chain.attempts, moment.now, 'dead-lettered', { record_id: chain.current_record, error_code: evidence.errorCode, reason: evidence.reason, rule_id: evidence.ruleId, request_id: evidence.requestId, forced_by: evidence.forcedBy })),
  };
}

function entry(attempt: number, now: number, outcome: string, fields: Record<string, string | undefined>): HistoryEntry {
  const result: Record<string, unknown> = { attempt, at: new Date(now).toISOString(), outcome };
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) result[key] = key === 'reason' ? value.slice(0, 500) : value;
  return result as unknown as HistoryEntry;
}
