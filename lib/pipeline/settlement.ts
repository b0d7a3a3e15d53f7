import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import { DEAD_LETTER_ATTRIBUTES, deadLetterMessage, REPLAY_OF_ATTRIBUTE, replayedDecision } from './dead-letter.js';
import type { ScriptFailure } from '../events/failure.js';
import { mapWithConcurrency } from '../platform/concurrency.js';
import type { AttemptLedger } from '../ledger/attempt-ledger.js';
import { countOutcome, logger } from '../platform/observability.js';
import { processFailure, type FailureInput, type PipelineDeps } from './process-failure.js';
import type { Decision } from '../policy/policy.js';
import type { Resolution } from './resolution.js';
import { MAX_DELAY_SECONDS, MAX_MESSAGE_BYTES, numberAttribute, textAttribute, withOriginalAttributes, type OutgoingMessage, type QueueSender, type SourceMessage } from '../platform/queue-sender.js';
import type { PreparedRequest } from '../workspace/client.js';

/**
 * Turns resolutions into durable outcomes: dead letters, re-enqueues and a
 * task's fan-out are sent in batches, lineage links written in batches, and
 * only what SQS and the table accepted counts. The ledger is then settled
 * from the resolution's data (a give-up is dead-lettered once its letter is
 * accepted, released if not). Whatever could not be made durable is "held":
 * it stays on the source queue.
 */

/** Exactly one per failure event. */
export type Outcome =
  | { readonly kind: 'retried'; readonly newTaskId: string; readonly requestId?: string | undefined; readonly ruleId: string; readonly attempt: number; readonly forced?: boolean | undefined; readonly via: string }
  | { readonly kind: 'dead-lettered'; readonly reason: string; readonly errorCode: string; readonly ruleId?: string | undefined; readonly attempts: number; readonly preview?: PreparedRequest | undefined; readonly decision?: Decision | undefined }
  | { readonly kind: 'deferred'; readonly reason: string; readonly delaySeconds?: number | undefined; readonly held: boolean }
  | { readonly kind: 'duplicate'; readonly reason: string }
  /** The event's run did not fail (its status word): acknowledged and counted, so the DLQ holds only what a person must see. */
  | { readonly kind: 'not-failed'; readonly reason: string; readonly status: string }
  /** A dry run's decision, shown and not forwarded (the console and the sweep, where nothing would be lost). */
  | { readonly kind: 'previewed'; readonly reason: string; readonly ruleId?: string | undefined; readonly preview?: PreparedRequest | undefined; readonly decision?: Decision | undefined };

/** Attributes this service sets on a re-enqueued message (replaced on each re-enqueue). */
export const CONTROL_ATTRIBUTES = {
  attempt: 'attempt',
  firstSeenAt: 'first_seen_at',
  deferredReason: 'deferred_reason',
  originMessageId: 'origin_message_id',
  acceptedTaskId: 'accepted_task_id',
  acceptedRev: 'accepted_rev',
  replayOf: REPLAY_OF_ATTRIBUTE,
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
  /** The source queue, for re-enqueue with a delay and a task's fan-out; without it a deferral is only reported. */
  readonly requeue?: QueueSender | undefined;
}

/** Our control attributes, then the original ones that are not a dead letter's (a replayed letter's reason is spent), as many as fit in MAX_MESSAGE_BYTES. */
function controlled(item: Settling, ours: Record<string, MessageAttributeValue>): Record<string, MessageAttributeValue> {
  const originals = Object.fromEntries(Object.entries(item.source.attributes).filter(([name]) => !DEAD_LETTER_ATTRIBUTES.has(name)));
  const controls = { ...ours, [CONTROL_ATTRIBUTES.firstSeenAt]: numberAttribute(item.firstSeenAt), [CONTROL_ATTRIBUTES.originMessageId]: textAttribute(item.source.originId) };
  return withOriginalAttributes(controls, originals, MAX_MESSAGE_BYTES - Buffer.byteLength(item.source.body, 'utf8'));
}

