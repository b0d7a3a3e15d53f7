import { dynamoDb } from '../platform/dynamodb-client.js';
import { sqsBatchSend } from '../platform/sqs-client.js';
import { IN_CALL_BACKOFF_CAP_MS, type AppConfig } from '../config/app-config.js';
import { CircuitBreakers } from '../workspace/circuit-breakers.js';
import type { WorkspaceCredentials } from '../workspace/credentials.js';
import { ErrorBudget } from '../workspace/error-budget.js';
import { KeyGate } from '../workspace/key-gate.js';
import { KeyRefusalStore } from '../workspace/key-refusals.js';
import { logger } from '../platform/observability.js';
import type { PipelineDeps } from '../pipeline/process-failure.js';
import { AttemptLedger } from '../ledger/attempt-ledger.js';
import { DynamoLedgerStore } from '../ledger/store.js';
import { QueueSender } from '../platform/queue-sender.js';
import type { Forwarders } from '../pipeline/settlement.js';
import { WorkspaceClient } from '../workspace/client.js';

/** Everything a way in needs besides the credentials, built once per container from the configuration. */
export interface Runtime {
  readonly config: AppConfig;
  readonly workspace: WorkspaceClient;
  readonly ledger: AttemptLedger;
  readonly forwarders: Forwarders;
  readonly breakers: CircuitBreakers;
  /** The container's key gate and the fleet's refusals (lib/workspace/key-gate.ts, lib/workspace/key-refusals.ts). */
  readonly keys: KeyGate;
  readonly keyRefusals: KeyRefusalStore;
}

export function createRuntime(config: AppConfig): Runtime {
  const sqs = sqsBatchSend();
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
    ledger: new AttemptLedger(new DynamoLedgerStore(dynamoDb(), config.ledgerTable), { leaseMs: config.leaseSeconds * 1000, ttlDays: config.ledgerTtlDays }),
    breakers: new CircuitBreakers({
      consecutiveFailures: config.breakerFailures,
      halfOpenAfterMs: config.breakerCooldownSeconds * 1000,
      authCooldownMs: config.authCooldownSeconds * 1000,
    }),
    keys: new KeyGate({ cooldownMs: config.authCooldownSeconds * 1000 }),
    keyRefusals: new KeyRefusalStore(dynamoDb(), { tableName: config.ledgerTable }),
    forwarders: {
      forwardDryRuns: true,
      deadLetters: new QueueSender(sqs, config.deadLetterQueueUrl),
      requeue: new QueueSender(sqs, config.sourceQueueUrl),
    },
  };
}

/** What one invocation works with: the container's runtime, its credentials, and a fresh error budget. */
export function forInvocation(runtime: Runtime, credentials: WorkspaceCredentials): PipelineDeps & { readonly forwarders: Forwarders } {
  const keyGate = runtime.keys.forInvocation(runtime.keyRefusals, (error) => logger.warn('key refusals in the ledger table unreachable: this container still sends one call per new key version', { error: `${(error as Error).name}: ${(error as Error).message}` }));
  return { ...runtime, credentials, keyGate, errorBudget: new ErrorBudget(runtime.config.errorThreshold, runtime.config.errorThresholdMinCalls) };
}
