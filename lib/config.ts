import { parseEndpointOverrides, validateRegion, type EndpointOverrides } from './endpoints.js';
import { loadPolicy, type RetryPolicy } from './policy-config.js';

/**
 * The function's configuration, read from the environment once at cold start.
 * A bad value fails the cold start with a message that names the variable, so
 * nothing is processed with a half-understood configuration (the queue keeps
 * the messages).
 */
export interface AppConfig {
  readonly defaultRegion: string;
  readonly endpoints: EndpointOverrides;
  readonly credentialsSecretId: string;
  readonly credentialsCacheTtlSeconds: number;
  readonly deadLetterQueueUrl: string;
  /** Where deferred failures are re-enqueued with a delay (the source queue). */
  readonly sourceQueueUrl: string | undefined;
  readonly ledgerTable: string;
  readonly ledgerTtlDays: number;
  readonly leaseSeconds: number;
  readonly maxConcurrency: number;
  readonly policy: RetryPolicy;
  /** Global dry run: decide and describe, call nothing. RETRY_POLICY's dry_run or DRY_RUN. */
  readonly dryRun: boolean;
  /** Kill switch: false defers every failure without calling Workspace. */
  readonly retriesEnabled: boolean;
  readonly workspaceTimeoutMs: number;
  readonly workspaceInCallRetries: number;
  readonly breakerFailures: number;
  readonly breakerCooldownSeconds: number;
  readonly authCooldownSeconds: number;
  /** Failed share of an invocation's calls (0–1) above which it stops calling. */
  readonly errorThreshold: number;
  readonly errorThresholdMinCalls: number;
}

/** A configuration value that cannot be used; the message names the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`${name} is required`);
  return value;
}

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got ${JSON.stringify(raw.slice(0, 40))}`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = optional(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw.slice(0, 40))}`);
}

function queueUrl(env: Env, name: string, isRequired: boolean): string | undefined {
  const raw = isRequired ? required(env, name) : optional(env, name);
  if (raw === undefined) return undefined;
  try {
    new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a queue URL, got ${JSON.stringify(raw.slice(0, 80))}`);
  }
  return raw;
}

/** Reads and validates every variable the functions use. */
export function loadConfig(env: Env = process.env): AppConfig {
  let endpoints: EndpointOverrides;
  try {
    endpoints = parseEndpointOverrides(env['WORKSPACE_ENDPOINTS']);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const defaultRegion = required(env, 'WORKSPACE_REGION');
  const regionProblem = validateRegion(defaultRegion, endpoints);
  if (regionProblem) throw new ConfigError(`WORKSPACE_REGION: ${regionProblem}`);
  const policy = loadPolicy(env['RETRY_POLICY']);
  return {
    defaultRegion,
    endpoints,
    credentialsSecretId: required(env, 'CREDENTIALS_SECRET_ID'),
    credentialsCacheTtlSeconds: integer(env, 'CREDENTIALS_CACHE_TTL_SECONDS', 300, 1, 86_400),
    deadLetterQueueUrl: queueUrl(env, 'DLQ_URL', true)!,
    sourceQueueUrl: queueUrl(env, 'SOURCE_QUEUE_URL', false),
    ledgerTable: required(env, 'LEDGER_TABLE'),
    ledgerTtlDays: integer(env, 'LEDGER_TTL_DAYS', 30, 1, 3650),
    leaseSeconds: integer(env, 'LEDGER_LEASE_SECONDS', 120, 1, 3600),
    maxConcurrency: integer(env, 'MAX_CONCURRENCY', 10, 1, 100),
    policy,
    dryRun: boolean(env, 'DRY_RUN', false) || policy.dryRun,
    retriesEnabled: boolean(env, 'RETRIES_ENABLED', true),
    workspaceTimeoutMs: integer(env, 'WORKSPACE_TIMEOUT_MS', 5_000, 100, 60_000),
    workspaceInCallRetries: integer(env, 'WORKSPACE_IN_CALL_RETRIES', 2, 0, 5),
    breakerFailures: integer(env, 'BREAKER_FAILURES', 5, 1, 100),
    breakerCooldownSeconds: integer(env, 'BREAKER_COOLDOWN_SECONDS', 30, 1, 3600),
    authCooldownSeconds: integer(env, 'AUTH_COOLDOWN_SECONDS', 300, 1, 86_400),
    errorThreshold: integer(env, 'ERROR_THRESHOLD_PERCENT', 50, 1, 100) / 100,
    errorThresholdMinCalls: integer(env, 'ERROR_THRESHOLD_MIN_CALLS', 5, 1, 1000),
  };
}
