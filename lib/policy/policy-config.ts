/**
 * The retry policy as operators write it (snake_case JSON in RETRY_POLICY, or
 * the bundled default-policy.json), validated once at cold start (the
 * default once in CI, see defaultPolicy).
 */

import { SAFE_ID } from '../events/identifiers.js';
import * as v from '../platform/valibot.js';
import defaultPolicyJson from './default-policy.json' with { type: 'json' };

/** A whole number from `min` to `max`. */
const whole = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

/**
 * The schemas are built on first use, not at import: building schemas
 * costs cold-start CPU, and a function that runs the bundled default policy
 * (RETRY_POLICY unset) never needs them (see loadPolicy).
 */
function buildSchemas() {
  const matchList = v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(200))), v.maxLength(100));

  const desktopSchema = v.strictObject({
    require: v.optional(v.picklist(['active', 'registered']), 'registered'),
    wake: v.optional(v.boolean(), false),
    wait_max_seconds: v.optional(whole(10, 86_400), 1_800),
    on_error: v.optional(v.picklist(['give-up', 'wait']), 'give-up'),
    recheck_seconds: v.optional(whole(1, 900), 60),
  });

  const ruleSchema = v.pipe(
    v.strictObject({
      id: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be lower-case letters, digits and "-"')),
      verdict: v.picklist(['retry', 'give-up']),
      description: v.optional(v.pipe(v.string(), v.maxLength(500))),
      result_codes: v.optional(matchList),
      reason_contains: v.optional(matchList),
      statuses: v.optional(matchList),
      delay_seconds: v.optional(whole(0, 86_400)),
      desktop: v.optional(desktopSchema),
    }),
    v.check(
      (rule) => Boolean(rule.result_codes?.length || rule.reason_contains?.length || rule.statuses?.length),
      'a rule needs result_codes, reason_contains or statuses to match on',
    ),
  );

  const overrideSchema = v.strictObject({
    max_attempts: v.optional(whole(0, 100)),
    max_age_seconds: v.optional(whole(60, 30 * 86_400)),
    retries_enabled: v.optional(v.boolean()),
    rules: v.optional(v.pipe(v.array(ruleSchema), v.maxLength(100))),
    desktop: v.optional(desktopSchema),
  });

  const idMap = v.record(v.pipe(v.string(), v.regex(SAFE_ID, 'keys must be safe ids')), overrideSchema);

  const policySchema = v.strictObject({
    max_attempts: v.optional(whole(0, 100), 3),
    max_age_seconds: v.optional(whole(60, 30 * 86_400), 86_400),
    backoff: v.optional(v.strictObject({ base_seconds: whole(1, 3_600), max_seconds: whole(1, 86_400) }), {
      base_seconds: 60,
      max_seconds: 3_600,
    }),
    dry_run: v.optional(v.boolean(), false),
    default_verdict: v.optional(v.picklist(['retry', 'give-up']), 'give-up'),
    rules: v.optional(v.pipe(v.array(ruleSchema), v.maxLength(200)), []),
    projects: v.optional(idMap, {}),
    scripts: v.optional(idMap, {}),
  });
  return { ruleSchema, overrideSchema, policySchema };
}

let schemas: ReturnType<typeof buildSchemas> | undefined;
const policySchemas = () => (schemas ??= buildSchemas());

/** The policy document's schema as operators write it; docs/retry-policy.schema.json is generated from it. */
export const retryPolicySchema = () => policySchemas().policySchema;

/** One rule: the first whose codes, reason substrings or statuses match decides. */
export interface PolicyRule {
  readonly id: string;
  readonly verdict: 'retry' | 'give-up';
  readonly description?: string | undefined;
  readonly resultCodes: readonly string[];
  /** Lower-cased substrings of the failure reason. */
  readonly reasonContains: readonly string[];
  readonly statuses: readonly string[];
  /** Wait this long after the failure before the first retry (a desktop waking up). */
  readonly delaySeconds: number;
  /** Read the desktop's state before a retry this rule decides (docs/retry-policy.md, "Desktops"). */
  readonly desktop?: DesktopRequirement | undefined;
}

/**
 * What a retry needs of its desktop, read before the claim: how ready it
 * must be, whether a stopped or hibernated one is started, how long to wait
 * for it (from when it was first found not ready), what a desktop in ERROR
 * means, and how often to read it again while waiting.
 */
export interface DesktopRequirement {
  /** `active`: powered on, nothing in progress; `registered`: that, and its agent registered (it can take a script). */
  readonly require: 'active' | 'registered';
  readonly wake: boolean;
  readonly waitMaxSeconds: number;
  readonly onError: 'give-up' | 'wait';
  readonly recheckSeconds: number;
}

/** A per-project or per-script override: unset fields inherit. Its rules are tried first. */
export interface PolicyOverride {
  readonly maxAttempts?: number | undefined;
  readonly maxAgeSeconds?: number | undefined;
  readonly retriesEnabled?: boolean | undefined;
  readonly rules: readonly PolicyRule[];
  /** For the project's or script's retries whose rule names no `desktop` of its own. */
  readonly desktop?: DesktopRequirement | undefined;
}

