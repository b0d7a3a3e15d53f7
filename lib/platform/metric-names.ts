/**
 * The names of every custom metric the functions publish (EMF, namespace
 * POWERTOOLS_METRICS_NAMESPACE, default dimension `service`), in one place:
 * the code emits these, and the package test checks that every custom metric
 * on the dashboard and every alarm on a custom metric names one of them
 * (a widget over a metric nothing emits would show a flat line forever).
 */

/** Every custom metric's name, by the key the code uses. */
export const METRIC = {
  /** One per failure whose retry Workspace accepted. */
  retried: 'Retried',
  /** One per failure given up on and sent to the DLQ with its reason. */
  deadLettered: 'DeadLettered',
  /** One per failure put off: re-enqueued with a delay, or left for SQS to redeliver. */
  deferred: 'Deferred',
  /** One per event whose failure was already retried, dead-lettered or in flight. */
  duplicate: 'Duplicate',
  /** One per decision made in a dry run (nothing called). */
  previewed: 'Previewed',
  /**
   * One per event whose run did not fail (SUCCESS, SKIP, RUNNING, …): acknowledged with a log line, never
   * dead-lettered.
   */
  notFailed: 'NotFailed',
  /** One per Workspace call that failed, with dimension ErrorCode. */
  apiError: 'ApiError',
  /** One each time an endpoint's circuit opens, including each failed probe while Workspace stays down. */
  circuitOpened: 'CircuitOpened',
  /** One per start (os-start) sent to a desktop that a retry waits for (a policy rule's `desktop.wake`). */
  desktopWoken: 'DesktopWoken',
  /**
   * One per failure event whose desktop could not take the script when its retry was due: deferred, given up, or its
   * desktop started; no attempt spent.
   */
  desktopNotReady: 'DesktopNotReady',
  /** The sweep's count per project and outcome (dimensions ProjectId, Outcome), once per sweep run. */
  sweepRecords: 'SweepRecords',
  /**
   * One per configuration problem that stops work: a cold start refused for a
   * bad variable, the Workspace keys or the webhook token unreadable, a kill
   * switch that cannot be read. Always logged at ERROR with the same words.
   */
  configurationError: 'ConfigurationError',
  /** The ingress: events put on the failure queue. */
  ingressEnqueued: 'IngressEnqueued',
  /**
   * The ingress: requests refused with a 4xx (signature, topic, token, malformed); nothing was queued and the sender
   * does not retry.
   */
  ingressRefused: 'IngressRefused',
  /**
   * The ingress: requests answered with a 5xx (certificate host, queue or token secret unreachable); the sender
   * retries.
   */
  ingressUnavailable: 'IngressUnavailable',
} as const;

/** The name of one custom metric. */
export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** The metric dimensions' names, by the key the code uses. */
export const DIMENSION = {
  /** Powertools' default dimension: POWERTOOLS_SERVICE_NAME. */
  service: 'service',
  errorCode: 'ErrorCode',
  projectId: 'ProjectId',
  /** seen, retried, dead-lettered, deferred, duplicate, previewed, not-failed. */
  outcome: 'Outcome',
} as const;

/** Every custom metric name, for checks that a dashboard or alarm names one. */
export const METRIC_NAMES: ReadonlySet<string> = new Set(Object.values(METRIC));
