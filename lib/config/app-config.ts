import { ConfigError, type Env, excerpt, flag, readEnv, required, url, wholeNumber } from '../platform/env-schema.js';
import * as v from '../platform/valibot.js';
import { loadPolicy, type RetryPolicy } from '../policy/policy-config.js';
import { type EndpointOverrides, parseEndpointOverrides, validateRegion } from '../workspace/endpoints.js';

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
  /**
   * How long a claim holds: at least the worst-case call time plus the ledger's writes (derived, see
   * leaseFloorSeconds).
   */
  readonly leaseSeconds: number;
  /** The longest one retry call can take, every in-call retry and the 401 path included, in ms. */
  readonly worstCaseCallMs: number;
  /** Clock difference allowed between this function and Workspace when looking for a lost retry's run. */
  readonly clockSkewSeconds: number;
  readonly maxConcurrency: number;
  readonly policy: RetryPolicy;
  /** Global dry run: decide and describe, call nothing. RETRY_POLICY's dry_run or DRY_RUN. */
  readonly dryRun: boolean;
  /**
   * Kill switch: false defers every failure without calling Workspace. RETRIES_ENABLED, or per invocation the SSM
   * parameter below (lib/config/kill-switch.ts).
   */
  readonly retriesEnabled: boolean;
  /** The SSM parameter that holds the kill switch when deployed; undefined: RETRIES_ENABLED alone. */
  readonly retriesEnabledParameter?: string | undefined;
  /** How long a container keeps the parameter's value before reading it again. */
  readonly retriesEnabledMaxAgeSeconds?: number | undefined;
  readonly workspaceTimeoutMs: number;
  readonly workspaceInCallRetries: number;
  readonly breakerFailures: number;
  readonly breakerCooldownSeconds: number;
  readonly authCooldownSeconds: number;
  /** Failed share of an invocation's calls (0–1) above which it stops calling. */
  readonly errorThreshold: number;
  readonly errorThresholdMinCalls: number;
}

// https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-parameter-name-constraints.html
const SSM_PARAMETER_NAME = /^(?:(?:\/[A-Za-z0-9_.-]+)+|[A-Za-z0-9_.-]+)$/;

/** Every variable the functions read, with its default and accepted range (docs/configuration.md). */
const appEnv = v.object({
  WORKSPACE_REGION: required(),
  WORKSPACE_ENDPOINTS: v.optional(v.string()),
  RETRY_POLICY: v.optional(v.string()),
  CREDENTIALS_SECRET_ID: required(),
  CREDENTIALS_CACHE_TTL_SECONDS: v.optional(wholeNumber(1, 86_400), '300'),
  DLQ_URL: url('a queue URL'),
  SOURCE_QUEUE_URL: url('a queue URL'),
  LEDGER_TABLE: required(),
  LEDGER_TTL_DAYS: v.optional(wholeNumber(1, 3650), '30'),
  // Its default and its floor come from the worst-case call: see loadConfig.
  LEDGER_LEASE_SECONDS: v.optional(wholeNumber(1, 3600)),
  CLOCK_SKEW_SECONDS: v.optional(wholeNumber(0, 900), '120'),
  MAX_CONCURRENCY: v.optional(wholeNumber(1, 100), '10'),
  DRY_RUN: v.optional(flag(), 'false'),
  RETRIES_ENABLED: v.optional(flag(), 'true'),
  RETRIES_ENABLED_PARAMETER: v.optional(
    v.pipe(
      v.string(),
      v.regex(
        SSM_PARAMETER_NAME,
        (issue) =>
          `must be an SSM parameter name (letters, digits, "_", ".", "-", "/" and a leading "/" for a path), got ${excerpt(issue.input)}`,
      ),
    ),
  ),
  RETRIES_ENABLED_MAX_AGE_SECONDS: v.optional(wholeNumber(0, 300), '30'),
  WORKSPACE_TIMEOUT_MS: v.optional(wholeNumber(100, 60_000), '3000'),
  WORKSPACE_IN_CALL_RETRIES: v.optional(wholeNumber(0, 5), '1'),
  BREAKER_FAILURES: v.optional(wholeNumber(1, 100), '5'),
  BREAKER_COOLDOWN_SECONDS: v.optional(wholeNumber(1, 3600), '30'),
  AUTH_COOLDOWN_SECONDS: v.optional(wholeNumber(1, 86_400), '300'),
  ERROR_THRESHOLD_PERCENT: v.optional(wholeNumber(1, 100), '50'),
  ERROR_THRESHOLD_MIN_CALLS: v.optional(wholeNumber(1, 1000), '5'),
});

