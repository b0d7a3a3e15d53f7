import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { captureStdout } from '../../local/log-capture.js';
import { PROJECT_ID } from '../helpers/factories.js';
import { attr, type Harness, startHarness } from '../helpers/harness.js';

/**
 * Dead letters are messages SQS accepts, played on fauxqs (which enforces the
 * 1 MiB SendMessageBatch total and each queue's MaximumMessageSize): a
 * letter SQS refused would stay on the source queue until the redrive
 * policy moved it to the DLQ without a reason.
 */

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/** A poison pill of about `kb` KB: valid JSON naming a run, padded beyond the 64 KiB an event may have. */
const poison = (kb: number, n: number) =>
  JSON.stringify({ project_id: PROJECT_ID, record_id: `big${n}`, padding: 'x'.repeat(kb * 1024) });

async function drainQuietly(harness: Harness): Promise<Array<Record<string, unknown>>> {
  const handler = await harness.loadHandler('queue', { POWERTOOLS_LOG_LEVEL: 'INFO' });
  const capture = captureStdout();
  try {
    await harness.drain(handler);
  } finally {
    capture.restore();
  }
  return capture.outcomes();
}

describe('dead letters SQS accepts', () => {
  it('ten 110 KB poison bodies arriving together are each dead-lettered once, with the reason, none redriven without one', async () => {
    // Prepare: ten letters of 110 KB are more than one SendMessageBatch takes (1 MiB).
    h = await startHarness({ maxReceiveCount: 2 });
    const bodies = Array.from({ length: 10 }, (_, n) => poison(110, n));
    const ids = await h.send(bodies);

    // Act
    const outcomes = await drainQuietly(h);

    // Assess
    const dlq = await h.takeAll(h.stack.dlqUrl);
    expect(dlq).toHaveLength(10);
    for (const message of dlq) {
      expect(attr(message, 'reason')).toMatch(/^invalid-event: body: \d+ bytes, larger than 65536$/);
      expect(bodies).toContain(message.Body);
    }
    expect(new Set(dlq.map((m) => attr(m, 'source_message_id')))).toEqual(new Set(ids));
    expect(outcomes.map((o) => o['kind'])).toEqual(Array(10).fill('dead-lettered'));
    expect(await h.stack.depth(h.stack.queueUrl)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('a body too large for a dead-letter queue of 256 KiB is cut to fit, with its size and digest, and its reason', async () => {
    // Prepare: a DLQ created before SQS took 1 MiB messages, and a 300 KB body its 1 MiB source queue took.
    h = await startHarness({ maxReceiveCount: 2, dlqMaximumMessageSize: 262_144 });
    const body = poison(300, 0);
    await h.send([body]);

    // Act
    await drainQuietly(h);

    // Assess
    const [letter, ...more] = await h.takeAll(h.stack.dlqUrl);
    expect(more).toEqual([]);
    expect(attr(letter!, 'reason')).toMatch(/^invalid-event: body: \d+ bytes, larger than 65536$/);
    expect(body.startsWith(letter!.Body!)).toBe(true);
    expect(letter!.Body!.length).toBeGreaterThan(250_000);
    expect(Number(attr(letter!, 'body_bytes'))).toBe(Buffer.byteLength(body));
    expect(attr(letter!, 'body_sha256')).toBe(createHash('sha256').update(body).digest('hex'));
  });
});
