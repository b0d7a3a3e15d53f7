import type { MessageAttributeValue, SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ScriptFailure } from '../../lib/events/failure.js';
import type { AttemptLedger, Claim } from '../../lib/ledger/attempt-ledger.js';
import type { Chain, Link } from '../../lib/ledger/chain.js';
import type { DeadLetter } from '../../lib/pipeline/dead-letter.js';
import type { Outcome } from '../../lib/pipeline/outcome.js';
import type { Resolution } from '../../lib/pipeline/resolution.js';
import { type Settling, settleAll } from '../../lib/pipeline/settlement.js';
import { logger } from '../../lib/platform/observability.js';
import { QueueSender, type SourceMessage } from '../../lib/platform/queue-sender.js';
import type { BatchSend } from '../../lib/platform/sqs-client.js';
import type { ExecutionRecord } from '../../lib/workspace/types.js';

/**
 * Settlement's decisions, with SQS and the ledger stood in for: which
 * forwards go out (and with what), which outcome each item gets, whether its
 * message may leave the queue, and what the ledger is told. A queue here
 * answers as SendMessageBatch does, refusing the bodies the test names.
 */

const T0 = Date.parse('2026-03-01T10:00:00Z');

interface FakeQueue {
  readonly sender: QueueSender;
  readonly sent: SendMessageBatchRequestEntry[];
  readonly calls: number[];
}

/** A queue that refuses every entry whose body `refuse` says so (and, with `down`, every call). */
function queue(refuse: (body: string) => boolean = () => false, down = false): FakeQueue {
  const sent: SendMessageBatchRequestEntry[] = [];
  const calls: number[] = [];
  const client = {
    sendMessageBatch: async (input) => {
      const entries = input.Entries ?? [];
      calls.push(entries.length);
      if (down) throw Object.assign(new Error('queue unreachable'), { name: 'QueueDown' });
      sent.push(...entries);
      const failed = entries
        .filter((e) => refuse(e.MessageBody ?? ''))
        .map((e) => ({ Id: e.Id!, Code: 'Refused', Message: 'by the test', SenderFault: false }));
      return { $metadata: {}, Successful: [], Failed: failed } as never;
    },
  } satisfies BatchSend;
  return { sender: new QueueSender(client, 'http://queue'), sent, calls };
}

/**
 * Settles `items` with `requeue` as the source queue (none: undefined), a dead-letter queue that takes all, and a
 * ledger that records.
 */
function settleVia(requeue: FakeQueue | undefined, items: readonly Settling[]): ReturnType<typeof settleAll> {
  const forwarders = { deadLetters: queue().sender, ...(requeue ? { requeue: requeue.sender } : {}) };
  return settleAll(items, forwarders, ledgerStub().ledger);
}

interface FakeLedger {
  readonly ledger: AttemptLedger;
  readonly released: Array<{ claim: Claim; evidence: Record<string, unknown> }>;
  readonly deadLettered: Array<{ claim: Claim; evidence: Record<string, unknown> }>;
  readonly linked: Link[][];
}

/** A ledger that records what it is told; `failing` makes its writes throw, `lostLinks` names links it cannot write. */
function ledgerStub(options: { failing?: boolean; lostLinks?: readonly string[] } = {}): FakeLedger {
  const released: FakeLedger['released'] = [];
  const deadLettered: FakeLedger['deadLettered'] = [];
  const linked: Link[][] = [];
  const write = async () => {
    if (options.failing) throw new Error('table unreachable');
  };
  const ledger = {
    writeLinks: async (links: readonly Link[]) => {
      linked.push([...links]);
      return links.filter((l) => options.lostLinks?.includes(l.pk)).map((l) => l.pk);
    },
    release: async (claim: Claim, evidence: Record<string, unknown>) => {
      released.push({ claim, evidence });
      await write();
    },
    settleDeadLettered: async (claim: Claim, evidence: Record<string, unknown>) => {
      deadLettered.push({ claim, evidence });
      await write();
    },
  } as unknown as AttemptLedger;
  return { ledger, released, deadLettered, linked };
}

