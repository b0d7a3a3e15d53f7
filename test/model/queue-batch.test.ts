import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { logger } from '../../lib/platform/observability.js';
import { allFailed, checkedResponse, processQueueBatch } from '../../lib/ways-in/queue-batch.js';
import { PROJECT_ID } from '../helpers/factories.js';
import { emit } from './commands.js';
import { quietPipelineEachTest } from './quiet-pipeline.js';
import { World } from './world.js';

/**
 * The queue way in over the model: what a batch's records become, which of
 * them stay on the queue (the partial batch response), and the response's own
 * check, which fails every record rather than delete one it should not.
 */

let world: World;
quietPipelineEachTest(() => world);

function freshWorld(gate: (label: string) => Promise<void> = async () => undefined): World {
  world = new World({ maxAttempts: 2, tasks: [{ desktops: 2, reason: 'retry' }] }, gate);
  return world;
}

const receiveAll = (): SQSRecord[] => world.source.visible().map((m) => world.source.receive(m));

function batch(records: SQSRecord[], remainingMs?: () => number) {
  const invocation = world.invocation('queue', 'none');
  return {
    invocation,
    response: processQueueBatch({ Records: records }, { ...world.deps(invocation), remainingMs }),
  };
}

describe('a batch through the queue way in', () => {
  it('a body that is no failure event is dead-lettered with the reason, and leaves the queue', async () => {
    freshWorld();
    world.source.add('not json at all');
    const [record] = receiveAll();
    world.advance(30);
    const { response } = batch([record!]);
    expect((await response).batchItemFailures).toEqual([]);
    const [letter] = [...world.dlq.messages.values()];
    const attr = (name: string) => letter!.attributes[name]?.StringValue;
    expect(attr('reason')).toMatch(/^invalid-event: /);
    expect(attr('error_code')).toBe('INVALID_EVENT');
    expect(attr('attempts')).toBe('0');
    expect(attr('rule_id')).toBe('invalid-event');
    // First seen when it was sent; decided when it was read.
    expect(attr('first_seen_at')).toBe(new Date(Number(record!.attributes.SentTimestamp)).toISOString());
    expect(attr('decided_at')).toBe(new Date(world.now()).toISOString());
    expect(world.outcomes).toEqual([
      expect.objectContaining({ way: 'queue', kind: 'dead-lettered', code: 'invalid-event' }),
    ]);
  });

  it('a failure in a region without a Workspace endpoint is dead-lettered as invalid, nothing called', async () => {
    freshWorld();
    const record = world.ws.records.get('r1')!;
    world.source.add(
      JSON.stringify({
        project_id: PROJECT_ID,
        record_id: 'r1',
        task_id: record.script_task_id,
        status: 'FAILED',
        reason: record.reason,
        region: 'xx-nowhere-9',
      }),
    );
    const { response, invocation } = batch(receiveAll());
    expect((await response).batchItemFailures).toEqual([]);
    const [letter] = [...world.dlq.messages.values()];
    expect(letter!.attributes['reason']?.StringValue).toMatch(
      /^invalid-event: .*xx-nowhere-9 has no Workspace endpoint/,
    );
    expect(invocation.calls.filter((c) => !c.startsWith('send '))).toEqual([]);
  });

  it('copies of one failure in a batch run one after the other: one retry, the other a duplicate', async () => {
    // The retry call takes a while (many turns of the event loop): a copy run beside it would find the claim held.
    freshWorld(async (label) => {
      if (label.endsWith(' retry r1')) for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    });
    emit(world, 'r1', 'plain');
    emit(world, 'r1', 'sns');
    emit(world, 'r1', 'eventbridge');
    const { response } = batch(receiveAll());
    expect((await response).batchItemFailures).toEqual([]);
    expect(world.ws.applied.get(world.ws.runOf('r1'))).toBe(1);
    expect(world.outcomes.map((o) => o.kind).sort()).toEqual(['duplicate', 'duplicate', 'retried']);
  });

  it('records not started this close to the end of the invocation stay on the queue, nothing called', async () => {
    freshWorld();
    emit(world, 'r1', 'plain');
    emit(world, 'r2', 'plain');
    const records = receiveAll();
    const { response, invocation } = batch(records, () => world.config.worstCaseCallMs + 4_999);
    expect((await response).batchItemFailures).toEqual(records.map((r) => ({ itemIdentifier: r.messageId })));
    expect(invocation.calls.filter((c) => !c.startsWith('read '))).toEqual([]);
    expect(world.outcomes.map((o) => [o.kind, o.code, o.reason])).toEqual(
      records.map(() => [
        'deferred',
        'time-budget',
        'time-budget: the invocation is about to time out; left for redelivery',
      ]),
    );
  });

  it('with the margin left, the records are handled', async () => {
    freshWorld();
    emit(world, 'r1', 'plain');
    const { response } = batch(receiveAll(), () => world.config.worstCaseCallMs + 5_000);
    expect((await response).batchItemFailures).toEqual([]);
    expect(world.outcomes.map((o) => o.kind)).toEqual(['retried']);
  });

  it('only the records whose outcome is not durable stay', async () => {
    freshWorld();
    emit(world, 'r1', 'plain');
    emit(world, 'r2', 'plain');
    const [first, second] = receiveAll();
    // r1's retry is answered; r2's fails with an error of our own, so r2 is held where it is.
    const retry = world.ws.retry.bind(world.ws);
    vi.spyOn(world.ws, 'retry').mockImplementation((target) => {
      if (target.recordId === 'r2') throw new TypeError('a bug');
      return retry(target);
    });
    const { response } = batch([first!, second!]);
    expect((await response).batchItemFailures).toEqual([{ itemIdentifier: second!.messageId }]);
    expect(world.outcomes.map((o) => [o.messageId, o.kind])).toEqual([
      [first!.messageId, 'retried'],
      [second!.messageId, 'deferred'],
    ]);
  });
});

