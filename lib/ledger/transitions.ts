/**
 * The pure transitions of a chain (docs/ledger-protocol.md): each returns the
 * next item; the store writes it with a condition on the revision it was
 * computed from.
 */

import {
  type Chain,
  type ClaimIntent,
  type HistoryEntry,
  handlingGeneration,
  type RunFacts,
  withRunFacts,
} from './chain.js';
import { runsOf, withoutRun, withRun } from './runs.js';

const HISTORY_LIMIT = 50;

function appendHistory(chain: Chain, entry: HistoryEntry): readonly HistoryEntry[] {
  return [...chain.history, entry].slice(-HISTORY_LIMIT);
}

/** Everything a transition needs to know about the moment. */
export interface Moment {
  readonly now: number;
}

/** Takes the claim for one action on the run `run` names. A retry counts the attempt now. */
export function claimed(
  chain: Chain,
  run: RunFacts,
  intent: ClaimIntent,
  moment: Moment & {
    readonly leaseMs: number;
    readonly decidedAt?: number | undefined;
    readonly freshTask?: boolean | undefined;
  },
): Chain {
  const known = withRunFacts(chain, run);
  const tasks = run.taskId && !known.tasks.includes(run.taskId) ? [...known.tasks, run.taskId] : known.tasks;
  // The run handled is recorded with its record and start; a retry's run is a new entry, told apart by its claim time.
  const handling = handlingGeneration(chain);
  const handled = withRun(runsOf(chain), handling, run);
  const retryRun = { g: handling + 1, claimed_at: moment.now, ...(moment.freshTask ? { fresh_task: true } : {}) };
  const runs = intent === 'retry' ? [...withoutRun(handled, handling + 1), retryRun] : handled;
  return {
    ...known,
    runs,
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

/** What an accepted retry left: its new task, the request and the rule, and how we learnt of it. */
export interface RetriedDetails {
  readonly taskId: string;
  readonly requestId?: string | undefined;
  readonly ruleId?: string | undefined;
  readonly forcedBy?: string | undefined;
  /** How the outcome became known: the answer, or a lookup after an unknown outcome. */
  readonly via: 'answer' | 'lookup' | 'carried';
  /** The retry's run, when a lookup found it. */
  readonly run?: Pick<RunFacts, 'recordId' | 'startedAt' | 'endedAt'> | undefined;
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
    runs: withRun(runsOf(chain), chain.attempts, { ...details.run, taskId: details.taskId }),
    history: appendHistory(
      chain,
      entry(chain.attempts, moment.now, details.via === 'answer' ? 'retried' : `retried (${details.via})`, {
        record_id: chain.current_record,
        task_id: details.taskId,
        rule_id: details.ruleId,
        request_id: details.requestId,
        forced_by: details.forcedBy,
      }),
    ),
  };
}

/**
 * Why a chain moves without a retry: the reason, and Workspace's error code, rule and request id when there are any.
 */
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
    history: appendHistory(
      chain,
      entry(chain.attempts, moment.now, 'unknown', {
        record_id: chain.current_record,
        error_code: evidence.errorCode,
        reason: evidence.reason,
        request_id: evidence.requestId,
      }),
    ),
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
    runs: refund ? withoutRun(runsOf(chain), chain.attempts) : runsOf(chain),
    rev: chain.rev + 1,
    history: appendHistory(
      chain,
      entry(chain.attempts, moment.now, refund ? 'not run' : 'released', {
        record_id: chain.current_record,
        error_code: evidence.errorCode,
        reason: evidence.reason,
        rule_id: evidence.ruleId,
      }),
    ),
  };
}

/** Given up, and the dead letter was accepted: surfaced once, with its reason. */
export function deadLettered(
  chain: Chain,
  evidence: Evidence & { readonly decidedAt: number; readonly refund: boolean; readonly forcedBy?: string | undefined },
  moment: Moment,
): Chain {
  const { lease_until: _lease, intent: _intent, ...rest } = chain;
  return {
    ...rest,
    state: 'dead-lettered',
    attempts: chain.attempts - (evidence.refund ? 1 : 0),
    runs: evidence.refund ? withoutRun(runsOf(chain), chain.attempts) : runsOf(chain),
    rev: chain.rev + 1,
    reason: evidence.reason.slice(0, 1000),
    rule_id: evidence.ruleId,
    error_code: evidence.errorCode,
    dead_lettered_at: evidence.decidedAt,
    history: appendHistory(
      chain,
      entry(chain.attempts, moment.now, 'dead-lettered', {
        record_id: chain.current_record,
        error_code: evidence.errorCode,
        reason: evidence.reason,
        rule_id: evidence.ruleId,
        request_id: evidence.requestId,
        forced_by: evidence.forcedBy,
      }),
    ),
  };
}

/** A run waiting for its desktop: the desktop check's words, and the start this delivery sent, if it sent one. */
export interface DesktopWaitDetails {
  /** The generation of the run that waits. */
  readonly g: number;
  readonly desktop: string;
  /** What the desktop's state was, in words (`SHUTOFF, UNREGISTER`). */
  readonly state: string;
  readonly started?: { readonly jobId?: string | undefined; readonly requestId?: string | undefined } | undefined;
}

/**
 * The handled run waits for its desktop: when it began waiting (kept for the
 * same run), and when this chain started the desktop. Not an attempt. The
 * history says when the wait began and when the start was sent.
 */
export function desktopWaiting(chain: Chain, details: DesktopWaitDetails, moment: Moment): Chain {
  const same = chain.desktop_wait?.g === details.g ? chain.desktop_wait : undefined;
  const startedAt = details.started ? moment.now : same?.woken_at;
  const wait = {
    g: details.g,
    desktop: details.desktop,
    since: same?.since ?? moment.now,
    ...(startedAt !== undefined ? { woken_at: startedAt } : {}),
  };
  const fields = { record_id: chain.current_record, request_id: details.started?.requestId };
  const said = details.started
    ? entry(chain.attempts, moment.now, 'desktop started', {
        ...fields,
        reason: `desktop ${details.desktop} was ${details.state}: os-start sent${details.started.jobId ? ` (job ${details.started.jobId})` : ''}`,
      })
    : same
      ? undefined
      : entry(chain.attempts, moment.now, 'desktop not ready', {
          ...fields,
          reason: `desktop ${details.desktop} is ${details.state}`,
        });
  return {
    ...chain,
    rev: chain.rev + 1,
    desktop_wait: wait,
    history: said ? appendHistory(chain, said) : chain.history,
  };
}

function entry(
  attempt: number,
  now: number,
  outcome: string,
  fields: Record<string, string | undefined>,
): HistoryEntry {
  const result: Record<string, unknown> = { attempt, at: new Date(now).toISOString(), outcome };
  for (const [key, value] of Object.entries(fields))
    if (value !== undefined) result[key] = key === 'reason' ? value.slice(0, 500) : value;
  return result as unknown as HistoryEntry;
}