let n = 0;
function source(attributes: Record<string, MessageAttributeValue> = {}, body?: string): SourceMessage {
  n++;
  return { messageId: `m${n}`, originId: `origin${n}`, body: body ?? JSON.stringify({ n }), attributes };
}

function item(resolution: Resolution, more: Partial<Settling> = {}): Settling {
  return { source: source(), resolution, firstSeenAt: T0, ...more };
}

function letter(overrides: Partial<DeadLetter> = {}): DeadLetter {
  return {
    reason: 'script-error: exit code 1',
    errorCode: 'WKS.SCRIPT',
    attempts: 2,
    ruleId: 'script-error',
    firstSeenAt: T0,
    decidedAt: T0 + 5_000,
    ...overrides,
  };
}

const claim = (pk: string): Claim => ({ chain: { pk, rev: 3 } as unknown as Chain });

function requeueOf(more: Partial<Extract<Resolution, { kind: 'requeue' }>> = {}): Resolution {
  return { kind: 'requeue', code: 'retry-later', reason: 'retry-later: wait', delaySeconds: 30, attempt: 2, ...more };
}

const reasonOf = (outcome: Outcome) => (outcome as { reason?: string }).reason;

const text = (entry: SendMessageBatchRequestEntry | undefined, name: string) =>
  entry?.MessageAttributes?.[name]?.StringValue;

function record(id: string): ExecutionRecord {
  return { id, script_task_id: 'task-1', resource_id: `desk-${id}`, status: 'FAILED' } as ExecutionRecord;
}

const failure = (region?: string) => ({ projectId: 'p1', region }) as unknown as ScriptFailure;

beforeEach(() => {
  vi.spyOn(logger, 'error').mockImplementation(() => undefined);
});
afterEach(() => vi.restoreAllMocks());

describe('outcomes that need no forward', () => {
  it('a retried item leaves the queue with its new task, rule, attempt and how it became known', async () => {
    const { ledger } = ledgerStub();
    const dlq = queue();
    const retried: Resolution = {
      kind: 'retried',
      newTaskId: 'task-new',
      requestId: 'req-1',
      ruleId: 'timeout',
      attempt: 1,
      forced: true,
      via: 'carried',
    };
    const [settled] = await settleAll([item(retried)], { deadLetters: dlq.sender }, ledger);
    expect(settled!.durable).toBe(true);
    // Every field of the resolution, none added or lost.
    expect(settled!.outcome).toEqual(retried);
    expect(dlq.calls).toEqual([]);
  });

  it('a run that did not fail leaves the queue with its status word', async () => {
    const [settled] = await settleVia(undefined, [
      item({ kind: 'not-failed', status: 'SUCCESS', reason: 'not-failed: SUCCESS' }),
    ]);
    expect(settled!.outcome).toEqual({ kind: 'not-failed', status: 'SUCCESS', reason: 'not-failed: SUCCESS' });
    expect(settled!.durable).toBe(true);
  });

  it('a hold stays on the queue, deferred as left, with its code and reason', async () => {
    const requeue = queue();
    const [settled] = await settleVia(requeue, [item({ kind: 'hold', code: 'unavailable', reason: 'ledger down' })]);
    expect(settled!.outcome).toEqual({
      kind: 'deferred',
      code: 'unavailable',
      reason: 'ledger down',
      how: 'left',
      delaySeconds: undefined,
    });
    expect(settled!.durable).toBe(false);
    expect(requeue.calls).toEqual([]);
  });

  it('returns one settled item per item, in the order given, each with its source', async () => {
    const { ledger } = ledgerStub();
    const items = [
      item({ kind: 'hold', code: 'unavailable', reason: 'a' }),
      item({ kind: 'not-failed', status: 'SUCCESS', reason: 'b' }),
      item({ kind: 'hold', code: 'time-budget', reason: 'c' }),
    ];
    const settled = await settleAll(items, { deadLetters: queue().sender }, ledger);
    expect(settled.map((s) => s.source.messageId)).toEqual(items.map((i) => i.source.messageId));
    expect(settled.map((s) => reasonOf(s.outcome))).toEqual(['a', 'b', 'c']);
  });
});

