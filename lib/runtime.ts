import { documentClient } from './clients/dynamodb.js';
import { sqsClient } from './clients/sqs.js';
import type { AppConfig } from './config.js';
import { CircuitBreakers } from './circuit-breakers.js';
import type { WorkspaceCredentials } from './credentials.js';
import { ErrorBudget } from './error-budget.js';
import { KeyGate } from './key-gate.js';
import { KeyRefusalStore } from './key-refusals.js';
import { logger } from './observability.js';
import type { PipelineDeps } from './pipeline.js';
import { AttemptLedger } from './ledger.js';
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
  /** The container's key gate and the fleet's refusals (lib/key-gate.ts, lib/key-refusals.ts). */
  readonly keys: KeyGate;
  readonly keyRefusals: KeyRefusalStore;
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
      backoffCapMs: 2_000,
    }),
    ledger: new AttemptLedger(documentClient(), { tableName: config.ledgerTable, leaseSeconds: config.leaseSeconds, ttlDays: config.ledgerTtlDays }),
    breakers: new CircuitBreakers({
      consecutiveFailures: config.breakerFailures,
      halfOpenAfterMs: config.breakerCooldownSeconds * 1000,
      authCooldownMs: config.authCooldownSeconds * 1000,
    }),
    keys: new KeyGate({ cooldownMs: config.authCooldownSeconds * 1000 }),
    keyRefusals: new KeyRefusalStore(documentClient(), { tableName: config.ledgerTable }),
    forwarders: {
      forwardDryRuns: true,
      deadLetters: new QueueSender(sqs, config.deadLetterQueueUrl),
      requeue: config.sourceQueueUrl ? new QueueSender(sqs, config.sourceQueueUrl) : undefined,
    },
  };
}

/** What one invocation works with: the container's runtime, its credentials, and a fresh error budget. */
export function forInvocation(runtime: Runtime, credentials: WorkspaceCredentials): PipelineDeps & { readonly forwarders: Forwarders } {
  const keyGate = runtime.keys.forInvocation(runtime.keyRefusals, (error) => logger.warn('key refusals in the ledger table unreachable: this container still sends one call per new key version', { error: `${(error as Error).name}: ${(error as Error).message}` }));
  return { ...runtime, credentials, keyGate, errorBudget: new ErrorBudget(runtime.config.errorThreshold, runtime.config.errorThresholdMinCalls) };
}