function requeueMessage(item: Settling, r: Extract<Resolution, { kind: 'requeue' }>): OutgoingMessage {
  const replayOf = replayedDecision(item.source.attributes); // a deferred replay must still reopen its decision when it comes back
  const ours: Record<string, MessageAttributeValue> = { [CONTROL_ATTRIBUTES.attempt]: numberAttribute(r.attempt), [CONTROL_ATTRIBUTES.deferredReason]: textAttribute(r.reason.slice(0, 500)), ...(replayOf !== undefined ? { [CONTROL_ATTRIBUTES.replayOf]: numberAttribute(replayOf) } : {}) };
  if (r.carry) Object.assign(ours, { [CONTROL_ATTRIBUTES.acceptedTaskId]: textAttribute(r.carry.taskId), [CONTROL_ATTRIBUTES.acceptedRev]: numberAttribute(r.carry.rev) });
  return { key: item.source.messageId, body: item.source.body, attributes: controlled(item, ours), delaySeconds: Math.min(MAX_DELAY_SECONDS, Math.max(0, r.delaySeconds)) };
}

/** A task-level event becomes one record-level event per failed record, each a failure event of its own. */
function fanOutMessages(item: Settling, r: Extract<Resolution, { kind: 'expand' }>): OutgoingMessage[] {
  const region = item.failure?.region;
  return r.records.map((record, index) => ({
    key: `${item.source.messageId}#${index}`,
    body: JSON.stringify({ ...record, project_id: item.failure!.projectId, ...(region ? { region } : {}) }),
    attributes: controlled(item, { [CONTROL_ATTRIBUTES.deferredReason]: textAttribute(`expanded from task ${r.taskId}`) }),
  }));
}

async function quietly(step: () => Promise<unknown>, what: string, item: Settling): Promise<void> {
  try {
    await step();
  } catch (error) {
    // The forward is durable already; the claim expires and the next event for this failure decides again.
    logger.error(`ledger update after ${what} failed`, { messageId: item.source.messageId, error: (error as Error).message });
  }
}

/** A settled item: what it was, what became of it, and whether its message may leave the queue. */
export interface Settled extends Settling {
  readonly outcome: Outcome;
  readonly durable: boolean;
}

/** Sends the forwards and links, settles the ledger by their result, and returns one outcome per item, in order. */
export async function settleAll(items: readonly Settling[], forwarders: Forwarders, ledger: AttemptLedger): Promise<Settled[]> {
  const letters: OutgoingMessage[] = [];
  const requeues: OutgoingMessage[] = [];
  const links = [];
  for (const item of items) {
    const r = item.resolution;
    if (r.kind === 'dead-letter' && (forwarders.forwardDryRuns || !r.dryRun)) letters.push(deadLetterMessage(item.source, r.letter));
    if (r.kind === 'requeue' && forwarders.requeue) requeues.push(requeueMessage(item, r));
    if (r.kind === 'expand' && forwarders.requeue) requeues.push(...fanOutMessages(item, r));
    if (r.kind === 'duplicate' && r.link) links.push(r.link);
  }
  const [letterRejects, requeueRejects, linkRejects] = await Promise.all([
    letters.length ? forwarders.deadLetters.sendAll(letters) : new Map<string, string>(),
    requeues.length && forwarders.requeue ? forwarders.requeue.sendAll(requeues) : new Map<string, string>(),
    ledger.writeLinks(links).then((keys) => new Set(keys)),
  ]);
  return Promise.all(
    items.map(async (item) => {
      const [outcome, durable] = await outcomeOf(item, { letterRejects, requeueRejects, linkRejects }, forwarders, ledger);
      return { ...item, outcome, durable };
    }),
  );
}

interface Rejects {
  readonly letterRejects: Map<string, string>;
  readonly requeueRejects: Map<string, string>;
  readonly linkRejects: Set<string>;
}