describe("the batch response's own check", () => {
  const event = (...ids: string[]): SQSEvent => ({ Records: ids.map((messageId) => ({ messageId }) as SQSRecord) });

  it('passes a response that names only records of the batch', () => {
    const e = event('a', 'b', 'c');
    expect(checkedResponse(e, { batchItemFailures: [{ itemIdentifier: 'b' }] })).toEqual({
      batchItemFailures: [{ itemIdentifier: 'b' }],
    });
    expect(checkedResponse(e, { batchItemFailures: [] })).toEqual({ batchItemFailures: [] });
  });

  it.each([
    ['an identifier not of the batch', { batchItemFailures: [{ itemIdentifier: 'b' }, { itemIdentifier: 'z' }] }],
    ['an identifier that is not text', { batchItemFailures: [{ itemIdentifier: 7 }] }],
    ['an entry that is not an object', { batchItemFailures: [null] }],
    ['failures that are not a list', { batchItemFailures: { itemIdentifier: 'a' } }],
    ['no response', undefined],
  ])('fails every record for a response with %s, and says so', (_, response) => {
    const error = vi.spyOn(logger, 'error');
    expect(checkedResponse(event('a', 'b'), response)).toEqual({
      batchItemFailures: [{ itemIdentifier: 'a' }, { itemIdentifier: 'b' }],
    });
    expect(error).toHaveBeenCalledWith('batch response failed its own check: reporting every record as failed', {
      records: 2,
    });
  });

  it('every record back to the queue, and none for an event without records', () => {
    expect(allFailed(event('x', 'y'))).toEqual({
      batchItemFailures: [{ itemIdentifier: 'x' }, { itemIdentifier: 'y' }],
    });
    expect(allFailed({} as SQSEvent)).toEqual({ batchItemFailures: [] });
  });
});
