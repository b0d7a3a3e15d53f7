import type { DeadLetter } from './dead-letter.js';
import type { Claim } from '../ledger/attempt-ledger.js';
import type { Link } from '../ledger/chain.js';
import type { Decision } from '../policy/policy.js';
import type { PreparedRequest } from '../workspace/client.js';
import type { ExecutionRecord } from '../workspace/types.js';

/**
 * What the pipeline decided for one failure event, as plain data: the way in
 * performs the forwards (dead letter, re-enqueue, fan-out) and settlement
 * updates the ledger from this data once they are durable.
 */
export type Resolution =
  | {
      readonly kind: 'retried';
      readonly newTaskId: string;
      readonly requestId?: string | undefined;
      readonly ruleId: string;
      readonly attempt: number;
      readonly forced?: boolean | undefined;
      /** How it became known: Workspace's answer, a lookup after a lost answer, or a task id carried by a re-enqueue. */
      readonly via: 'answer' | 'lookup' | 'carried';
    }
  /** `ruleId` `no-failed-records`: a task-level event whose task has runs but no failed one now. */
  | { readonly kind: 'duplicate'; readonly reason: string; readonly link?: Link | undefined; readonly ruleId?: 'no-failed-records' | undefined }
  /** The event's status word says the run did not fail (SUCCESS, SKIP, RUNNING, …): acknowledged, counted, nothing else. */
  | { readonly kind: 'not-failed'; readonly status: string; readonly reason: string }
  | {
      readonly kind: 'dead-letter';
      readonly letter: DeadLetter;
      /** The give-up's claim: settled as dead-lettered once the DLQ accepted the letter, released if not. */
      readonly claim?: Claim | undefined;
      readonly forcedBy?: string | undefined;
      /** A dry run's decision: dead-lettered from a queue (so nothing is lost), only shown elsewhere. */
      readonly dryRun?: boolean | undefined;
      readonly preview?: PreparedRequest | undefined;
      readonly decision?: Decision | undefined;
    }
  | {
      readonly kind: 'requeue';
      readonly reason: string;
      readonly delaySeconds: number;
      readonly attempt: number;
      readonly ruleId?: string | undefined;
      /** An accepted retry the ledger could not record: the next delivery settles it without calling. */
      readonly carry?: { readonly taskId: string; readonly rev: number } | undefined;
    }
  /** A task-level event: its failed records, each to be handled as its own failure. */
  | { readonly kind: 'expand'; readonly taskId: string; readonly records: readonly ExecutionRecord[] }
  /** Could not be made durable now (ledger, secret or DLQ unreachable): stays on the queue. */
  | { readonly kind: 'hold'; readonly reason: string };