async function outcomeOf(item: Settling, rejects: Rejects, forwarders: Forwarders, ledger: AttemptLedger): Promise<[Outcome, boolean]> {
  const r = item.resolution;
  const id = item.source.messageId;
  const held = (reason: string, delaySeconds?: number): [Outcome, boolean] => [{ kind: 'deferred', reason, held: true, delaySeconds }, false];
  switch (r.kind) {
    case 'retried': {
      return [{ kind: 'retried', newTaskId: r.newTaskId, requestId: r.requestId, ruleId: r.ruleId, attempt: r.attempt, forced: r.forced, via: r.via }, true];
    }
    case 'duplicate':
      // A duplicate that re-asserts a lost link stays until the link is written.
      return [{ kind: 'duplicate', reason: r.reason }, !(r.link && rejects.linkRejects.has(r.link.pk))];
    case 'hold':
      return held(r.reason);
    case 'not-failed':
      return [{ kind: 'not-failed', reason: r.reason, status: r.status }, true];
    case 'dead-letter': {
      if (r.dryRun && !forwarders.forwardDryRuns) return [{ kind: 'previewed', reason: r.letter.reason, ruleId: r.letter.ruleId, preview: r.preview, decision: r.decision }, true];
      const claim = r.claim;
      const rejected = rejects.letterRejects.get(id);
      if (rejected !== undefined) {
        if (claim) await quietly(() => ledger.release(claim, { reason: `dead letter not accepted: ${rejected}`, errorCode: 'DLQ_REJECTED' }), 'a rejected dead letter', item);
        return held(`dead-letter queue did not accept the message (${rejected}); it stays on the queue`);
      }
      const { reason, errorCode, ruleId, attempts, decidedAt } = r.letter;
      if (claim) await quietly(() => ledger.settleDeadLettered(claim, { reason, errorCode, ruleId, decidedAt, forcedBy: r.forcedBy }), 'dead-lettering', item);
      return [{ kind: 'dead-lettered', reason, errorCode, ruleId, attempts, preview: r.preview, decision: r.decision }, true];
    }
    case 'requeue': {
      if (!forwarders.requeue) return held(`${r.reason} (not re-enqueued: invoke again later)`, r.delaySeconds);
      const rejected = rejects.requeueRejects.get(id);
      if (rejected !== undefined) return held(`${r.reason}; re-enqueue failed (${rejected}), left for redelivery`);
      return [{ kind: 'deferred', reason: r.reason, delaySeconds: Math.min(MAX_DELAY_SECONDS, r.delaySeconds), held: false }, true];
    }
    case 'expand': {
      if (!forwarders.requeue) return held(`task ${r.taskId}: expanding a task-level event needs the source queue`);
      const failed = r.records.filter((_, index) => rejects.requeueRejects.has(`${id}#${index}`)).length;
      if (failed > 0) return held(`task ${r.taskId}: ${failed} of ${r.records.length} record events were not accepted; the task event stays (the others are duplicates next time)`);
      return [{ kind: 'deferred', reason: `expanded: task ${r.taskId} has ${r.records.length} failed record(s), each re-enqueued as its own failure event`, held: false }, true];
    }
  }
}

/** One structured log line and one metric per outcome, with the correlation ids. */
export function reportOutcome(outcome: Outcome, item: Pick<Settling, 'source' | 'failure'>, way: string): void {
  countOutcome(outcome.kind);
  const f = item.failure;
  const { preview: _preview, decision: _decision, ...fields } = outcome as Outcome & { preview?: unknown; decision?: unknown };
  logger.info('outcome', { way, messageId: item.source.messageId, originMessageId: item.source.originId, projectId: f?.projectId, recordId: f?.recordId, taskId: f?.taskId, shape: f?.shape, ...fields });
}

/**
 * The shape every way in shares: resolve each item through the pipeline
 * (at most `concurrency` at once), make the forwards durable, report one
 * outcome line per item, and return them in order.
 */
export async function processAll<T>(items: readonly T[], concurrency: number, resolve: (item: T) => Promise<Settling>, forwarders: Forwarders, ledger: AttemptLedger, way: string, keyOf?: (item: T) => string | undefined): Promise<Settled[]> {
  const settling = await mapWithConcurrency(items, concurrency, resolve, keyOf);
  const settled = await settleAll(settling, forwarders, ledger);
  for (const item of settled) reportOutcome(item.outcome, item, way);
  return settled;
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
