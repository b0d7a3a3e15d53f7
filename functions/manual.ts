import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { loadConfig } from '../lib/config/app-config.js';
import { atColdStart, logger, metrics } from '../lib/platform/observability.js';
import { type ManualAnswer, runManual } from '../lib/ways-in/manual.js';
import { createRuntime, forInvocation } from '../lib/ways-in/runtime.js';
import { type WithWorkspaceCredentials, workspaceCredentialsMiddleware } from '../lib/workspace/credentials.js';

/** retryManually: the Lambda console's test event or `osls invoke`, answered synchronously per item. */
const config = atColdStart(() => loadConfig());
const runtime = createRuntime(config);

export const handler = middy<unknown, ManualAnswer, Error, Context & WithWorkspaceCredentials>()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .use(
    workspaceCredentialsMiddleware({
      secretId: config.credentialsSecretId,
      cacheTtlSeconds: config.credentialsCacheTtlSeconds,
    }),
  )
  .handler(async (event, context) => {
    const deps = forInvocation(runtime, context.workspaceCredentials, await runtime.killSwitch.retriesEnabled());
    return runManual(event, { ...deps, remainingMs: () => context.getRemainingTimeInMillis() });
  });
