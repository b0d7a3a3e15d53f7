/**
 * One logger and one metrics instance per container (Powertools). The logger
 * redacts credential-shaped fields whatever a future log line passes it.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DIMENSION, METRIC } from './metric-names.js';

const SECRET_KEYS =
  /^(ak|sk|secret|secret_?string|security_?token|x-security-token|authorization|signature|password|access_?key|secret_?key)$/i;
const SIGNATURE_IN_TEXT = /(Signature=)[0-9a-f]{16,}/gi;
const ACCESS_IN_TEXT = /(Access=)[^,\s]+/g;

/** JSON replacer for every log line: drops values under secret-looking keys and scrubs signed headers. */
export function redactSecrets(key: string, value: unknown): unknown {
  if (SECRET_KEYS.test(key)) return '[REDACTED]';
  // Both patterns hold an "=": a value without one has nothing to scrub (most values: ids, words, times).
  if (typeof value === 'string' && value.includes('='))
    return value.replace(SIGNATURE_IN_TEXT, '$1[REDACTED]').replace(ACCESS_IN_TEXT, '$1[REDACTED]');
  return value;
}

/** The container's logger; credential-shaped fields are redacted (redactSecrets). */
export const logger = new Logger({
  serviceName: process.env['POWERTOOLS_SERVICE_NAME'] ?? 'workspace-script-retry',
  jsonReplacerFn: redactSecrets,
});

/** The container's metrics (EMF); the names it publishes are in lib/platform/metric-names.ts. */
export const metrics = new Metrics({
  namespace: process.env['POWERTOOLS_METRICS_NAMESPACE'] ?? 'WorkspaceScriptRetry',
  serviceName: process.env['POWERTOOLS_SERVICE_NAME'] ?? 'workspace-script-retry',
});

const OUTCOME_METRIC = {
  retried: METRIC.retried,
  'dead-lettered': METRIC.deadLettered,
  deferred: METRIC.deferred,
  duplicate: METRIC.duplicate,
  previewed: METRIC.previewed,
  'not-failed': METRIC.notFailed,
} as const;

/** Counts one failure's outcome. */
export function countOutcome(kind: keyof typeof OUTCOME_METRIC): void {
  metrics.addMetric(OUTCOME_METRIC[kind], MetricUnit.Count, 1);
}

const DESKTOP_METRIC = { woken: METRIC.desktopWoken, 'not-ready': METRIC.desktopNotReady } as const;

/**
 * The desktop check before a retry: a start sent, or a failure held back because its desktop could not take the script.
 */
export function countDesktop(kind: keyof typeof DESKTOP_METRIC): void {
  metrics.addMetric(DESKTOP_METRIC[kind], MetricUnit.Count, 1);
}

/** One metric per Workspace error code, as its own EMF line (a dimension per code). */
export function countApiError(code: string): void {
  const single = metrics.singleMetric();
  single.addDimension(DIMENSION.errorCode, code);
  single.addMetric(METRIC.apiError, MetricUnit.Count, 1);
}

/** What one sweep run did for one project (the sweep's per-project summary). */
export type SweepCounts = { readonly projectId: string; readonly seen: number } & {
  readonly [K in keyof typeof OUTCOME_METRIC]: number;
};

/**
 * The sweep's per-project counts, one EMF line per outcome (dimensions
 * ProjectId and Outcome), zeros included so a run that found nothing still
 * shows on the dashboard.
 */
export function countSweepProject(counts: SweepCounts): void {
  for (const outcome of ['seen', ...Object.keys(OUTCOME_METRIC)] as const) {
    const single = metrics.singleMetric();
    single.addDimensions({ [DIMENSION.projectId]: counts.projectId, [DIMENSION.outcome]: outcome });
    single.addMetric(METRIC.sweepRecords, MetricUnit.Count, counts[outcome as keyof SweepCounts] as number);
  }
}

/**
 * A configuration or secret problem that stops work (a bad variable at cold
 * start, the keys or the webhook token unreadable, the kill switch unreadable):
 * one ERROR line saying what and why, and one ConfigurationError metric,
 * published at once because it may be a failing cold start's last word.
 * `error` is a message that names the variable or the secret, never a value.
 */
export function reportConfigurationError(what: string, error: unknown): void {
  logger.error(what, { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  metrics.singleMetric().addMetric(METRIC.configurationError, MetricUnit.Count, 1);
}

/**
 * What the configuration loaders throw (lib/platform/env-schema.ts, lib/policy/policy-config.ts), by name: platform
 * imports neither layer.
 */
const CONFIGURATION_ERRORS: ReadonlySet<string> = new Set(['ConfigError', 'PolicyConfigError']);

/**
 * Runs a function's cold-start configuration: a value it refuses is reported
 * (reportConfigurationError) before the error ends the cold start, so a
 * broken deploy pages instead of only failing invocations. Any other error
 * ends the cold start as it is (the function-errors alarm sees it).
 */
export function atColdStart<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (CONFIGURATION_ERRORS.has((error as Error).name))
      reportConfigurationError(
        'configuration refused at cold start: the function cannot start until it is fixed',
        error,
      );
    throw error;
  }
}

const INGRESS_METRIC = {
  enqueued: METRIC.ingressEnqueued,
  refused: METRIC.ingressRefused,
  unavailable: METRIC.ingressUnavailable,
} as const;

/** The ingress's count for one answer: events queued, or one refused or unavailable request. */
export function countIngress(kind: keyof typeof INGRESS_METRIC, count = 1): void {
  metrics.addMetric(INGRESS_METRIC[kind], MetricUnit.Count, count);
}
