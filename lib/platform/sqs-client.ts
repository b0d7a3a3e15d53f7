import { SQSClient } from '@aws-sdk/client-sqs';

/**
 * One SQS client per container, reused across invocations. Region and
 * endpoint come from the standard environment (AWS_REGION,
 * AWS_ENDPOINT_URL_SQS), so the same code talks to SQS or to the local emulator.
 *
 * Built on first use, not at cold start: most invocations send nothing (a
 * batch whose records were all retried sends no dead letter and re-enqueues
 * nothing), and building an SDK client (configuration, credential chain,
 * middleware stack, HTTP handler) cost about 9 ms of the queue function's
 * cold start. What sqsClient() answers stands in for the client: the first
 * property read (`send`) builds it.
 */
let client: SQSClient | undefined;
let standIn: SQSClient | undefined;

/** Whether the container's client has been built (for the test of the deferral). */
export function sqsClientBuilt(): boolean {
  return client !== undefined;
}

export function sqsClient(): SQSClient {
  standIn ??= new Proxy({} as SQSClient, {
    get(_, property) {
      client ??= new SQSClient({});
      const value: unknown = Reflect.get(client, property, client);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(client) : value;
    },
  });
  return standIn;
}