describe('dead letters', () => {
  it('an accepted letter is dead-lettered with its evidence, and its claim settled as dead-lettered', async () => {
    const fake = ledgerStub();
    const dlq = queue();
    const c = claim('chain-1');
    const l = letter();
    const [settled] = await settleAll(
      [item({ kind: 'dead-letter', code: 'policy', letter: l, claim: c, forcedBy: 'operator' })],
      { deadLetters: dlq.sender },
      fake.ledger,
    );
    expect(settled!.durable).toBe(true);
    expect(settled!.outcome).toEqual({
      kind: 'dead-lettered',
      code: 'policy',
      reason: l.reason,
      errorCode: l.errorCode,
      ruleId: l.ruleId,
      attempts: l.attempts,
      decision: undefined,
    });
    expect(dlq.sent).toHaveLength(1);
    expect(text(dlq.sent[0], 'reason')).toBe(l.reason);
    expect(fake.deadLettered).toEqual([
      {
        claim: c,
        evidence: {
          reason: l.reason,
          errorCode: l.errorCode,
          ruleId: l.ruleId,
          decidedAt: l.decidedAt,
          forcedBy: 'operator',
        },
      },
    ]);
    expect(fake.released).toEqual([]);
  });

  it('a letter the DLQ refuses stays on the queue, and its claim is released, not settled', async () => {
    const fake = ledgerStub();
    const c = claim('chain-2');
    const [settled] = await settleAll(
      [item({ kind: 'dead-letter', code: 'policy', letter: letter(), claim: c })],
      { deadLetters: queue(() => true).sender },
      fake.ledger,
    );
    expect(settled!.durable).toBe(false);
    expect(settled!.outcome).toMatchObject({ kind: 'deferred', code: 'unavailable', how: 'left' });
    expect(reasonOf(settled!.outcome)).toContain('Refused by the test');
    expect(fake.deadLettered).toEqual([]);
    expect(fake.released).toEqual([
      { claim: c, evidence: { reason: 'dead letter not accepted: Refused by the test', errorCode: 'DLQ_REJECTED' } },
    ]);
  });

  it('a letter without a claim touches no chain, accepted or refused', async () => {
    const fake = ledgerStub();
    const refusing = queue((body) => body.includes('"refuse"'));
    const settled = await settleAll(
      [
        { ...item({ kind: 'dead-letter', code: 'invalid-event', letter: letter() }) },
        {
          source: source({}, '{"refuse":true}'),
          resolution: { kind: 'dead-letter', code: 'invalid-event', letter: letter() },
          firstSeenAt: T0,
        },
      ],
      { deadLetters: refusing.sender },
      fake.ledger,
    );
    expect(settled.map((s) => s.durable)).toEqual([true, false]);
    expect(fake.deadLettered).toEqual([]);
    expect(fake.released).toEqual([]);
  });

  it('an accepted letter counts even when the ledger cannot record it (the claim expires)', async () => {
    const fake = ledgerStub({ failing: true });
    const [settled] = await settleAll(
      [item({ kind: 'dead-letter', code: 'policy', letter: letter(), claim: claim('chain-3') })],
      { deadLetters: queue().sender },
      fake.ledger,
    );
    expect(settled!.durable).toBe(true);
    expect(settled!.outcome.kind).toBe('dead-lettered');
    expect(fake.deadLettered).toHaveLength(1);
    expect(logger.error).toHaveBeenCalledWith('ledger update after dead-lettering failed', {
      messageId: settled!.source.messageId,
      error: 'table unreachable',
    });
  });

  it('a refused letter stays on the queue even when its release cannot be written', async () => {
    const fake = ledgerStub({ failing: true });
    const [settled] = await settleAll(
      [item({ kind: 'dead-letter', code: 'policy', letter: letter(), claim: claim('chain-4') })],
      { deadLetters: queue(() => true).sender },
      fake.ledger,
    );
    expect(settled!.durable).toBe(false);
    expect(fake.released).toHaveLength(1);
    expect(logger.error).toHaveBeenCalledWith('ledger update after a rejected dead letter failed', expect.anything());
  });

  it('sends every letter of a batch, and nothing to the DLQ when there is none', async () => {
    const dlq = queue();
    const settledNone = await settleAll(
      [item({ kind: 'hold', code: 'unavailable', reason: 'x' })],
      { deadLetters: dlq.sender },
      ledgerStub().ledger,
    );
    expect(settledNone).toHaveLength(1);
    expect(dlq.calls).toEqual([]);
    await settleAll(
      [
        item({ kind: 'dead-letter', code: 'policy', letter: letter() }),
        item({ kind: 'dead-letter', code: 'policy', letter: letter() }),
      ],
      { deadLetters: dlq.sender },
      ledgerStub().ledger,
    );
    expect(dlq.sent).toHaveLength(2);
  });
});

