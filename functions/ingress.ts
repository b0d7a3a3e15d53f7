import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { CertificateCache } from '../lib/ingress/cert-cache.js';
import { loadIngressConfig } from '../lib/ingress/ingress-config.js';
import { handleIngressRequest } from '../lib/ingress/ingress-request.js';
import { secretsManagerToken, TokenSource } from '../lib/ingress/token-source.js';
import { atColdStart, logger, metrics } from '../lib/platform/observability.js';
import { QueueSender } from '../lib/platform/queue-sender.js';
import { sqsBatchSend } from '../lib/platform/sqs-client.js';

/** ingestEvents: Function URL → verified SMN notifications and webhook CloudEvents onto the failure queue. */
const config = atColdStart(() => loadIngressConfig());
const deps = {
  config,
  certificates: new CertificateCache({ allowedHosts: config.certHosts, timeoutMs: config.fetchTimeoutMs }),
  sender: new QueueSender(sqsBatchSend(), config.queueUrl),
  tokens: config.tokenSecretId
    ? new TokenSource(secretsManagerToken(config.tokenSecretId), config.tokenCacheTtlSeconds * 1000)
    : undefined,
  now: Date.now,
};

export const handler = middy<LambdaFunctionURLEvent, LambdaFunctionURLResult>()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .handler((event) => handleIngressRequest(event, deps));
