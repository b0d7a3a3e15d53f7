/**
 * The sample events of events/ in the shapes Lambda delivers them: the queue
 * samples (events/queue/, one body per file) as one SQS event, and a webhook
 * delivery to the ingress. `events/sqs-event.json` is the SQS one without a
 * SentTimestamp, so its records are as new as the moment it is used (a dated
 * one made every record too old); `npm run stack` writes one sent now.
 */

import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LambdaFunctionURLEvent, SQSEvent, SQSRecord } from 'aws-lambda';
import { functionUrlEvent } from './function-url-event.js';

export const EVENTS_DIR = join(import.meta.dirname, '..', 'events');
const QUEUE_SAMPLES = join(EVENTS_DIR, 'queue');

/** A stable message id per sample file, so the committed event does not change when regenerated. */
function messageIdOf(file: string): string {
  const hex = createHash('sha256').update(file).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Every queue sample as one SQS event; `sentAt` sets each record's SentTimestamp (none: the time it is handled). */
export async function sampleSqsEvent(sentAt?: number): Promise<SQSEvent> {
  const files = (await readdir(QUEUE_SAMPLES)).sort();
  const records = await Promise.all(
    files.map(
      async (file): Promise<SQSRecord> => ({
        messageId: messageIdOf(file),
        receiptHandle: `AQEB-example-${file}`,
        body: await readFile(join(QUEUE_SAMPLES, file), 'utf8'),
        attributes: {
          ApproximateReceiveCount: '1',
          ...(sentAt === undefined
            ? {}
            : { SentTimestamp: String(sentAt), ApproximateFirstReceiveTimestamp: String(sentAt + 1) }),
          SenderId: 'AIDAEXAMPLE',
        } as SQSRecord['attributes'],
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:workspace-script-retry-dev-failures',
        awsRegion: 'us-east-1',
      }),
    ),
  );
  return { Records: records };
}

/** A webhook delivery to the ingress's Function URL: the first queue sample as a CloudEvent, with the bearer token. */
export async function sampleWebhookEvent(token: string): Promise<LambdaFunctionURLEvent> {
  const failure = JSON.parse(await readFile(join(QUEUE_SAMPLES, '01-plain-record-timeout.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const cloudEvent = {
    specversion: '1.0',
    id: `sample-${randomUUID()}`,
    source: '/local/sample',
    type: 'com.huaweicloud.workspace.script.failed',
    datacontenttype: 'application/json',
    data: failure,
  };
  return functionUrlEvent({ body: JSON.stringify(cloudEvent), headers: { authorization: `Bearer ${token}` } });
}
