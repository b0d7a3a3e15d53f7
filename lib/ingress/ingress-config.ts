import { commaList, type Env, excerpt, type RawVariables, readEnv, url, wholeNumber } from '../platform/env-schema.js';
import * as v from '../platform/valibot.js';
import { type HostRule, parseHostRule } from './host-rules.js';

/**
 * The ingress function's configuration, read once at cold start. A bad value
 * stops the cold start with the variable's name, so nothing is accepted under
 * a half-understood trust configuration. Defaults and their sources are in
 * docs/ingress.md.
 */
export interface IngressConfig {
  /** The failure queue the queue function reads (FAILURE_QUEUE_URL). */
  readonly queueUrl: string;
  /** SMN topics whose deliveries are accepted (TRUSTED_TOPIC_URNS); empty for a webhook-only ingress. */
  readonly trustedTopicUrns: ReadonlySet<string>;
  /** Hosts signing certificates may be fetched from (SMN_CERT_HOSTS). */
  readonly certHosts: readonly HostRule[];
  /** Hosts a subscribe_url may point at before we GET it (SMN_CONFIRM_HOSTS). */
  readonly confirmHosts: readonly HostRule[];
  /** Oldest SMN timestamp accepted, in seconds (SMN_MAX_AGE_SECONDS). */
  readonly maxAgeSeconds: number;
  /** How far in the future an SMN timestamp may be, for clock skew (SMN_CLOCK_SKEW_SECONDS). */
  readonly clockSkewSeconds: number;
  /** Time allowed for one certificate download or confirmation GET (SMN_FETCH_TIMEOUT_MS). */
  readonly fetchTimeoutMs: number;
  /**
   * Secrets Manager secret holding the webhook bearer token; without it webhooks are refused (INGRESS_TOKEN_SECRET_ID).
   */
  readonly tokenSecretId: string | undefined;
  /** Lower-case name of the header carrying the token (INGRESS_TOKEN_HEADER). */
  readonly tokenHeader: string;
  readonly tokenCacheTtlSeconds: number;
}

/**
 * SMN serves signing certificates from smn.<region>.myhuaweicloud.com (docs/ingress.md, "Certificate and confirmation
 * hosts").
 */
export const DEFAULT_CERT_HOSTS = 'smn.*.myhuaweicloud.com';
/**
 * Subscription-confirmation links point at Huawei's console (docs/ingress.md, "Certificate and confirmation hosts").
 */
export const DEFAULT_CONFIRM_HOSTS = 'console.huaweicloud.com,console-intl.huaweicloud.com';

// urn:smn:<region>:<project_id>:<topic name>; SMN topic names are letters, digits, "-" and "_" (up to 255).
const TOPIC_URN = /^urn:smn:[a-z0-9-]{1,64}:[A-Za-z0-9]{1,64}:[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/;
const HEADER_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

const hostRule = v.pipe(
  v.string(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const rule = parseHostRule(dataset.value);
    if (rule) return rule;
    addIssue({
      message: `${excerpt(dataset.value, 80)} is not a host name (letters, digits, "-", "." and "*" for one label, optional :port)`,
    });
    return NEVER;
  }),
);

const ingressEnv = v.object({
  FAILURE_QUEUE_URL: url('a queue URL'),
  // Optional for a webhook-only ingress; loadIngressConfig wants it or a token secret.
  TRUSTED_TOPIC_URNS: v.optional(
    commaList(
      v.pipe(
        v.string(),
        v.regex(
          TOPIC_URN,
          (issue) => `${excerpt(issue.input, 80)} is not an SMN topic URN (urn:smn:<region>:<project_id>:<topic>)`,
        ),
      ),
    ),
  ),
  SMN_CERT_HOSTS: v.optional(commaList(hostRule), DEFAULT_CERT_HOSTS),
  SMN_CONFIRM_HOSTS: v.optional(commaList(hostRule), DEFAULT_CONFIRM_HOSTS),
  SMN_MAX_AGE_SECONDS: v.optional(wholeNumber(60, 7 * 86_400), '86400'),
  SMN_CLOCK_SKEW_SECONDS: v.optional(wholeNumber(0, 3_600), '300'),
  SMN_FETCH_TIMEOUT_MS: v.optional(wholeNumber(100, 4_000), '2000'),
  INGRESS_TOKEN_SECRET_ID: v.optional(v.string()),
  INGRESS_TOKEN_HEADER: v.optional(
    v.pipe(
      v.string(),
      v.toLowerCase(),
      v.check(
        (name) => HEADER_NAME.test(name) && !name.startsWith('x-smn-'),
        (issue) => `must be an HTTP header name (not an X-SMN- one), got ${excerpt(issue.input)}`,
      ),
    ),
    'authorization',
  ),
  INGRESS_TOKEN_CACHE_TTL_SECONDS: v.optional(wholeNumber(1, 86_400), '300'),
});

/** The ingress trusts SMN topics, a webhook token, or both. */
function trustsSomething(raw: RawVariables): string | undefined {
  if (raw['TRUSTED_TOPIC_URNS'] !== undefined || raw['INGRESS_TOKEN_SECRET_ID'] !== undefined) return undefined;
  return 'TRUSTED_TOPIC_URNS is required unless INGRESS_TOKEN_SECRET_ID is set: the ingress trusts SMN topics, a webhook token, or both';
}

/** Every variable the ingress reads. */
export const INGRESS_VARIABLES: readonly string[] = Object.keys(ingressEnv.entries);

/**
 * Reads the ingress function's configuration from the environment; throws a ConfigError naming every variable that
 * cannot be used.
 */
export function loadIngressConfig(env: Env = process.env): IngressConfig {
  const vars = readEnv(ingressEnv, env, trustsSomething);
  return {
    queueUrl: vars.FAILURE_QUEUE_URL,
    trustedTopicUrns: new Set(vars.TRUSTED_TOPIC_URNS ?? []),
    certHosts: vars.SMN_CERT_HOSTS,
    confirmHosts: vars.SMN_CONFIRM_HOSTS,
    maxAgeSeconds: vars.SMN_MAX_AGE_SECONDS,
    clockSkewSeconds: vars.SMN_CLOCK_SKEW_SECONDS,
    fetchTimeoutMs: vars.SMN_FETCH_TIMEOUT_MS,
    tokenSecretId: vars.INGRESS_TOKEN_SECRET_ID,
    tokenHeader: vars.INGRESS_TOKEN_HEADER,
    tokenCacheTtlSeconds: vars.INGRESS_TOKEN_CACHE_TTL_SECONDS,
  };
}