describe('dry runs', () => {
  it('only shown where nothing would be lost: previewed, no letter sent', async () => {
    const dlq = queue();
    const l = letter({ reason: 'dry-run: would retry' });
    const [settled] = await settleAll(
      [item({ kind: 'preview', letter: l })],
      { deadLetters: dlq.sender, forwardDryRuns: false },
      ledgerStub().ledger,
    );
    expect(settled!.durable).toBe(true);
    expect(settled!.outcome).toEqual({
      kind: 'previewed',
      reason: l.reason,
      ruleId: l.ruleId,
      preview: undefined,
      decision: undefined,
    });
    expect(dlq.calls).toEqual([]);
  });

  it('from the queue, forwarded to the DLQ so nothing is lost, as dead-lettered with code dry-run', async () => {
    const dlq = queue();
    const l = letter({ reason: 'dry-run: would retry', errorCode: 'DRY_RUN' });
    const [settled] = await settleAll(
      [item({ kind: 'preview', letter: l })],
      { deadLetters: dlq.sender, forwardDryRuns: true },
      ledgerStub().ledger,
    );
    expect(dlq.sent).toHaveLength(1);
    expect(text(dlq.sent[0], 'error_code')).toBe('DRY_RUN');
    expect(settled!.durable).toBe(true);
    expect(settled!.outcome).toEqual({
      kind: 'dead-lettered',
      code: 'dry-run',
      reason: l.reason,
      errorCode: 'DRY_RUN',
      ruleId: l.ruleId,
      attempts: l.attempts,
      preview: undefined,
      decision: undefined,
    });
  });

  it('a forwarded preview the DLQ refuses stays on the queue', async () => {
    const [settled] = await settleAll(
      [item({ kind: 'preview', letter: letter() })],
      { deadLetters: queue(() => true).sender, forwardDryRuns: true },
      ledgerStub().ledger,
    );
    expect(settled!.durable).toBe(false);
    expect(settled!.outcome).toMatchObject({ kind: 'deferred', code: 'unavailable', how: 'left' });
    expect(reasonOf(settled!.outcome)).toContain('dead-letter queue did not accept the message (Refused by the test)');
  });
});

