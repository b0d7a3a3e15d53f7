import { parseEndpointOverrides, validateRegion, type EndpointOverrides } from '../workspace/endpoints.js';
import { loadPolicy, type RetryPolicy } from '../policy/policy-config.js';

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
  /** Where deferred failures are re-enqueued with a delay, and task-level events fanned out (the source queue). */
  readonly sourceQueueUrl: string;
  readonly ledgerTable: string;
  readonly ledgerTtlDays: number;
  /** How long a claim holds: at least the worst-case call time plus the ledger's writes (derived, see leaseFloorSeconds). */
  readonly leaseSeconds: number;
  /** The longest one retry call can take, every in-call retry and the 401 path included, in ms. */
  readonly worstCaseCallMs: number;
  /** Clock difference allowed between this function and Workspace when looking for a lost retry's run. */
  readonly clockSkewSeconds: number;
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

/** Backoff between in-call retries is at most this (lib/ways-in/runtime.ts builds the client with it). */
export const IN_CALL_BACKOFF_CAP_MS = 2_000;
/** Time allowed for reading the secret again after a 401, and for the ledger's writes around a call. */
const REFRESH_ALLOWANCE_MS = 5_000;
const LEDGER_ALLOWANCE_MS = 5_000;

/**
 * The longest one retry can take: every request timing out, with the backoff
 * between in-call retries, twice over on the 401 path (a refresh of the secret
 * and one more call), plus the secret's refetch.
 */
export function worstCaseCallMs(timeoutMs: number, inCallRetries: number): number {
  return 2 * (timeoutMs * (1 + inCallRetries) + inCallRetries * IN_CALL_BACKOFF_CAP_MS) + REFRESH_ALLOWANCE_MS;
}

/** The shortest lease that outlives the call it guards and the writes around it. */
export function leaseFloorSeconds(worstCaseMs: number): number {
  return Math.ceil((worstCaseMs + LEDGER_ALLOWANCE_MS) / 1000);
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
  const workspaceTimeoutMs = integer(env, 'WORKSPACE_TIMEOUT_MS', 3_000, 100, 60_000);
  const workspaceInCallRetries = integer(env, 'WORKSPACE_IN_CALL_RETRIES', 1, 0, 5);
  const worstCase = worstCaseCallMs(workspaceTimeoutMs, workspaceInCallRetries);
  const floor = leaseFloorSeconds(worstCase);
  const leaseSeconds = integer(env, 'LEDGER_LEASE_SECONDS', Math.max(60, floor), 1, 3600);
  if (leaseSeconds < floor) {
    throw new ConfigError(
      `LEDGER_LEASE_SECONDS must be at least ${floor}: a call can take ${Math.ceil(worstCase / 1000)} s (WORKSPACE_TIMEOUT_MS ${workspaceTimeoutMs} × (1 + WORKSPACE_IN_CALL_RETRIES ${workspaceInCallRetries}) with backoff, twice on the 401 path), got ${leaseSeconds}`,
    );
  }
  return {
    defaultRegion,
    endpoints,
    credentialsSecretId: required(env, 'CREDENTIALS_SECRET_ID'),
    credentialsCacheTtlSeconds: integer(env, 'CREDENTIALS_CACHE_TTL_SECONDS', 300, 1, 86_400),
    deadLetterQueueUrl: queueUrl(env, 'DLQ_URL', true)!,
    sourceQueueUrl: queueUrl(env, 'SOURCE_QUEUE_URL', true)!,
    ledgerTable: required(env, 'LEDGER_TABLE'),
    ledgerTtlDays: integer(env, 'LEDGER_TTL_DAYS', 30, 1, 3650),
    leaseSeconds,
    worstCaseCallMs: worstCase,
    clockSkewSeconds: integer(env, 'CLOCK_SKEW_SECONDS', 120, 0, 900),
    maxConcurrency: integer(env, 'MAX_CONCURRENCY', 10, 1, 100),
    policy,
    dryRun: boolean(env, 'DRY_RUN', false) || policy.dryRun,
    retriesEnabled: boolean(env, 'RETRIES_ENABLED', true),
    workspaceTimeoutMs,
    workspaceInCallRetries,
    breakerFailures: integer(env, 'BREAKER_FAILURES', 5, 1, 100),
    breakerCooldownSeconds: integer(env, 'BREAKER_COOLDOWN_SECONDS', 30, 1, 3600),
    authCooldownSeconds: integer(env, 'AUTH_COOLDOWN_SECONDS', 300, 1, 86_400),
    errorThreshold: integer(env, 'ERROR_THRESHOLD_PERCENT', 50, 1, 100) / 100,
    errorThresholdMinCalls: integer(env, 'ERROR_THRESHOLD_MIN_CALLS', 5, 1, 1000),
  };
}
