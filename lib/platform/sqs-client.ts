/**
 * SQS through the AWS SDK's client (@aws-sdk/client-sqs), one per container,
 * reused across invocations. Region and endpoint come from the standard
 * environment (AWS_REGION, AWS_ENDPOINT_URL_SQS), so the same code talks to
 * SQS or to the local emulator.
 *
 * Loaded on the first send, not at cold start: most invocations send
 * nothing (a batch whose records were all retried sends no dead letter and
 * re-enqueues nothing), and the SDK client is most of what a function would
 * otherwise import (docs/performance.md). The dynamic import() lets the
 * bundle keep it in a chunk of its own (esbuild.config.cjs), read from disk
 * and compiled only then.
 */

import type { SendMessageBatchCommandInput, SendMessageBatchCommandOutput, SQSClient } from '@aws-sdk/client-sqs';

/** What the queue sender needs of SQS: one SendMessageBatch. */
export interface BatchSend {
  sendMessageBatch(input: SendMessageBatchCommandInput): Promise<SendMessageBatchCommandOutput>;
}

let loaded: Promise<(input: SendMessageBatchCommandInput) => Promise<SendMessageBatchCommandOutput>> | undefined;
let built = false;

/** Whether the container's client has been loaded (for the test of the deferral). */
export function sqsClientBuilt(): boolean {
  return built;
}

/** The container's SQS, as the queue sender uses it; nothing is loaded until the first send. */
export function sqsBatchSend(): BatchSend {
  return {
    async sendMessageBatch(input) {
      loaded ??= load();
      return (await loaded)(input);
    },
  };
}

async function load(): Promise<(input: SendMessageBatchCommandInput) => Promise<SendMessageBatchCommandOutput>> {
  const { SQSClient, SendMessageBatchCommand } = await import('@aws-sdk/client-sqs');
  const client: SQSClient = new SQSClient({});
  built = true;
  return (input) => client.send(new SendMessageBatchCommand(input));
}