describe('re-enqueues', () => {
  it('sends the body again with its delay, the attempt it waits for, the reason, and where the line began', async () => {
    const requeue = queue();
    const it1 = item(requeueOf({ delaySeconds: 42, attempt: 3, reason: 'x'.repeat(600) }));
    const [settled] = await settleVia(requeue, [it1]);
    expect(settled!.durable).toBe(true);
    expect(settled!.outcome).toEqual({
      kind: 'deferred',
      code: 'retry-later',
      reason: 'x'.repeat(600),
      delaySeconds: 42,
      how: 're-enqueued',
    });
    const [sent] = requeue.sent;
    expect(sent!.MessageBody).toBe(it1.source.body);
    expect(sent!.DelaySeconds).toBe(42);
    expect(text(sent, 'next_attempt')).toBe('3');
    expect(sent!.MessageAttributes?.['next_attempt']?.DataType).toBe('Number');
    expect(text(sent, 'deferred_reason')).toBe('x'.repeat(500));
    expect(text(sent, 'first_seen_at')).toBe('2026-03-01T10:00:00.000Z');
    expect(text(sent, 'origin_message_id')).toBe(it1.source.originId);
    expect(text(sent, 'accepted_task_id')).toBeUndefined();
    expect(text(sent, 'replay_of')).toBeUndefined();
  });

  it('carries an accepted task id and revision, so the next delivery records it without calling', async () => {
    const requeue = queue();
    await settleVia(requeue, [item(requeueOf({ code: 'recording', carry: { taskId: 'task-accepted', rev: 7 } }))]);
    expect(text(requeue.sent[0], 'accepted_task_id')).toBe('task-accepted');
    expect(text(requeue.sent[0], 'accepted_rev')).toBe('7');
  });

  it('keeps the original attributes but a dead letter spent ones, and a replayed letter reopens its decision', async () => {
    const requeue = queue();
    const s = source({
      reason: { DataType: 'String', StringValue: 'policy: old reason' },
      source_message_id: { DataType: 'String', StringValue: 'm-old' },
      decided_at: { DataType: 'String', StringValue: '2026-02-01T00:00:00.000Z' },
      tenant: { DataType: 'String', StringValue: 'acme' },
    });
    await settleVia(requeue, [{ source: s, resolution: requeueOf(), firstSeenAt: T0 }]);
    const [sent] = requeue.sent;
    expect(text(sent, 'tenant')).toBe('acme');
    expect(text(sent, 'reason')).toBeUndefined();
    expect(text(sent, 'decided_at')).toBeUndefined();
    expect(text(sent, 'replay_of')).toBe('2026-02-01T00:00:00.000Z');
  });

  it('keeps only the original attributes that fit beside a large body, so the message stays within SQS’s size', async () => {
    const requeue = queue();
    const s = source(
      {
        small: { DataType: 'String', StringValue: 'kept' },
        big: { DataType: 'String', StringValue: 'y'.repeat(20_000) },
      },
      JSON.stringify({ padding: 'x'.repeat(250_000) }),
    );
    await settleVia(requeue, [{ source: s, resolution: requeueOf(), firstSeenAt: T0 }]);
    const [sent] = requeue.sent;
    expect(text(sent, 'small')).toBe('kept');
    expect(text(sent, 'big')).toBeUndefined();
    expect(text(sent, 'next_attempt')).toBe('2');
  });

  it('a re-enqueue the queue refuses is left for redelivery, with why', async () => {
    const [settled] = await settleVia(
      queue(() => true),
      [item(requeueOf({ code: 'circuit-open', reason: 'circuit-open: wait' }))],
    );
    expect(settled!.durable).toBe(false);
    expect(settled!.outcome).toEqual({
      kind: 'deferred',
      code: 'circuit-open',
      reason: 'circuit-open: wait; re-enqueue failed (Refused by the test), left for redelivery',
      how: 'left',
      delaySeconds: undefined,
    });
  });

  it('without a source queue a deferral is only answered, and its message does not leave', async () => {
    const [settled] = await settleVia(undefined, [item(requeueOf({ delaySeconds: 12 }))]);
    expect(settled!.durable).toBe(false);
    expect(settled!.outcome).toEqual({
      kind: 'deferred',
      code: 'retry-later',
      reason: 'retry-later: wait (not re-enqueued: invoke again later)',
      delaySeconds: 12,
      how: 'answered',
    });
  });
});

