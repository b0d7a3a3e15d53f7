import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { loadConfig } from '../lib/config.js';
import { workspaceCredentialsMiddleware, type WithWorkspaceCredentials } from '../lib/credentials.js';
import { runManual, type ManualAnswer } from '../lib/manual.js';
import { logger, metrics } from '../lib/observability.js';
import { createRuntime, forInvocation } from '../lib/runtime.js';

/** retryManually: the Lambda console's test event or `osls invoke`, answered synchronously per item. */
const config = loadConfig();
const runtime = createRuntime(config);

export const handler = middy<unknown, ManualAnswer, Error, Context & WithWorkspaceCredentials>()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .use(workspaceCredentialsMiddleware({ secretId: config.credentialsSecretId, cacheTtlSeconds: config.credentialsCacheTtlSeconds }))
  .handler((event, context) => runManual(event, forInvocation(runtime, context.workspaceCredentials)));
