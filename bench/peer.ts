import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { WorkspaceClient } from '../lib/workspace/client.js';
import type { WorkspaceCredentials } from '../lib/workspace/credentials.js';

/**
 * The peer: the same job built the way the best-known tools suggest.
 * Powertools' BatchProcessor + processPartialResponse for the partial batch
 * response, the record handler wrapped in makeIdempotent over a
 * DynamoDBPersistenceLayer keyed on the failure (project + record id), calling
 * the same Workspace client. No policy, no lineage, no dead letters with
 * reasons, no circuit breakers: its figures are a floor for "the usual way".
 * Powertools runs every record of a batch at once; a semaphore holds it to C,
 * as MAX_CONCURRENCY holds ours.
 */

export interface PeerDeps {
  readonly workspace: WorkspaceClient;
  readonly credentials: WorkspaceCredentials;
  readonly tableName: string;
  readonly concurrency: number;
}

export type PeerHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export function peerHandler(deps: PeerDeps): PeerHandler {
  const persistenceStore = new DynamoDBPersistenceLayer({ tableName: deps.tableName });
  // https://docs.powertools.aws.dev/lambda/typescript/latest/features/idempotency/: the key is what makes two events "the same failure".
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'powertools_json(body).[project_id, record_id]',
    throwOnNoIdempotencyKey: true,
  });
  const processor = new BatchProcessor(EventType.SQS);
  const limit = semaphore(deps.concurrency);

  const retryOnce = makeIdempotent(
    async (record: SQSRecord) => {
      const failure = JSON.parse(record.body) as { project_id: string; record_id: string; region?: string };
      const { credentials } = await deps.credentials.forProject(failure.project_id);
      const accepted = await deps.workspace.retry(
        { projectId: failure.project_id, region: failure.region },
        { recordId: failure.record_id },
        credentials,
      );
      return { taskId: accepted.taskId };
    },
    { persistenceStore, config },
  );

  return async (event, context) => {
    config.registerLambdaContext(context);
    return processPartialResponse(event, (record: SQSRecord) => limit(() => retryOnce(record)), processor, { context });
  };
}

function semaphore(limit: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (fn) => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await fn();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}
