import { describe, expect, it } from 'vitest';
import { sqsClient, sqsClientBuilt } from '../../lib/platform/sqs-client.js';

/** The container's SQS client is built when something first uses it, not at cold start (lib/platform/sqs-client.ts). */

describe('the container SQS client', () => {
  it('is not built by handing it out, and is built once by its first use', () => {
    // Prepare
    const process = { ...globalThis.process.env };
    globalThis.process.env['AWS_REGION'] ??= 'us-east-1';
    try {
      // Act
      const first = sqsClient();
      const second = sqsClient();
      const builtBeforeUse = sqsClientBuilt();
      const send = first.send;

      // Assess
      expect(second).toBe(first);
      expect(builtBeforeUse).toBe(false);
      expect(typeof send).toBe('function');
      expect(sqsClientBuilt()).toBe(true);
      expect(first.config.serviceId).toBe('SQS');
    } finally {
      globalThis.process.env = process;
    }
  });
});
