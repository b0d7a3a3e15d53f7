import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import { deadLetterMessage, type SourceMessage } from './dead-letter.js';
import type { ScriptFailure } from './failure.js';
import { mapWithConcurrency } from './concurrency.js';
import { countOutcome, logger } from './observability.js';
import { MAX_DELAY_SECONDS, processFailure, type FailureInput, type PipelineDeps, type Resolution } from './pipeline.js';
import type { Decision } from './policy.js';
import { numberAttribute, textAttribute, withOriginalAttributes, type OutgoingMessage, type QueueSender } from './queue-sender.js';
import type { PreparedRequest } from './workspace-client.js';

/**
 * Turns resolutions into durable outcomes: dead letters and re-enqueues are
 * sent in batches, and only what SQS accepted counts as settled. Whatever
 * could not be made durable is "held": it stays on the source queue.
 */

/** Exactly one per failure event. */
export type Outcome =
  | { readonly kind: 'retried'; readonly newTaskId: string; readonly requestId?: string | undefined; readonly ruleId: string; readonly attempt: number; readonly forced?: boolean | undefined }
  | {
      readonly kind: 'dead-lettered';
      readonly reason: string;
      readonly errorCode: string;
      readonly ruleId?: string | undefined;
      readonly attempts: number;
      readonly preview?: PreparedRequest | undefined;
      readonly decision?: Decision | undefined;
    }
  | { readonly kind: 'deferred'; readonly reason: string; readonly delaySeconds?: number | undefined; readonly held: boolean }
  | { readonly kind: 'duplicate'; readonly reason: string }
  /** A dry run's decision, shown and not forwarded (the console and the sweep, where nothing would be lost). */
  | { readonly kind: 'previewed'; readonly reason: string; readonly ruleId?: string | undefined; readonly preview?: PreparedRequest | undefined; readonly decision?: Decision | undefined };

/** Attributes this service sets on a re-enqueued message (replaced on each re-enqueue). */
export const CONTROL_ATTRIBUTES = {
  attempt: 'attempt',
  firstSeenAt: 'first_seen_at',
  deferredReason: 'deferred_reason',
  originMessageId: 'origin_message_id',
} as const;

export interface Settling {
  readonly source: SourceMessage;
  readonly resolution: Resolution;
  readonly firstSeenAt: number;
  readonly failure?: ScriptFailure | undefined;
}

export interface Forwarders {
  /** Whether a dry run's decision goes to the DLQ (the queue: the message must not be lost) or is only shown. */
  readonly forwardDryRuns?: boolean | undefined;
  readonly deadLetters: QueueSender;
  /** The source queue, for re-enqueue with a delay; without it a deferral is held on the queue. */
  readonly requeue?: QueueSender | undefined;
}

function requeueMessage(item: Settling, resolution: Extract<Resolution, { kind: 'requeue' }>): OutgoingMessage {
  // Our control attributes replace the ones an earlier re-enqueue set.
  const attributes: Record<string, MessageAttributeValue> = {
    [CONTROL_ATTRIBUTES.attempt]: numberAttribute(resolution.attempt),
    [CONTROL_ATTRIBUTES.firstSeenAt]: numberAttribute(item.firstSeenAt),
    [CONTROL_ATTRIBUTES.deferredReason]: textAttribute(resolution.reason.slice(0, 500)),
    [CONTROL_ATTRIBUTES.originMessageId]: textAttribute(item.source.originId),
  };
  return { key: item.source.messageId, body: item.source.body, attributes: withOriginalAttributes(attributes, item.source.attributes), delaySeconds: Math.min(MAX_DELAY_SECONDS, Math.max(0, resolution.delaySeconds)) };
}

async function runQuietly(step: (() => Promise<void>) | undefined, what: string, item: Settling): Promise<void> {
  if (!step) return;
  try {
    await step();
  } catch (error) {
    // The forward is durable already; the ledger will catch up on the next event for this failure.
    logger.error(`ledger update after ${what} failed`, { messageId: item.source.messageId, error: (error as Error).message });
  }
}

