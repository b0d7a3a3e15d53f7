import type { MiddlewareObj } from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { logger } from '../platform/observability.js';
import { allFailed, checkedResponse } from './queue-batch.js';

/**
 * The last line of defence of a queue handler: an error anywhere (the secret
 * unreadable, a crash, middy's timeout) reports every record as a batch item
 * failure, so nothing is deleted; and a response is checked before Lambda sees
 * it (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
 * An empty list would delete the whole batch, so a crash must never produce one.
 */
export function batchFailureGuard<TContext extends Context = Context>(): MiddlewareObj<
  SQSEvent,
  SQSBatchResponse,
  Error,
  TContext
> {
  return {
    after: async (request) => {
      request.response = checkedResponse(request.event, request.response);
    },
    onError: async (request) => {
      const error = request.error as Error | undefined;
      logger.error('batch failed as a whole: every record stays on the queue', {
        error: `${error?.name}: ${error?.message}`,
        records: request.event?.Records?.length ?? 0,
      });
      request.response = allFailed(request.event);
    },
  };
}