describe("a task's fan-out", () => {
  const expand = (records: ExecutionRecord[]): Resolution => ({ kind: 'expand', taskId: 'task-9', records });

  it('one record-level event per failed record, with the project and region, all accepted', async () => {
    const requeue = queue();
    const it1 = item(expand([record('a'), record('b')]), { failure: failure('cn-north-4') });
    const [settled] = await settleVia(requeue, [it1]);
    expect(requeue.sent.map((e) => JSON.parse(e.MessageBody!))).toEqual([
      { ...record('a'), project_id: 'p1', region: 'cn-north-4' },
      { ...record('b'), project_id: 'p1', region: 'cn-north-4' },
    ]);
    expect(text(requeue.sent[0], 'deferred_reason')).toBe('expanded from task task-9');
    expect(text(requeue.sent[1], 'origin_message_id')).toBe(it1.source.originId);
    expect(settled!.durable).toBe(true);
    expect(settled!.outcome).toEqual({
      kind: 'deferred',
      code: 'expanded',
      reason: 'expanded: task task-9 has 2 failed record(s), each re-enqueued as its own failure event',
      how: 're-enqueued',
    });
  });

  it('a failure without a region sends none', async () => {
    const requeue = queue();
    await settleVia(requeue, [item(expand([record('c')]), { failure: failure() })]);
    expect(JSON.parse(requeue.sent[0]!.MessageBody!)).not.toHaveProperty('region');
  });

  it('any record event refused keeps the task event on the queue, counted', async () => {
    const requeue = queue((body) => body.includes('"id":"e"'));
    const [settled] = await settleVia(requeue, [
      item(expand([record('d'), record('e'), record('f')]), { failure: failure() }),
    ]);
    expect(settled!.durable).toBe(false);
    expect(settled!.outcome).toMatchObject({ kind: 'deferred', code: 'expanded', how: 'left' });
    expect(reasonOf(settled!.outcome)).toBe(
      'task task-9: 1 of 3 record events were not accepted; the task event stays (the others are duplicates next time)',
    );
  });

  it("a refusal of another item's message does not hold the task event", async () => {
    const requeue = queue((body) => body.includes('refuse-me'));
    const other: Settling = { source: source({}, '"refuse-me"'), resolution: requeueOf(), firstSeenAt: T0 };
    const settled = await settleVia(requeue, [item(expand([record('g')]), { failure: failure() }), other]);
    expect(settled.map((s) => s.durable)).toEqual([true, false]);
  });

  it('without a source queue it cannot expand, and the task event stays', async () => {
    const [settled] = await settleVia(undefined, [item(expand([record('h')]), { failure: failure() })]);
    expect(settled!.durable).toBe(false);
    expect(settled!.outcome).toEqual({
      kind: 'deferred',
      code: 'expanded',
      reason: 'task task-9: expanding a task-level event needs the source queue',
      how: 'left',
      delaySeconds: undefined,
    });
  });
});

describe('duplicates and their links', () => {
  const link = (pk: string): Link => ({ pk, link_to: 'chain-x', generation: 1 });

  it('a duplicate without a link leaves the queue, and the ledger is given no link', async () => {
    const fake = ledgerStub();
    const [settled] = await settleAll(
      [item({ kind: 'duplicate', code: 'handled', reason: 'handled: already retried' })],
      { deadLetters: queue().sender },
      fake.ledger,
    );
    expect(settled!.durable).toBe(true);
    expect(settled!.outcome).toEqual({ kind: 'duplicate', code: 'handled', reason: 'handled: already retried' });
    expect(fake.linked).toEqual([[]]);
  });

  it('a duplicate that re-asserts a link leaves only once the link is written', async () => {
    const fake = ledgerStub({ lostLinks: ['link-lost'] });
    const settled = await settleAll(
      [
        item({ kind: 'duplicate', code: 'handled', reason: 'a', link: link('link-ok') }),
        item({ kind: 'duplicate', code: 'handled', reason: 'b', link: link('link-lost') }),
      ],
      { deadLetters: queue().sender },
      fake.ledger,
    );
    expect(fake.linked).toEqual([[link('link-ok'), link('link-lost')]]);
    expect(settled.map((s) => s.durable)).toEqual([true, false]);
    expect(settled.map((s) => s.outcome.kind)).toEqual(['duplicate', 'duplicate']);
  });
});
