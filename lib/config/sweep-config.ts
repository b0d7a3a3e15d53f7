import * as z from 'zod';
import { validateRegion, type EndpointOverrides } from '../workspace/endpoints.js';
import { SAFE_ID } from '../events/identifiers.js';
import { ConfigError, worstCaseCallMs } from './app-config.js';

/** What the scheduled sweep looks at, from SWEEP_PROJECTS and friends, validated at cold start. */
export interface SweepConfig {
  readonly projects: ReadonlyArray<{ readonly projectId: string; readonly region?: string | undefined }>;
  /** The first sweep of a project looks back this far. */
  readonly lookbackMinutes: number;
  /** Each window starts this long before the last watermark, so records that failed late are still seen (the ledger drops the repeats). */
  readonly overlapMinutes: number;
  /** Stop this long before the function's time runs out. */
  readonly safetyMarginMs: number;
}

const projectsSchema = z
  .array(z.object({ project_id: z.string().regex(SAFE_ID, 'must be a safe id'), region: z.string().optional() }).strict())
  .max(100);

function bounded(env: Readonly<Record<string, string | undefined>>, name: string, fallback: number, max: number, unit: string): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw new ConfigError(`${name} must be ${unit} between 1 and ${max}, got ${JSON.stringify(raw.slice(0, 20))}`);
  return Number(raw);
}

/**
 * `worstCaseMs` is the worst-case retry call (lib/config/app-config.ts): the sweep never
 * starts a record with less than that plus the ledger's writes left, whatever
 * SWEEP_SAFETY_SECONDS says (a call cut off mid-way is a holder that died).
 */
export function loadSweepConfig(env: Readonly<Record<string, string | undefined>>, endpoints: EndpointOverrides, worstCaseMs = worstCaseCallMs(3_000, 1)): SweepConfig {
  const raw = env['SWEEP_PROJECTS']?.trim();
  if (!raw) throw new ConfigError('SWEEP_PROJECTS is required: a JSON list of {"project_id","region"?}');
  let document: unknown;
  try {
    document = JSON.parse(raw);
  } catch (error) {
    throw new ConfigError(`SWEEP_PROJECTS: not valid JSON (${(error as Error).message})`);
  }
  const parsed = projectsSchema.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`SWEEP_PROJECTS${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`);
  }
  parsed.data.forEach((p, i) => {
    const problem = p.region === undefined ? undefined : validateRegion(p.region, endpoints);
    if (problem) throw new ConfigError(`SWEEP_PROJECTS[${i}].region: ${problem}`);
  });
  return {
    projects: parsed.data.map((p) => ({ projectId: p.project_id, region: p.region })),
    lookbackMinutes: bounded(env, 'SWEEP_LOOKBACK_MINUTES', 60, 10_080, 'minutes'),
    overlapMinutes: bounded(env, 'SWEEP_OVERLAP_MINUTES', 30, 1_440, 'minutes'),
    safetyMarginMs: Math.max(bounded(env, 'SWEEP_SAFETY_SECONDS', 10, 600, 'seconds') * 1000, worstCaseMs + 5_000),
  };
}
