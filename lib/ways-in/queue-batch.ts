import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { replayedDecision } from '../pipeline/dead-letter.js';
import type { SourceMessage } from '../platform/queue-sender.js';
import { describeFailure } from '../events/failure.js';
import { normaliseBody, type Normalised } from '../events/normalise.js';
import { logger } from '../platform/observability.js';
import type { FailureInput, PipelineDeps } from '../pipeline/process-failure.js';
import type { Resolution } from '../pipeline/resolution.js';
import { CONTROL_ATTRIBUTES, processAll, resolveFailure, type Forwarders, type Settling } from '../pipeline/settlement.js';
import { validateRegion } from '../workspace/endpoints.js';
import { tooLateToStart } from './time-budget.js';

/**
 * The queue way in: every record of an SQS batch through the pipeline,
 * concurrently up to MAX_CONCURRENCY, then the partial batch response
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting):
 * only the records whose outcome is durable leave the queue.
 */

export interface QueueBatchDeps extends PipelineDeps {
  readonly forwarders: Forwarders;
  /** Milliseconds the invocation has left; records not started this close to the end stay on the queue. */
  readonly remainingMs?: (() => number) | undefined;
}

/** What a message's attributes say about its history: a replayed dead letter, or an accepted retry to record. */
function historyOf(record: SQSRecord): Pick<FailureInput, 'replayOf' | 'carried'> {
  const attributes = Object.fromEntries(Object.entries(record.messageAttributes ?? {}).map(([name, value]) => [name, { StringValue: value.stringValue }]));
  const taskId = attributes[CONTROL_ATTRIBUTES.acceptedTaskId]?.StringValue;
  const rev = Number(attributes[CONTROL_ATTRIBUTES.acceptedRev]?.StringValue);
  return { replayOf: replayedDecision(attributes), carried: taskId && Number.isInteger(rev) ? { taskId, rev } : undefined };
}

/** Lambda's message attributes in the SDK's shape, so a forward carries them on. */
function sourceOf(record: SQSRecord): SourceMessage {
  const attributes: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(record.messageAttributes ?? {})) {
    if (value.stringValue !== undefined) attributes[name] = { DataType: value.dataType, StringValue: value.stringValue };
    else if (value.binaryValue !== undefined) attributes[name] = { DataType: value.dataType, BinaryValue: Buffer.from(value.binaryValue, 'base64') };
  }
  const originId = record.messageAttributes?.[CONTROL_ATTRIBUTES.originMessageId]?.stringValue ?? record.messageId;
  return { messageId: record.messageId, originId, body: record.body, attributes };
}

/** When the failure was first seen: carried across re-enqueues, else the message's send time. */
function firstSeenAt(record: SQSRecord): number {
  // Epoch ms on a re-enqueued message, ISO on a replayed dead letter.
  const raw = record.messageAttributes?.[CONTROL_ATTRIBUTES.firstSeenAt]?.stringValue ?? '';
  const carried = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (Number.isFinite(carried) && carried > 0) return carried;
  const sent = Number(record.attributes?.SentTimestamp);
  return Number.isFinite(sent) && sent > 0 ? sent : Date.now();
}

/** A record with its body already read. */
interface Received {
  readonly record: SQSRecord;
  readonly normalised: Normalised;
}

async function resolveRecord({ record, normalised }: Received, deps: QueueBatchDeps): Promise<Settling> {
  const source = sourceOf(record);
  const seen = firstSeenAt(record);
  if (tooLateToStart(deps)) {
    return { source, resolution: { kind: 'hold', reason: 'time-budget: the invocation is about to time out; left for redelivery' }, firstSeenAt: seen };
  }
  if (!normalised.ok) {
    const now = Date.now();
    const resolution: Resolution = {
      kind: 'dead-letter',
      letter: { reason: `invalid-event: ${normalised.error}`, errorCode: 'INVALID_EVENT', attempts: 0, ruleId: 'invalid-event', firstSeenAt: seen, decidedAt: now },
    };
    return { source, resolution, firstSeenAt: seen };
  }
  return resolveFailure({ failure: normalised.failure, firstSeenAt: seen, ...historyOf(record) }, source, deps);
}

/** Copies of one failure in a batch are handled one after the other. */
function sameFailure({ normalised }: Received): string | undefined {
  return normalised.ok ? describeFailure(normalised.failure) : undefined;
}

export async function processQueueBatch(event: SQSEvent, deps: QueueBatchDeps): Promise<SQSBatchResponse> {
  const checkRegion = (region: string) => validateRegion(region, deps.config.endpoints);
  const received = event.Records.map((record) => ({ record, normalised: normaliseBody(record.body, { checkRegion }) }));
  const settled = await processAll(received, deps.config.maxConcurrency, (item) => resolveRecord(item, deps), deps.forwarders, deps.ledger, 'queue', sameFailure);
  const batchItemFailures = settled.filter(({ durable }) => !durable).map(({ source }) => ({ itemIdentifier: source.messageId }));
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
  const wellFormed = Array.isArray(failures) && failures.every((f) => typeof f?.itemIdentifier === 'string' && ids.has(f.itemIdentifier));
  if (wellFormed) return { batchItemFailures: failures };
  logger.error('batch response failed its own check: reporting every record as failed', { records: ids.size });
  return allFailed(event);
}

/** Every record of the batch back to the queue. */
export function allFailed(event: SQSEvent): SQSBatchResponse {
  return { batchItemFailures: (event.Records ?? []).map((r) => ({ itemIdentifier: r.messageId })) };
}
