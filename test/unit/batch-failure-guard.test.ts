import middy, { type MiddlewareObj } from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { batchFailureGuard } from '../../lib/ways-in/batch-failure-guard.js';
import { captureStdout, type LogCapture } from '../../local/log-capture.js';

/**
 * The guard is the queue handler's last line of defence: whatever goes wrong
 * inside the middy chain, Lambda must never see an empty batchItemFailures
 * (which deletes the whole batch) or a malformed response.
 */

const context = {} as Context;

/** Just the message ids matter to the guard. */
function sqsEvent(bodies: readonly string[]): SQSEvent {
  return { Records: bodies.map((body, i) => ({ messageId: `m${i}-${body}`, body }) as SQSEvent['Records'][number]) };
}
type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** A chain shaped like functions/queue.ts: the guard first, then whatever runs inside it. */
function chain(
  handler: (event: SQSEvent) => Promise<unknown>,
  ...inner: Array<MiddlewareObj<SQSEvent, SQSBatchResponse>>
): Handler {
  let built = middy<SQSEvent, SQSBatchResponse>().use(batchFailureGuard());
  for (const m of inner) built = built.use(m);
  return built.handler(handler as never) as unknown as Handler;
}

const ids = (event: SQSEvent) => event.Records.map((r) => r.messageId);
const failed = (response: SQSBatchResponse) => response.batchItemFailures.map((f) => f.itemIdentifier);

let logs: LogCapture;
beforeEach(() => {
  logs = captureStdout();
});
afterEach(() => logs.restore());

describe('the batch failure guard', () => {
  it('keeps every record on the queue when a record handler throws mid-batch', async () => {
    const event = sqsEvent(['a', 'b', 'c', 'd']);
    let handled = 0;
    const handler = chain(async (e) => {
      for (const record of e.Records) {
        if (++handled === 3) throw new TypeError(`record ${record.messageId} crashed`);
      }
      return { batchItemFailures: [] };
    });

    const response = await handler(event, context);

    expect(failed(response)).toEqual(ids(event));
    expect(
      logs.lines().find((l) => l['message'] === 'batch failed as a whole: every record stays on the queue'),
    ).toMatchObject({ error: expect.stringMatching(/^TypeError: record .* crashed$/), records: 4 });
  });

  it('keeps every record on the queue when a middleware inside the guard throws after the handler answered', async () => {
    const event = sqsEvent(['a', 'b']);
    const throwsAfter: MiddlewareObj<SQSEvent, SQSBatchResponse> = {
      after: async () => {
        throw new Error('after failed');
      },
    };
    const handler = chain(async () => ({ batchItemFailures: [] }), throwsAfter);

    expect(failed(await handler(event, context))).toEqual(ids(event));
  });

  it.each([
    ['no response', () => undefined],
    ['a response without a list', () => ({})],
    [
      'a failure that is not a message of this batch',
      () => ({ batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] }),
    ],
    ['a failure without an identifier', () => ({ batchItemFailures: [{}] })],
  ])('fails every record when the chain answers with %s', async (_, answer) => {
    const event = sqsEvent(['a', 'b', 'c']);
    const handler = chain(async () => ({ batchItemFailures: [] }), {
      after: async (request) => void (request.response = answer() as never),
    });

    expect(failed(await handler(event, context))).toEqual(ids(event));
  });

  it('lets a well-formed partial response through unchanged', async () => {
    const event = sqsEvent(['a', 'b', 'c']);
    const handler = chain(async (e) => ({ batchItemFailures: [{ itemIdentifier: e.Records[1]!.messageId }] }));

    expect(await handler(event, context)).toEqual({
      batchItemFailures: [{ itemIdentifier: event.Records[1]!.messageId }],
    });
  });

  it('answers an event without records with an empty list rather than crashing', async () => {
    const handler = chain(async () => {
      throw new Error('boom');
    });
    expect(await handler({} as SQSEvent, context)).toEqual({ batchItemFailures: [] });
  });
});
