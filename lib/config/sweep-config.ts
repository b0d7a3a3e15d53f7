import { SAFE_ID } from '../events/identifiers.js';
import { ConfigError, type Env, jsonValue, readEnv, wholeNumber } from '../platform/env-schema.js';
import * as v from '../platform/valibot.js';
import { type EndpointOverrides, validateRegion } from '../workspace/endpoints.js';
import { worstCaseCallMs } from './app-config.js';

/** What the scheduled sweep looks at, from SWEEP_PROJECTS and friends, validated at cold start. */
export interface SweepConfig {
  readonly projects: ReadonlyArray<{ readonly projectId: string; readonly region?: string | undefined }>;
  /** The first sweep of a project looks back this far. */
  readonly lookbackMinutes: number;
  /**
   * Each window starts this long before the last watermark, so records that failed late are still seen (the ledger
   * drops the repeats).
   */
  readonly overlapMinutes: number;
  /** Stop this long before the function's time runs out. */
  readonly safetyMarginMs: number;
}

const sweepEnv = v.object({
  SWEEP_PROJECTS: jsonValue(
    v.pipe(
      v.array(
        v.strictObject({
          project_id: v.pipe(v.string(), v.regex(SAFE_ID, 'must be a safe id')),
          region: v.optional(v.string()),
        }),
        'must be a JSON list of {"project_id","region"?}',
      ),
      v.maxLength(100, 'must list at most 100 projects'),
    ),
    'is required: a JSON list of {"project_id","region"?}',
  ),
  SWEEP_LOOKBACK_MINUTES: v.optional(wholeNumber(1, 10_080), '60'),
  SWEEP_OVERLAP_MINUTES: v.optional(wholeNumber(1, 1_440), '30'),
  SWEEP_SAFETY_SECONDS: v.optional(wholeNumber(1, 600), '10'),
});

/** Every variable the sweep reads besides APP_VARIABLES. */
export const SWEEP_VARIABLES: readonly string[] = Object.keys(sweepEnv.entries);

/**
 * `worstCaseMs` is the worst-case retry call (lib/config/app-config.ts): the sweep never
 * starts a record with less than that plus the ledger's writes left, whatever
 * SWEEP_SAFETY_SECONDS says (a call cut off mid-way is a holder that died).
 */
export function loadSweepConfig(
  env: Env,
  endpoints: EndpointOverrides,
  worstCaseMs = worstCaseCallMs(3_000, 1),
): SweepConfig {
  const vars = readEnv(sweepEnv, env);
  vars.SWEEP_PROJECTS.forEach((p, i) => {
    const problem = p.region === undefined ? undefined : validateRegion(p.region, endpoints);
    if (problem) throw new ConfigError(`SWEEP_PROJECTS[${i}].region: ${problem}`);
  });
  return {
    projects: vars.SWEEP_PROJECTS.map((p) => ({ projectId: p.project_id, region: p.region })),
    lookbackMinutes: vars.SWEEP_LOOKBACK_MINUTES,
    overlapMinutes: vars.SWEEP_OVERLAP_MINUTES,
    safetyMarginMs: Math.max(vars.SWEEP_SAFETY_SECONDS * 1000, worstCaseMs + 5_000),
  };
}
