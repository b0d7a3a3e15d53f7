import { SQSClient } from '@aws-sdk/client-sqs';

/**
 * One SQS client per container, reused across invocations. Region and
 * endpoint come from the standard environment (AWS_REGION,
 * AWS_ENDPOINT_URL_SQS), so the same code talks to SQS or to the local emulator.
 */
let client: SQSClient | undefined;

export function sqsClient(): SQSClient {
  client ??= new SQSClient({});
  return client;
}
