import { ConfigError } from '../config/app-config.js';
import { parseHostRule, type HostRule } from './host-rules.js';

/**
 * The ingress function's configuration, read once at cold start. A bad value
 * stops the cold start with the variable's name, so nothing is accepted under
 * a half-understood trust configuration. Defaults and their sources are in
 * docs/ingress.md.
 */
export interface IngressConfig {
  /** The failure queue the queue function reads (FAILURE_QUEUE_URL). */
  readonly queueUrl: string;
  /** SMN topics whose deliveries are accepted (TRUSTED_TOPIC_URNS). */
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
  /** Secrets Manager secret holding the webhook bearer token; without it webhooks are refused (INGRESS_TOKEN_SECRET_ID). */
  readonly tokenSecretId: string | undefined;
  /** Lower-case name of the header carrying the token (INGRESS_TOKEN_HEADER). */
  readonly tokenHeader: string;
  readonly tokenCacheTtlSeconds: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/** SMN serves signing certificates from smn.<region>.myhuaweicloud.com (docs/ingress.md, "Certificate and confirmation hosts"). */
export const DEFAULT_CERT_HOSTS = 'smn.*.myhuaweicloud.com';
/** Subscription-confirmation links point at Huawei's console (docs/ingress.md, "Certificate and confirmation hosts"). */
export const DEFAULT_CONFIRM_HOSTS = 'console.huaweicloud.com,console-intl.huaweicloud.com';

// urn:smn:<region>:<project_id>:<topic name>; SMN topic names are letters, digits, "-" and "_" (up to 255).
const TOPIC_URN = /^urn:smn:[a-z0-9-]{1,64}:[A-Za-z0-9]{1,64}:[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/;
const HEADER_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function list(env: Env, name: string, fallback?: string): string[] {
  const raw = text(env, name) ?? fallback;
  if (raw === undefined) throw new ConfigError(`${name} is required`);
  const items = raw.split(',').map((item) => item.trim()).filter(Boolean);
  if (items.length === 0) throw new ConfigError(`${name} must list at least one value`);
  return items;
}

function hostRules(env: Env, name: string, fallback: string): HostRule[] {
  return list(env, name, fallback).map((item) => {
    const rule = parseHostRule(item);
    if (!rule) throw new ConfigError(`${name}: ${JSON.stringify(item.slice(0, 80))} is not a host name (letters, digits, "-", "." and "*" for one label, optional :port)`);
    return rule;
  });
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be a whole number between ${min} and ${max}, got ${JSON.stringify(raw.slice(0, 40))}`);
  }
  return Number(raw);
}

export function loadIngressConfig(env: Env = process.env): IngressConfig {
  const queueUrl = text(env, 'FAILURE_QUEUE_URL');
  if (!queueUrl) throw new ConfigError('FAILURE_QUEUE_URL is required');
  if (!URL.canParse(queueUrl)) throw new ConfigError(`FAILURE_QUEUE_URL must be a queue URL, got ${JSON.stringify(queueUrl.slice(0, 80))}`);
  const topics = list(env, 'TRUSTED_TOPIC_URNS');
  topics.forEach((urn, i) => {
    if (!TOPIC_URN.test(urn)) throw new ConfigError(`TRUSTED_TOPIC_URNS[${i}]: ${JSON.stringify(urn.slice(0, 80))} is not an SMN topic URN (urn:smn:<region>:<project_id>:<topic>)`);
  });
  const tokenHeader = (text(env, 'INGRESS_TOKEN_HEADER') ?? 'authorization').toLowerCase();
  if (!HEADER_NAME.test(tokenHeader) || tokenHeader.startsWith('x-smn-')) {
    throw new ConfigError(`INGRESS_TOKEN_HEADER must be an HTTP header name (not an X-SMN- one), got ${JSON.stringify(tokenHeader.slice(0, 40))}`);
  }
  return {
    queueUrl,
    trustedTopicUrns: new Set(topics),
    certHosts: hostRules(env, 'SMN_CERT_HOSTS', DEFAULT_CERT_HOSTS),
    confirmHosts: hostRules(env, 'SMN_CONFIRM_HOSTS', DEFAULT_CONFIRM_HOSTS),
    maxAgeSeconds: integer(env, 'SMN_MAX_AGE_SECONDS', 86_400, 60, 7 * 86_400),
    clockSkewSeconds: integer(env, 'SMN_CLOCK_SKEW_SECONDS', 300, 0, 3_600),
    fetchTimeoutMs: integer(env, 'SMN_FETCH_TIMEOUT_MS', 2_000, 100, 4_000),
    tokenSecretId: text(env, 'INGRESS_TOKEN_SECRET_ID'),
    tokenHeader,
    tokenCacheTtlSeconds: integer(env, 'INGRESS_TOKEN_CACHE_TTL_SECONDS', 300, 1, 86_400),
  };
}