/** Every variable the queue function, the sweep and the console read (the sweep also reads SWEEP_VARIABLES). */
export const APP_VARIABLES: readonly string[] = Object.keys(appEnv.entries);

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
  const vars = readEnv(appEnv, env);
  let endpoints: EndpointOverrides;
  try {
    endpoints = parseEndpointOverrides(vars.WORKSPACE_ENDPOINTS);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const regionProblem = validateRegion(vars.WORKSPACE_REGION, endpoints);
  if (regionProblem) throw new ConfigError(`WORKSPACE_REGION: ${regionProblem}`);
  const policy = loadPolicy(vars.RETRY_POLICY);
  const { WORKSPACE_TIMEOUT_MS: workspaceTimeoutMs, WORKSPACE_IN_CALL_RETRIES: workspaceInCallRetries } = vars;
  const worstCase = worstCaseCallMs(workspaceTimeoutMs, workspaceInCallRetries);
  const floor = leaseFloorSeconds(worstCase);
  const leaseSeconds = vars.LEDGER_LEASE_SECONDS ?? Math.max(60, floor);
  if (leaseSeconds < floor) {
    throw new ConfigError(
      `LEDGER_LEASE_SECONDS must be at least ${floor}: a call can take ${Math.ceil(worstCase / 1000)} s (WORKSPACE_TIMEOUT_MS ${workspaceTimeoutMs} × (1 + WORKSPACE_IN_CALL_RETRIES ${workspaceInCallRetries}) with backoff, twice on the 401 path), got ${leaseSeconds}`,
    );
  }
  return {
    defaultRegion: vars.WORKSPACE_REGION,
    endpoints,
    credentialsSecretId: vars.CREDENTIALS_SECRET_ID,
    credentialsCacheTtlSeconds: vars.CREDENTIALS_CACHE_TTL_SECONDS,
    deadLetterQueueUrl: vars.DLQ_URL,
    sourceQueueUrl: vars.SOURCE_QUEUE_URL,
    ledgerTable: vars.LEDGER_TABLE,
    ledgerTtlDays: vars.LEDGER_TTL_DAYS,
    leaseSeconds,
    worstCaseCallMs: worstCase,
    clockSkewSeconds: vars.CLOCK_SKEW_SECONDS,
    maxConcurrency: vars.MAX_CONCURRENCY,
    policy,
    dryRun: vars.DRY_RUN || policy.dryRun,
    retriesEnabled: vars.RETRIES_ENABLED,
    retriesEnabledParameter: vars.RETRIES_ENABLED_PARAMETER,
    retriesEnabledMaxAgeSeconds: vars.RETRIES_ENABLED_MAX_AGE_SECONDS,
    workspaceTimeoutMs,
    workspaceInCallRetries,
    breakerFailures: vars.BREAKER_FAILURES,
    breakerCooldownSeconds: vars.BREAKER_COOLDOWN_SECONDS,
    authCooldownSeconds: vars.AUTH_COOLDOWN_SECONDS,
    errorThreshold: vars.ERROR_THRESHOLD_PERCENT / 100,
    errorThresholdMinCalls: vars.ERROR_THRESHOLD_MIN_CALLS,
  };
}
