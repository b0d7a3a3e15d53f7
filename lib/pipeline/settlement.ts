/**
 * Turns resolutions into durable outcomes: dead letters, re-enqueues and a
 * task's fan-out are sent in batches, lineage links written, and only what
 * SQS and the table accepted counts. The ledger is then settled from the
 * resolution's data (a give-up is dead-lettered once its letter is accepted,
 * released if not). Whatever could not be made durable is held: it stays on
 * the source queue.
 */

import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { ScriptFailure } from '../events/failure.js';
import type { AttemptLedger } from '../ledger/attempt-ledger.js';
import { logger } from '../platform/observability.js';
import {
  MAX_MESSAGE_BYTES,
  numberAttribute,
  type OutgoingMessage,
  type QueueSender,
  type SourceMessage,
  textAttribute,
  withOriginalAttributes,
} from '../platform/queue-sender.js';
import { deadLetterMessage } from './dead-letter.js';
import { DEAD_LETTER_NAMES, REQUEUE_ATTRIBUTES, replayedDecision, timeAttribute } from './message-attributes.js';
import type { Outcome } from './outcome.js';
import type { Resolution } from './resolution.js';

/** One failure event on its way to an outcome: where it came from and what the pipeline decided. */
export interface Settling {
  readonly source: SourceMessage;
  readonly resolution: Resolution;
  readonly firstSeenAt: number;
  readonly failure?: ScriptFailure | undefined;
}

/** Where settlement sends messages: dead letters, and re-enqueues to the source queue when there is one. */
export interface Forwarders {
  /** Whether a dry run's decision goes to the DLQ (the queue: the message must not be lost) or is only shown. */
  readonly forwardDryRuns?: boolean | undefined;
  readonly deadLetters: QueueSender;
  /** The source queue, for re-enqueue with a delay and a task's fan-out; without it a deferral is only reported. */
  readonly requeue?: QueueSender | undefined;
}

/** A settled item: what it was, what became of it, and whether its message may leave the queue. */
export interface Settled extends Settling {
  readonly outcome: Outcome;
  readonly durable: boolean;
}

/**
 * Our attributes, then the original ones that are not a dead letter's (a replayed letter's reason is spent), as many as
 * fit in MAX_MESSAGE_BYTES.
 */
function controlled(
  item: Settling,
  ours: Record<string, MessageAttributeValue>,
): Record<string, MessageAttributeValue> {
  const originals = Object.fromEntries(
    Object.entries(item.source.attributes).filter(([name]) => !DEAD_LETTER_NAMES.has(name)),
  );
  const controls = {
    ...ours,
    [REQUEUE_ATTRIBUTES.firstSeenAt]: textAttribute(timeAttribute(item.firstSeenAt)),
    [REQUEUE_ATTRIBUTES.originMessageId]: textAttribute(item.source.originId),
  };
  return withOriginalAttributes(controls, originals, MAX_MESSAGE_BYTES - Buffer.byteLength(item.source.body, 'utf8'));
}

function requeueMessage(item: Settling, r: Extract<Resolution, { kind: 'requeue' }>): OutgoingMessage {
  const names = REQUEUE_ATTRIBUTES;
  // A deferred replay must still reopen its decision when it comes back.
  const replayOf = replayedDecision(item.source.attributes);
  const ours: Record<string, MessageAttributeValue> = {
    [names.nextAttempt]: numberAttribute(r.attempt),
    [names.deferredReason]: textAttribute(r.reason.slice(0, 500)),
  };
  if (replayOf !== undefined) ours[names.replayOf] = textAttribute(timeAttribute(replayOf));
  if (r.carry)
    Object.assign(ours, {
      [names.acceptedTaskId]: textAttribute(r.carry.taskId),
      [names.acceptedRev]: numberAttribute(r.carry.rev),
    });
  return {
    key: item.source.messageId,
    body: item.source.body,
    attributes: controlled(item, ours),
    delaySeconds: r.delaySeconds,
  };
}

/** A task-level event becomes one record-level event per failed record, each a failure event of its own. */
function fanOutMessages(item: Settling, r: Extract<Resolution, { kind: 'expand' }>): OutgoingMessage[] {
  const region = item.failure?.region;
  return r.records.map((record, index) => ({
    key: `${item.source.messageId}#${index}`,
    body: JSON.stringify({ ...record, project_id: item.failure!.projectId, ...(region ? { region } : {}) }),
    attributes: controlled(item, {
      [REQUEUE_ATTRIBUTES.deferredReason]: textAttribute(`expanded from task ${r.taskId}`),
    }),
  }));
}

async function quietly(step: () => Promise<unknown>, what: string, item: Settling): Promise<void> {
  try {
    await step();
  } catch (error) {
    // The forward is durable already; the claim expires and the next event for this failure decides again.
    logger.error(`ledger update after ${what} failed`, {
      messageId: item.source.messageId,
      error: (error as Error).message,
    });
  }
}

