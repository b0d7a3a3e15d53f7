import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { loadConfig } from '../lib/config.js';
import { workspaceCredentialsMiddleware, type WithWorkspaceCredentials } from '../lib/credentials.js';
import { countSweepProject, logger, metrics } from '../lib/observability.js';
import { createRuntime, forInvocation } from '../lib/runtime.js';
import { runSweep, type ProjectSummary } from '../lib/sweep.js';
import { loadSweepConfig } from '../lib/sweep-config.js';

/** sweepOnSchedule: finds failed executions whose events were lost and puts them through the pipeline. */
const config = loadConfig();
const sweep = loadSweepConfig(process.env, config.endpoints, config.worstCaseCallMs);
const runtime = createRuntime(config);

export const handler = middy<ScheduledEvent, { projects: ProjectSummary[] }, Error, Context & WithWorkspaceCredentials>()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .use(workspaceCredentialsMiddleware({ secretId: config.credentialsSecretId, cacheTtlSeconds: config.credentialsCacheTtlSeconds }))
  .handler(async (_event, context) => {
    const result = await runSweep({ ...forInvocation(runtime, context.workspaceCredentials), sweep, remainingMs: () => context.getRemainingTimeInMillis() });
    result.projects.forEach(countSweepProject);
    return result;
  });
