import type { ScriptFailure } from '../events/failure.js';
import { countOutcome, logger } from '../platform/observability.js';
import type { SourceMessage } from '../platform/queue-sender.js';
import type { Decision } from '../policy/policy.js';
import type { PreparedRequest } from '../workspace/client.js';
import type { DuplicateCode, GiveUpCode, Retried, WaitCode } from './resolution.js';

/**
 * What happened to one failure event once its forwards were durable: the
 * only words an operator sees (the outcome log line, the metrics, the
 * sweep's summary, the console's answer).
 */
export type Outcome =
  | Retried
  | {
      readonly kind: 'dead-lettered';
      readonly code: GiveUpCode | 'dry-run';
      readonly reason: string;
      readonly errorCode: string;
      readonly ruleId?: string | undefined;
      readonly attempts: number;
      readonly preview?: PreparedRequest | undefined;
      readonly decision?: Decision | undefined;
    }
  /**
   * Waiting to be tried again: `re-enqueued` with a delay, `left` on the queue
   * for SQS to deliver again (held: the forward could not be made durable), or,
   * from the console, `answered` with "invoke again".
   */
  | {
      readonly kind: 'deferred';
      readonly code: WaitCode | 'expanded';
      readonly reason: string;
      readonly delaySeconds?: number | undefined;
      readonly how: 're-enqueued' | 'left' | 'answered';
    }
  | { readonly kind: 'duplicate'; readonly code: DuplicateCode; readonly reason: string }
  /**
   * The event's run did not fail (its status word): acknowledged and counted, so the DLQ holds only what a person must
   * see.
   */
  | { readonly kind: 'not-failed'; readonly reason: string; readonly status: string }
  /** A dry run's decision, shown and not forwarded (the console and the sweep, where nothing would be lost). */
  | {
      readonly kind: 'previewed';
      readonly reason: string;
      readonly ruleId?: string | undefined;
      readonly preview?: PreparedRequest | undefined;
      readonly decision?: Decision | undefined;
    };

/** One structured log line and one metric per outcome, with the correlation ids. */
export function reportOutcome(
  outcome: Outcome,
  item: { readonly source: SourceMessage; readonly failure?: ScriptFailure | undefined },
  way: string,
): void {
  countOutcome(outcome.kind);
  const f = item.failure;
  const {
    preview: _preview,
    decision: _decision,
    ...fields
  } = outcome as Outcome & { preview?: unknown; decision?: unknown };
  logger.info('outcome', {
    way,
    messageId: item.source.messageId,
    originMessageId: item.source.originId,
    projectId: f?.projectId,
    recordId: f?.recordId,
    taskId: f?.taskId,
    shape: f?.shape,
    ...fields,
  });
}
