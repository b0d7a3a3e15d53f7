/**
 * What the pipeline decided for one failure event, as plain data: the way in
 * performs the forwards (dead letter, re-enqueue, fan-out) and settlement
 * updates the ledger from this data once they are durable. Each resolution
 * carries a typed `code` beside its human `reason`: metrics, the console and
 * the tests compare codes, never text. Build them with the constructors
 * below, which round and clamp a wait once.
 */

import type { Claim } from '../ledger/attempt-ledger.js';
import type { Link } from '../ledger/chain.js';
import { delayFor, delayPast, MAX_DELAY_SECONDS } from '../platform/queue-sender.js';
import type { Decision } from '../policy/policy.js';
import type { PreparedRequest } from '../workspace/client.js';
import type { ExecutionRecord } from '../workspace/types.js';
import type { DeadLetter } from './dead-letter.js';

/** Why a failure event waits: re-enqueued with a delay, or (`hold`) left on the queue for SQS to deliver again. */
export type WaitCode =
  | 'retries-disabled'
  | 'retry-later'
  | 'in-flight'
  | 'outcome-unknown'
  | 'contended'
  | 'circuit-open'
  | 'error-threshold'
  | 'key-refused'
  | 'auth-failed'
  | 'workspace-transient'
  | 'lookup-failed'
  | 'recording'
  | 'time-budget'
  | 'call-wait'
  | 'unavailable'
  | 'desktop-not-ready'
  | 'desktop-waking';

/**
 * Why a failure event needs nothing more: its run was handled, its task has no failure left, or its record ran again.
 */
export type DuplicateCode = 'handled' | 'no-failed-records' | 'superseded' | 'lease-lost';

/**
 * Why a failure is given up on: the policy's verdict (its rule in the letter), or what made it impossible to act on.
 */
export type GiveUpCode =
  | 'policy'
  | 'invalid-event'
  | 'unknown-status'
  | 'no-failed-records'
  | 'outcome-unknown'
  | 'workspace-refused'
  | 'lookup-refused'
  | 'desktop-not-found'
  | 'desktop-error'
  | 'desktop-not-ready'
  | 'desktop-start-refused';

/** What Workspace refused with, when it did. */
export interface Refusal {
  readonly status?: number | undefined;
  readonly errorCode: string;
  readonly requestId?: string | undefined;
}

/** An accepted retry: the task Workspace answered, and what the outcome log line and the console say of it. */
export interface Retried {
  readonly kind: 'retried';
  readonly newTaskId: string;
  readonly requestId?: string | undefined;
  readonly ruleId: string;
  readonly attempt: number;
  readonly forced?: boolean | undefined;
  /** How it became known: Workspace's answer, a lookup after a lost answer, or a task id carried by a re-enqueue. */
  readonly via: 'answer' | 'lookup' | 'carried';
}

/**
 * What became of one failure: retried, deferred, dead-lettered, a duplicate, or previewed in a dry run, with the
 * evidence for it.
 */
export type Resolution =
  | Retried
  | {
      readonly kind: 'duplicate';
      readonly code: DuplicateCode;
      readonly reason: string;
      readonly link?: Link | undefined;
    }
  | {
      readonly kind: 'dead-letter';
      readonly code: GiveUpCode;
      readonly letter: DeadLetter;
      /** The give-up's claim: settled as dead-lettered once the DLQ accepted the letter, released if not. */
      readonly claim?: Claim | undefined;
      readonly forcedBy?: string | undefined;
      readonly decision?: Decision | undefined;
      readonly refusal?: Refusal | undefined;
    }
  /**
   * A dry run's decision: what would happen, never done; the queue forwards it to the DLQ so nothing is lost, the
   * console and the sweep only show it.
   */
  | {
      readonly kind: 'preview';
      readonly letter: DeadLetter;
      readonly preview?: PreparedRequest | undefined;
      readonly decision?: Decision | undefined;
    }
  | {
      readonly kind: 'requeue';
      readonly code: WaitCode;
      readonly reason: string;
      /** Whole seconds, 0 to SQS's limit (MAX_DELAY_SECONDS): clamped by `requeue`. */
      readonly delaySeconds: number;
      readonly attempt: number;
      readonly ruleId?: string | undefined;
      /** An accepted retry the ledger could not record: the next delivery settles it without calling. */
      readonly carry?: { readonly taskId: string; readonly rev: number } | undefined;
    }
  /** A task-level event: its failed records, each to be handled as its own failure. */
  | { readonly kind: 'expand'; readonly taskId: string; readonly records: readonly ExecutionRecord[] }
  /** Could not be made durable now (ledger, secret or DLQ unreachable; the time budget spent): stays on the queue. */
  | { readonly kind: 'hold'; readonly code: WaitCode; readonly reason: string }
  /** The event's run did not fail (its status word): acknowledged, nothing else done. */
  | { readonly kind: 'not-failed'; readonly status: string; readonly reason: string };

/** How long a re-enqueued event waits: whole seconds, a wait in ms, or until a lease's end (a second past it). */
export type Wait =
  | { readonly seconds: number }
  | { readonly ms: number }
  | { readonly until: number; readonly now: number };

/** The SQS delay of a wait, rounded up and clamped once: 0 to MAX_DELAY_SECONDS for seconds, 1 to it otherwise. */
export function delayOf(wait: Wait): number {
  if ('seconds' in wait) return Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil(wait.seconds)));
  return 'ms' in wait ? delayFor(wait.ms) : delayPast(wait.until, wait.now);
}

/** Re-enqueue the event after `wait` (with a delay SQS accepts), for `reason`. */
export function requeue(
  code: WaitCode,
  reason: string,
  wait: Wait,
  more: {
    readonly attempt?: number;
    readonly ruleId?: string | undefined;
    readonly carry?: { taskId: string; rev: number } | undefined;
  } = {},
): Extract<Resolution, { kind: 'requeue' }> {
  return {
    kind: 'requeue',
    code,
    reason,
    delaySeconds: delayOf(wait),
    attempt: more.attempt ?? 0,
    ruleId: more.ruleId,
    carry: more.carry,
  };
}

/** Leave the event on the queue: SQS delivers it again after its visibility timeout. */
export function hold(code: WaitCode, reason: string): Extract<Resolution, { kind: 'hold' }> {
  return { kind: 'hold', code, reason };
}

/** Nothing more to do for this event. */
export function duplicate(
  code: DuplicateCode,
  reason: string,
  link?: Link,
): Extract<Resolution, { kind: 'duplicate' }> {
  return { kind: 'duplicate', code, reason, link };
}
