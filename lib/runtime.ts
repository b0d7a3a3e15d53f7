import { documentClient } from './clients/dynamodb.js';
import { sqsClient } from './clients/sqs.js';
import { IN_CALL_BACKOFF_CAP_MS, type AppConfig } from './config.js';
import { CircuitBreakers } from './circuit-breakers.js';
import type { WorkspaceCredentials } from './credentials.js';
import { ErrorBudget } from './error-budget.js';
import type { PipelineDeps } from './pipeline.js';
import { AttemptLedger } from './ledger/attempt-ledger.js';
import { DynamoLedgerStore } from './ledger/store.js';
import { QueueSender } from './queue-sender.js';
import type { Forwarders } from './settlement.js';
import { WorkspaceClient } from './workspace-client.js';

/** Everything a way in needs besides the credentials, built once per container from the configuration. */
export interface Runtime {
  readonly config: AppConfig;
  readonly workspace: WorkspaceClient;
  readonly ledger: AttemptLedger;
  readonly forwarders: Forwarders;
  readonly breakers: CircuitBreakers;
}

export function createRuntime(config: AppConfig): Runtime {
  const sqs = sqsClient();
  return {
    config,
    workspace: new WorkspaceClient({
      defaultRegion: config.defaultRegion,
      endpoints: config.endpoints,
      timeoutMs: config.workspaceTimeoutMs,
      maxInCallRetries: config.workspaceInCallRetries,
      backoffBaseMs: 200,
      backoffCapMs: IN_CALL_BACKOFF_CAP_MS,
    }),
    ledger: new AttemptLedger(new DynamoLedgerStore(documentClient(), config.ledgerTable), { leaseMs: config.leaseSeconds * 1000, ttlDays: config.ledgerTtlDays }),
    breakers: new CircuitBreakers({
      consecutiveFailures: config.breakerFailures,
      halfOpenAfterMs: config.breakerCooldownSeconds * 1000,
      authCooldownMs: config.authCooldownSeconds * 1000,
    }),
    forwarders: {
      forwardDryRuns: true,
      deadLetters: new QueueSender(sqs, config.deadLetterQueueUrl),
      requeue: new QueueSender(sqs, config.sourceQueueUrl),
    },
  };
}

/** What one invocation works with: the container's runtime, its credentials, and a fresh error budget. */
export function forInvocation(runtime: Runtime, credentials: WorkspaceCredentials): PipelineDeps & { readonly forwarders: Forwarders } {
  return { ...runtime, credentials, errorBudget: new ErrorBudget(runtime.config.errorThreshold, runtime.config.errorThresholdMinCalls) };
}