/** Sends the forwards and links, settles the ledger by their result, and returns one outcome per item, in order. */
export async function settleAll(
  items: readonly Settling[],
  forwarders: Forwarders,
  ledger: AttemptLedger,
): Promise<Settled[]> {
  const letters: OutgoingMessage[] = [];
  const requeues: OutgoingMessage[] = [];
  const links = [];
  for (const item of items) {
    const r = item.resolution;
    if (r.kind === 'dead-letter' || (r.kind === 'preview' && forwarders.forwardDryRuns))
      letters.push(deadLetterMessage(item.source, r.letter));
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
      const [outcome, durable] = await outcomeOf(
        item,
        { letterRejects, requeueRejects, linkRejects },
        forwarders,
        ledger,
      );
      return { ...item, outcome, durable };
    }),
  );
}

interface Rejects {
  readonly letterRejects: Map<string, string>;
  readonly requeueRejects: Map<string, string>;
  readonly linkRejects: Set<string>;
}

async function outcomeOf(
  item: Settling,
  rejects: Rejects,
  forwarders: Forwarders,
  ledger: AttemptLedger,
): Promise<[Outcome, boolean]> {
  const r = item.resolution;
  const id = item.source.messageId;
  const left = (
    code: Extract<Outcome, { kind: 'deferred' }>['code'],
    reason: string,
    delaySeconds?: number,
  ): [Outcome, boolean] => [{ kind: 'deferred', code, reason, how: 'left', delaySeconds }, false];
  switch (r.kind) {
    case 'retried':
      return [
        {
          kind: 'retried',
          newTaskId: r.newTaskId,
          requestId: r.requestId,
          ruleId: r.ruleId,
          attempt: r.attempt,
          forced: r.forced,
          via: r.via,
        },
        true,
      ];
    case 'duplicate':
      // A duplicate that re-asserts a lost link stays until the link is written.
      return [{ kind: 'duplicate', code: r.code, reason: r.reason }, !(r.link && rejects.linkRejects.has(r.link.pk))];
    case 'hold':
      return left(r.code, r.reason);
    case 'not-failed':
      return [{ kind: 'not-failed', reason: r.reason, status: r.status }, true];
    case 'preview': {
      if (!forwarders.forwardDryRuns)
        return [
          {
            kind: 'previewed',
            reason: r.letter.reason,
            ruleId: r.letter.ruleId,
            preview: r.preview,
            decision: r.decision,
          },
          true,
        ];
      const rejected = rejects.letterRejects.get(id);
      if (rejected !== undefined)
        return left('unavailable', `dead-letter queue did not accept the message (${rejected}); it stays on the queue`);
      const { reason, errorCode, ruleId, attempts } = r.letter;
      return [
        {
          kind: 'dead-lettered',
          code: 'dry-run',
          reason,
          errorCode,
          ruleId,
          attempts,
          preview: r.preview,
          decision: r.decision,
        },
        true,
      ];
    }
    case 'dead-letter': {
      const claim = r.claim;
      const rejected = rejects.letterRejects.get(id);
      if (rejected !== undefined) {
        if (claim)
          await quietly(
            () => ledger.release(claim, { reason: `dead letter not accepted: ${rejected}`, errorCode: 'DLQ_REJECTED' }),
            'a rejected dead letter',
            item,
          );
        return left('unavailable', `dead-letter queue did not accept the message (${rejected}); it stays on the queue`);
      }
      const { reason, errorCode, ruleId, attempts, decidedAt } = r.letter;
      if (claim)
        await quietly(
          () => ledger.settleDeadLettered(claim, { reason, errorCode, ruleId, decidedAt, forcedBy: r.forcedBy }),
          'dead-lettering',
          item,
        );
      return [{ kind: 'dead-lettered', code: r.code, reason, errorCode, ruleId, attempts, decision: r.decision }, true];
    }
    case 'requeue': {
      if (!forwarders.requeue)
        return [
          {
            kind: 'deferred',
            code: r.code,
            reason: `${r.reason} (not re-enqueued: invoke again later)`,
            delaySeconds: r.delaySeconds,
            how: 'answered',
          },
          false,
        ];
      const rejected = rejects.requeueRejects.get(id);
      if (rejected !== undefined)
        return left(r.code, `${r.reason}; re-enqueue failed (${rejected}), left for redelivery`);
      return [
        { kind: 'deferred', code: r.code, reason: r.reason, delaySeconds: r.delaySeconds, how: 're-enqueued' },
        true,
      ];
    }
    case 'expand': {
      if (!forwarders.requeue)
        return left('expanded', `task ${r.taskId}: expanding a task-level event needs the source queue`);
      const failed = r.records.filter((_, index) => rejects.requeueRejects.has(`${id}#${index}`)).length;
      if (failed > 0)
        return left(
          'expanded',
          `task ${r.taskId}: ${failed} of ${r.records.length} record events were not accepted; the task event stays (the others are duplicates next time)`,
        );
      return [
        {
          kind: 'deferred',
          code: 'expanded',
          reason: `expanded: task ${r.taskId} has ${r.records.length} failed record(s), each re-enqueued as its own failure event`,
          how: 're-enqueued',
        },
        true,
      ];
    }
  }
}
