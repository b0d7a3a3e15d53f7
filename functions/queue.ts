import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { loadConfig } from '../lib/config/app-config.js';
import { atColdStart, logger, metrics } from '../lib/platform/observability.js';
import { batchFailureGuard } from '../lib/ways-in/batch-failure-guard.js';
import { processQueueBatch } from '../lib/ways-in/queue-batch.js';
import { createRuntime, forInvocation } from '../lib/ways-in/runtime.js';
import { type WithWorkspaceCredentials, workspaceCredentialsMiddleware } from '../lib/workspace/credentials.js';

/**
 * retryFromQueue: SQS failure events → retried, dead-lettered, deferred, duplicate or not-failed (partial batch
 * response).
 */
const config = atColdStart(() => loadConfig());
const runtime = createRuntime(config);

export const handler = middy<SQSEvent, SQSBatchResponse, Error, Context & WithWorkspaceCredentials>()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .use(batchFailureGuard())
  .use(
    workspaceCredentialsMiddleware({
      secretId: config.credentialsSecretId,
      cacheTtlSeconds: config.credentialsCacheTtlSeconds,
    }),
  )
  .handler(async (event, context) => {
    const deps = forInvocation(runtime, context.workspaceCredentials, await runtime.killSwitch.retriesEnabled());
    return processQueueBatch(event, { ...deps, remainingMs: () => context.getRemainingTimeInMillis() });
  });
