/**
 * What every way in that calls Workspace runs under in Lambda: the logger's
 * context, the metrics flushed at the end, any guard of its own, then the
 * Workspace keys from Secrets Manager on the context; and what one invocation
 * runs with. The handlers in functions/ are this, their runtime, and one call.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import type { AppConfig } from '../config/app-config.js';
import { logger, metrics } from '../platform/observability.js';
import { type WithWorkspaceCredentials, workspaceCredentialsMiddleware } from '../workspace/credentials.js';
import { forInvocation, type Runtime } from './runtime.js';

/** The Lambda context a way in's handler sees: the Workspace keys are on it. */
export type KeyedContext = Context & WithWorkspaceCredentials;

/**
 * A middy handler with the logger, the metrics, `guards` (in order: the queue's batch-failure guard) and the
 * Workspace keys, in that order, so a guard sees every error the keys' middleware raises.
 */
export function handlerWithKeys<TEvent, TResult>(
  config: AppConfig,
  guards: readonly MiddlewareObj<TEvent, TResult, Error, KeyedContext>[] = [],
) {
  const handler = middy<TEvent, TResult, Error, KeyedContext>()
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics));
  for (const guard of guards) handler.use(guard);
  return handler.use(
    workspaceCredentialsMiddleware({
      secretId: config.credentialsSecretId,
      cacheTtlSeconds: config.credentialsCacheTtlSeconds,
    }),
  );
}

/** What one invocation runs with: the container's runtime, its keys, the kill switch as read now, the time left. */
export async function invocationDeps(runtime: Runtime, context: KeyedContext) {
  const deps = forInvocation(runtime, context.workspaceCredentials, await runtime.killSwitch.retriesEnabled());
  return { ...deps, remainingMs: () => context.getRemainingTimeInMillis() };
}