/**
 * The validated retry policy: limits, backoff, dry run, the default verdict, the rules in order, and the overrides by
 * project and by script.
 */
export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly maxAgeSeconds: number;
  readonly backoffBaseSeconds: number;
  readonly backoffMaxSeconds: number;
  readonly dryRun: boolean;
  readonly defaultVerdict: 'retry' | 'give-up';
  readonly rules: readonly PolicyRule[];
  readonly projects: ReadonlyMap<string, PolicyOverride>;
  readonly scripts: ReadonlyMap<string, PolicyOverride>;
}

/** RETRY_POLICY (or the bundled default) cannot be used; the message names the field. */
export class PolicyConfigError extends Error {
  override readonly name = 'PolicyConfigError';
}

type Schemas = ReturnType<typeof buildSchemas>;
type RuleJson = v.InferOutput<Schemas['ruleSchema']>;
type OverrideJson = v.InferOutput<Schemas['overrideSchema']>;
type DesktopJson = NonNullable<RuleJson['desktop']>;

function toDesktop(desktop: DesktopJson | undefined): DesktopRequirement | undefined {
  if (!desktop) return undefined;
  return {
    require: desktop.require,
    wake: desktop.wake,
    waitMaxSeconds: desktop.wait_max_seconds,
    onError: desktop.on_error,
    recheckSeconds: desktop.recheck_seconds,
  };
}
type PolicyJson = v.InferOutput<Schemas['policySchema']>;

function toRule(rule: RuleJson): PolicyRule {
  return {
    id: rule.id,
    verdict: rule.verdict,
    description: rule.description,
    resultCodes: rule.result_codes ?? [],
    reasonContains: (rule.reason_contains ?? []).map((s) => s.toLowerCase()),
    statuses: (rule.statuses ?? []).map((s) => s.toUpperCase()),
    delaySeconds: rule.delay_seconds ?? 0,
    ...(rule.desktop ? { desktop: toDesktop(rule.desktop) } : {}),
  };
}

function toOverride(override: OverrideJson): PolicyOverride {
  return {
    maxAttempts: override.max_attempts,
    maxAgeSeconds: override.max_age_seconds,
    retriesEnabled: override.retries_enabled,
    rules: (override.rules ?? []).map(toRule),
    ...(override.desktop ? { desktop: toDesktop(override.desktop) } : {}),
  };
}

function describeIssues(source: string, issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => `${[source, ...v.issuePath(issue).map(String)].join('.')}: ${issue.message}`)
    .join('; ');
}

/** Validates a policy document; throws PolicyConfigError naming the bad field. */
export function parsePolicy(document: unknown, source = 'RETRY_POLICY'): RetryPolicy {
  const parsed = v.safeParse(policySchemas().policySchema, document);
  if (!parsed.success) throw new PolicyConfigError(describeIssues(source, parsed.issues));
  const p = parsed.output;
  if (p.backoff.max_seconds < p.backoff.base_seconds) {
    throw new PolicyConfigError(`${source}.backoff.max_seconds: must be at least base_seconds`);
  }
  return toPolicy(p);
}

function toPolicy(p: PolicyJson): RetryPolicy {
  return {
    maxAttempts: p.max_attempts,
    maxAgeSeconds: p.max_age_seconds,
    backoffBaseSeconds: p.backoff.base_seconds,
    backoffMaxSeconds: p.backoff.max_seconds,
    dryRun: p.dry_run,
    defaultVerdict: p.default_verdict,
    rules: p.rules.map(toRule),
    projects: new Map(Object.entries(p.projects).map(([id, o]) => [id, toOverride(o)])),
    scripts: new Map(Object.entries(p.scripts).map(([id, o]) => [id, toOverride(o)])),
  };
}

/**
 * The bundled default policy, with RETRY_POLICY's top-level fields laid over
 * it: `{"max_attempts": 5}` changes only that; `rules` replaces the default
 * rules when given.
 */
export function loadPolicy(json: string | undefined): RetryPolicy {
  if (json === undefined || json.trim() === '') return defaultPolicy();
  let document: unknown;
  try {
    document = JSON.parse(json);
  } catch (error) {
    throw new PolicyConfigError(`RETRY_POLICY: not valid JSON (${(error as Error).message})`);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new PolicyConfigError('RETRY_POLICY: must be a JSON object');
  }
  return parsePolicy({ ...defaultPolicyJson, ...document });
}

/**
 * The bundled default, read without validating it again at every cold start:
 * test/unit/policy-config.test.ts holds it equal to the validated parse, so
 * an edit to default-policy.json that the schema refuses fails CI instead.
 */
function defaultPolicy(): RetryPolicy {
  return toPolicy({ projects: {}, scripts: {}, ...(defaultPolicyJson as Omit<PolicyJson, 'projects' | 'scripts'>) });
}

/** The bundled default policy, as a document (for docs and for building variants in tests). */
export const DEFAULT_POLICY_DOCUMENT: unknown = defaultPolicyJson;
