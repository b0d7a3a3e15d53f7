import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { loadConfig } from '../lib/config/app-config.js';
import { loadSweepConfig } from '../lib/config/sweep-config.js';
import { atColdStart, countSweepProject, logger, metrics } from '../lib/platform/observability.js';
import { createRuntime, forInvocation } from '../lib/ways-in/runtime.js';
import { type ProjectSummary, runSweep } from '../lib/ways-in/sweep.js';
import { type WithWorkspaceCredentials, workspaceCredentialsMiddleware } from '../lib/workspace/credentials.js';

/** sweepOnSchedule: finds failed executions whose events were lost and puts them through the pipeline. */
const config = atColdStart(() => loadConfig());
const sweep = atColdStart(() => loadSweepConfig(process.env, config.endpoints, config.worstCaseCallMs));
const runtime = createRuntime(config);

export const handler = middy<
  ScheduledEvent,
  { projects: ProjectSummary[] },
  Error,
  Context & WithWorkspaceCredentials
>()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .use(
    workspaceCredentialsMiddleware({
      secretId: config.credentialsSecretId,
      cacheTtlSeconds: config.credentialsCacheTtlSeconds,
    }),
  )
  .handler(async (_event, context) => {
    const deps = forInvocation(runtime, context.workspaceCredentials, await runtime.killSwitch.retriesEnabled());
    const result = await runSweep({ ...deps, sweep, remainingMs: () => context.getRemainingTimeInMillis() });
    result.projects.forEach(countSweepProject);
    return result;
  });