/** Sends the forwards, settles the ledger by their result, and returns one outcome per item, in order. */
export async function settleAll(items: readonly Settling[], forwarders: Forwarders): Promise<Outcome[]> {
  const letters: OutgoingMessage[] = [];
  const requeues: OutgoingMessage[] = [];
  for (const item of items) {
    if (item.resolution.kind === 'dead-letter' && (forwarders.forwardDryRuns || !item.resolution.dryRun)) letters.push(deadLetterMessage(item.source, item.resolution.letter));
    if (item.resolution.kind === 'requeue' && forwarders.requeue) requeues.push(requeueMessage(item, item.resolution));
  }
  const [letterRejects, requeueRejects] = await Promise.all([
    letters.length ? forwarders.deadLetters.sendAll(letters) : new Map<string, string>(),
    requeues.length && forwarders.requeue ? forwarders.requeue.sendAll(requeues) : new Map<string, string>(),
  ]);
  return Promise.all(items.map((item) => outcomeOf(item, letterRejects, requeueRejects, forwarders)));
}

async function outcomeOf(item: Settling, letterRejects: Map<string, string>, requeueRejects: Map<string, string>, forwarders: Forwarders): Promise<Outcome> {
  const r = item.resolution;
  const id = item.source.messageId;
  switch (r.kind) {
    case 'retried':
      return { kind: 'retried', newTaskId: r.newTaskId, requestId: r.requestId, ruleId: r.ruleId, attempt: r.attempt, forced: r.forced };
    case 'duplicate':
      return { kind: 'duplicate', reason: r.reason };
    case 'hold':
      return { kind: 'deferred', reason: r.reason, held: true };
    case 'dead-letter': {
      if (r.dryRun && !forwarders.forwardDryRuns) return { kind: 'previewed', reason: r.letter.reason, ruleId: r.letter.ruleId, preview: r.preview, decision: r.decision };
      const rejected = letterRejects.get(id);
      if (rejected !== undefined) {
        await runQuietly(r.onRejected, 'a rejected dead letter', item);
        return { kind: 'deferred', reason: `dead-letter queue did not accept the message (${rejected}); it stays on the queue`, held: true };
      }
      await runQuietly(r.onAccepted, 'dead-lettering', item);
      const { reason, errorCode, ruleId, attempts } = r.letter;
      return { kind: 'dead-lettered', reason, errorCode, ruleId, attempts, preview: r.preview, decision: r.decision };
    }
    case 'requeue': {
      if (!forwarders.requeue) return { kind: 'deferred', reason: `${r.reason} (SOURCE_QUEUE_URL unset: left for redelivery)`, held: true };
      const rejected = requeueRejects.get(id);
      if (rejected !== undefined) return { kind: 'deferred', reason: `${r.reason}; re-enqueue failed (${rejected}), left for redelivery`, held: true };
      return { kind: 'deferred', reason: r.reason, delaySeconds: Math.min(MAX_DELAY_SECONDS, r.delaySeconds), held: false };
    }
  }
}

/** One structured log line and one metric per outcome, with the correlation ids. */
export function reportOutcome(outcome: Outcome, item: Pick<Settling, 'source' | 'failure'>, way: string): void {
  countOutcome(outcome.kind);
  const f = item.failure;
  const { preview: _preview, decision: _decision, ...fields } = outcome as Outcome & { preview?: unknown; decision?: unknown };
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

/** A settled item: what it was and what became of it. */
export interface Settled extends Settling {
  readonly outcome: Outcome;
}

/**
 * The shape every way in shares: resolve each item through the pipeline
 * (at most `concurrency` at once), make the forwards durable, report one
 * outcome line per item, and return them in order.
 */
export async function processAll<T>(
  items: readonly T[],
  concurrency: number,
  resolve: (item: T) => Promise<Settling>,
  forwarders: Forwarders,
  way: string,
): Promise<Settled[]> {
  const settling = await mapWithConcurrency(items, concurrency, resolve);
  const outcomes = await settleAll(settling, forwarders);
  return settling.map((item, index) => {
    const outcome = outcomes[index]!;
    reportOutcome(outcome, item, way);
    return { ...item, outcome };
  });
}

/** Runs one failure through the pipeline; anything thrown (ledger or secret unreachable) holds it where it is. */
export async function resolveFailure(input: FailureInput, source: SourceMessage, deps: PipelineDeps): Promise<Settling> {
  try {
    return { source, resolution: await processFailure(input, deps), firstSeenAt: input.firstSeenAt, failure: input.failure };
  } catch (error) {
    const reason = `${(error as Error).name}: ${(error as Error).message}`;
    return { source, resolution: { kind: 'hold', reason }, firstSeenAt: input.firstSeenAt, failure: input.failure };
  }
}

/** A source message for a failure that did not come from a queue (the sweep, the console): its body is the failure as JSON. */
export function syntheticSource(messageId: string, payload: unknown): SourceMessage {
  return { messageId, originId: messageId, body: JSON.stringify(payload), attributes: {} };
}
