/**
 * The queue way in: every record of an SQS batch through the pipeline,
 * concurrently up to MAX_CONCURRENCY, then the partial batch response
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting):
 * only the records whose outcome is durable leave the queue.
 */

import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { describeFailure } from '../events/failure.js';
import { normaliseBody } from '../events/normalise.js';
import type { PipelineDeps } from '../pipeline/context.js';
import { firstSeenAtOf, historyOf, sourceOf } from '../pipeline/message-attributes.js';
import { type PipelineItem, runPipeline } from '../pipeline/runner.js';
import type { Forwarders } from '../pipeline/settlement.js';
import { logger } from '../platform/observability.js';
import { validateRegion } from '../workspace/endpoints.js';
import { lateReason } from './time-budget.js';

/** What the queue way in needs besides the pipeline's dependencies. */
export interface QueueBatchDeps extends PipelineDeps {
  readonly forwarders: Forwarders;
  /** Milliseconds the invocation has left; records not started this close to the end stay on the queue. */
  readonly remainingMs?: (() => number) | undefined;
}

/**
 * A queue record as the pipeline takes it: a failure to decide, or a body that is not one, dead-lettered with the
 * reason.
 */
function itemOf(record: SQSRecord, deps: QueueBatchDeps): PipelineItem {
  const now = (deps.now ?? Date.now)();
  const source = sourceOf(record);
  const firstSeenAt = firstSeenAtOf(record, now);
  const normalised = normaliseBody(record.body, {
    checkRegion: (region) => validateRegion(region, deps.config.endpoints),
  });
  if (normalised.ok)
    return {
      source,
      firstSeenAt,
      input: { failure: normalised.failure, firstSeenAt, ...historyOf(source.attributes) },
    };
  const letter = {
    reason: `invalid-event: ${normalised.error}`,
    errorCode: 'INVALID_EVENT',
    attempts: 0,
    ruleId: 'invalid-event',
    firstSeenAt,
    decidedAt: now,
  };
  return { source, firstSeenAt, resolution: { kind: 'dead-letter', code: 'invalid-event', letter } };
}

/**
 * Handles one SQS batch and reports as failed every record whose outcome is not durable, so it stays on the queue.
 * Copies of one failure in the batch run one after another.
 */
export async function processQueueBatch(event: SQSEvent, deps: QueueBatchDeps): Promise<SQSBatchResponse> {
  const items = event.Records.map((record) => itemOf(record, deps));
  // Copies of one failure in a batch are handled one after the other; none starts with too little time left.
  const keyOf = (item: PipelineItem) => (item.input ? describeFailure(item.input.failure) : undefined);
  const settled = await runPipeline({
    items,
    deps,
    forwarders: deps.forwarders,
    way: 'queue',
    keyOf,
    tooLate: () => lateReason(deps, 'left for redelivery'),
  });
  const batchItemFailures = settled
    .filter(({ durable }) => !durable)
    .map(({ source }) => ({ itemIdentifier: source.messageId }));
  return checkedResponse(event, { batchItemFailures });
}

/**
 * A response that deletes nothing it should not: every identifier must be a
 * message id of this batch (an unknown one makes Lambda fail the whole batch
 * anyway). A malformed response fails every record, never none.
 */
export function checkedResponse(event: SQSEvent, response: unknown): SQSBatchResponse {
  const ids = new Set(event.Records.map((r) => r.messageId));
  const failures = (response as SQSBatchResponse | undefined)?.batchItemFailures;
  const wellFormed =
    Array.isArray(failures) &&
    failures.every((f) => typeof f?.itemIdentifier === 'string' && ids.has(f.itemIdentifier));
  if (wellFormed) return { batchItemFailures: failures };
  logger.error('batch response failed its own check: reporting every record as failed', { records: ids.size });
  return allFailed(event);
}

/** Every record of the batch back to the queue. */
export function allFailed(event: SQSEvent): SQSBatchResponse {
  return { batchItemFailures: (event.Records ?? []).map((r) => ({ itemIdentifier: r.messageId })) };
}
