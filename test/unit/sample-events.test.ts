import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { sampleSqsEvent } from '../../local/sample-events.js';

/** The console test event for the queue function stays usable: never dated, never out of step with events/queue/. */
describe('events/sqs-event.json', () => {
  it('is every queue sample, as local/sample-events.ts builds it, with no SentTimestamp (so no record in it is ever too old)', async () => {
    // Act
    const committed = JSON.parse(await readFile('events/sqs-event.json', 'utf8')) as Awaited<
      ReturnType<typeof sampleSqsEvent>
    >;

    // Assess
    expect(committed).toEqual(await sampleSqsEvent());
    for (const record of committed.Records) expect(record.attributes).not.toHaveProperty('SentTimestamp');
  });

  it('is built with a send time when one is given (npm run stack writes one sent now)', async () => {
    const event = await sampleSqsEvent(1_800_000_000_000);
    expect(event.Records[0]!.attributes).toMatchObject({ SentTimestamp: '1800000000000' });
  });
});
