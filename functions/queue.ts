import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { loadConfig } from '../lib/config/app-config.js';
import { atColdStart } from '../lib/platform/observability.js';
import { batchFailureGuard } from '../lib/ways-in/batch-failure-guard.js';
import { handlerWithKeys, invocationDeps } from '../lib/ways-in/lambda-handler.js';
import { processQueueBatch } from '../lib/ways-in/queue-batch.js';
import { createRuntime } from '../lib/ways-in/runtime.js';

/**
 * retryFromQueue: SQS failure events → retried, dead-lettered, deferred, duplicate or not-failed (partial batch
 * response).
 */
const config = atColdStart(() => loadConfig());
const runtime = createRuntime(config);

export const handler = handlerWithKeys<SQSEvent, SQSBatchResponse>(config, [batchFailureGuard()]).handler(
  async (event, context) => processQueueBatch(event, await invocationDeps(runtime, context)),
);
