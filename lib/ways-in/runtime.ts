import { type AppConfig, IN_CALL_BACKOFF_CAP_MS } from '../config/app-config.js';
import { type KillSwitch, killSwitch } from '../config/kill-switch.js';
import { AttemptLedger } from '../ledger/attempt-ledger.js';
import { DynamoLedgerStore } from '../ledger/store.js';
import type { PipelineDeps } from '../pipeline/context.js';
import type { Forwarders } from '../pipeline/settlement.js';
import { dynamoDb } from '../platform/dynamodb-client.js';
import { logger } from '../platform/observability.js';
import { QueueSender } from '../platform/queue-sender.js';
import { sqsBatchSend } from '../platform/sqs-client.js';
import { CircuitBreakers } from '../workspace/circuit-breakers.js';
import { WorkspaceClient } from '../workspace/client.js';
import type { WorkspaceCredentials } from '../workspace/credentials.js';
import { WorkspaceDesktops } from '../workspace/desktop-calls.js';
import { InvocationDesktops } from '../workspace/desktop-reads.js';
import { ErrorBudget } from '../workspace/error-budget.js';
import { KeyGate } from '../workspace/key-gate.js';
import { KeyRefusalStore } from '../workspace/key-refusals.js';
import { RetryReadings } from '../workspace/retry-readings.js';

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
  /** What Workspace's retry answers have shown in this container. */
  readonly readings: RetryReadings;
  /** Workspace's desktop calls, over the same client (each invocation reads through its own InvocationDesktops). */
  readonly desktopCalls: WorkspaceDesktops;
  /** Read at the start of every invocation: the kill switch as it stands now (lib/config/kill-switch.ts). */
  readonly killSwitch: KillSwitch;
}

/**
 * Builds the container's Runtime from the configuration; call it once per container (at cold start), not per
 * invocation.
 */
export function createRuntime(config: AppConfig): Runtime {
  const sqs = sqsBatchSend();
  const workspace = new WorkspaceClient({
    defaultRegion: config.defaultRegion,
    endpoints: config.endpoints,
    timeoutMs: config.workspaceTimeoutMs,
    maxInCallRetries: config.workspaceInCallRetries,
    backoffBaseMs: 200,
    backoffCapMs: IN_CALL_BACKOFF_CAP_MS,
  });
  return {
    config,
    workspace,
    desktopCalls: new WorkspaceDesktops(workspace),
    ledger: new AttemptLedger(new DynamoLedgerStore(dynamoDb(), config.ledgerTable), {
      leaseMs: config.leaseSeconds * 1000,
      ttlDays: config.ledgerTtlDays,
      skewMs: config.clockSkewSeconds * 1000,
    }),
    breakers: new CircuitBreakers({
      consecutiveFailures: config.breakerFailures,
      halfOpenAfterMs: config.breakerCooldownSeconds * 1000,
      authCooldownMs: config.authCooldownSeconds * 1000,
    }),
    keys: new KeyGate({ cooldownMs: config.authCooldownSeconds * 1000 }),
    readings: new RetryReadings(),
    keyRefusals: new KeyRefusalStore(dynamoDb(), { tableName: config.ledgerTable }),
    killSwitch: killSwitch({
      parameterName: config.retriesEnabledParameter,
      maxAgeSeconds: config.retriesEnabledMaxAgeSeconds ?? 30,
      fallback: config.retriesEnabled,
    }),
    forwarders: {
      forwardDryRuns: true,
      deadLetters: new QueueSender(sqs, config.deadLetterQueueUrl),
      requeue: new QueueSender(sqs, config.sourceQueueUrl),
    },
  };
}

/**
 * What one invocation works with: the container's runtime, its credentials, a
 * fresh error budget, its own desktop reads (counted in that budget), and the kill switch as the handler read it for
 * this
 * invocation (`runtime.killSwitch.retriesEnabled()`; without it, the configured value).
 */
export function forInvocation(
  runtime: Runtime,
  credentials: WorkspaceCredentials,
  retriesEnabled = runtime.config.retriesEnabled,
): PipelineDeps & { readonly forwarders: Forwarders } {
  const config =
    retriesEnabled === runtime.config.retriesEnabled ? runtime.config : { ...runtime.config, retriesEnabled };
  const keyGate = runtime.keys.forInvocation(runtime.keyRefusals, (error) =>
    logger.warn(
      'key refusals in the ledger table unreachable: this container still sends one call per new key version',
      { error: `${(error as Error).name}: ${(error as Error).message}` },
    ),
  );
  const errorBudget = new ErrorBudget(config.errorThreshold, config.errorThresholdMinCalls);
  return {
    ...runtime,
    config,
    credentials,
    keyGate,
    errorBudget,
    desktops: new InvocationDesktops(runtime.desktopCalls, errorBudget),
  };
}
