import { describe, expect, it } from 'vitest';
import { sqsBatchSend, sqsClientBuilt } from '../../lib/platform/sqs-client.js';

/** The container's SQS client is loaded by the first send, not at cold start (lib/platform/sqs-client.ts). */

describe('the container SQS client', () => {
  it('is not loaded by handing it out, and is loaded by the first send', async () => {
    // Prepare: an endpoint where nothing listens, one attempt, so the send fails at once
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:9',
      AWS_MAX_ATTEMPTS: '1',
    });
    try {
      const sender = sqsBatchSend();
      const builtBeforeSend = sqsClientBuilt();

      // Act
      const sent = await sender
        .sendMessageBatch({ QueueUrl: 'http://127.0.0.1:9/000000000000/q', Entries: [{ Id: '0', MessageBody: '{}' }] })
        .then(
          () => 'sent',
          (error: Error) => error.name,
        );

      // Assess
      expect(builtBeforeSend).toBe(false);
      expect(sent).not.toBe('sent');
      expect(sqsClientBuilt()).toBe(true);
    } finally {
      process.env = saved;
    }
  });
});
