import { validateRegion } from '../workspace/endpoints.js';
import { normaliseObject } from '../events/normalise.js';
import { logger } from '../platform/observability.js';
import type { PipelineDeps } from '../pipeline/process-failure.js';
import { processAll, resolveFailure, syntheticSource, type Forwarders, type Settling } from '../pipeline/settlement.js';
import type { SweepConfig } from '../config/sweep-config.js';
import { huaweiTime } from '../workspace/record-query.js';
import type { ExecutionRecord } from '../workspace/types.js';

/**
 * The scheduled sweep: lists the execution records that failed since the
 * last sweep, for every configured project, and puts each through the same
 * pipeline, so a failure whose event was lost is still retried. The ledger
 * makes the sweep and the queue never retry one failure twice.
 *
 * Progress is kept in the ledger table (`sweep#<project_id>`): the watermark
 * (the end of the last window fully handled) and, while a window is half
 * done, its bounds and the offset of the next record to handle. A sweep cut
 * short by its time budget resumes there.
 */

export interface SweepDeps extends PipelineDeps {
  readonly forwarders: Forwarders;
  readonly sweep: SweepConfig;
  /** Milliseconds the invocation has left. */
  readonly remainingMs: () => number;
}

export interface ProjectSummary {
  readonly projectId: string;
  seen: number;
  retried: number;
  'dead-lettered': number;
  deferred: number;
  duplicate: number;
  /** Dry runs: decisions shown, nothing sent, and progress not saved (so nothing is skipped when the dry run ends). */
  previewed: number;
  /** Records whose status was no longer a failure when they were handled. */
  'not-failed': number;
  /** False when the sweep stopped early (time budget, or a failure it could not settle): the next run resumes. */
  complete: boolean;
  window: { readonly start: string; readonly end: string };
  error?: string;
}

interface SweepState {
  readonly watermark?: string;
  readonly window_start?: string;
  readonly window_end?: string;
  readonly next_offset?: number;
}

const stateKey = (projectId: string) => `sweep#${projectId}`;

export async function runSweep(deps: SweepDeps): Promise<{ projects: ProjectSummary[] }> {
  const projects: ProjectSummary[] = [];
  for (const project of deps.sweep.projects) {
    if (deps.remainingMs() < deps.sweep.safetyMarginMs) break;
    projects.push(await sweepProject(project, deps));
  }
  logger.info('sweep finished', { projects });
  return { projects };
}

async function sweepProject(project: { projectId: string; region?: string | undefined }, deps: SweepDeps): Promise<ProjectSummary> {
  const now = (deps.now ?? Date.now)();
  const state = ((await deps.ledger.get(stateKey(project.projectId))) ?? {}) as SweepState;
  const resuming = state.window_start !== undefined && state.window_end !== undefined;
  const overlapMs = deps.sweep.overlapMinutes * 60_000;
  const start = resuming ? state.window_start! : huaweiTime(new Date(state.watermark ? Date.parse(state.watermark) - overlapMs : now - deps.sweep.lookbackMinutes * 60_000));
  const end = resuming ? state.window_end! : huaweiTime(new Date(now));
  let offset = resuming ? (state.next_offset ?? 0) : 0;
  const summary: ProjectSummary = { projectId: project.projectId, seen: 0, retried: 0, 'dead-lettered': 0, deferred: 0, duplicate: 0, previewed: 0, 'not-failed': 0, complete: false, window: { start, end } };
  const saveProgress = async () => {
    if (!deps.config.dryRun) await deps.ledger.put({ pk: stateKey(project.projectId), watermark: state.watermark, window_start: start, window_end: end, next_offset: offset });
  };

  const { credentials } = await deps.credentials.forProject(project.projectId);
  const records = deps.workspace.listRecords(
    project,
    { status: 'FAILED', executeTimeStart: new Date(start), executeTimeEnd: new Date(end), offset },
    credentials,
  );
  let chunk: ExecutionRecord[] = [];
  // A dry run's decisions are only shown here: the records stay in Workspace for the next sweep.
  const forwarders = { ...deps.forwarders, forwardDryRuns: false };
  const flush = async (): Promise<boolean> => {
    const settled = await processAll(chunk, deps.config.maxConcurrency, (record) => resolveRecord(record, project, deps), forwarders, deps.ledger, 'schedule');
    chunk = [];
    for (const { outcome, durable } of settled) {
      summary.seen++;
      summary[outcome.kind]++;
      // A failure that could not be made durable stops the walk here: the next sweep starts from it.
      if (!durable) return false;
      offset++;
    }
    await saveProgress();
    return true;
  };
  try {
    for await (const record of records) {
      chunk.push(record);
      if (chunk.length < deps.config.maxConcurrency) continue;
      if (!(await flush())) return summary;
      if (deps.remainingMs() < deps.sweep.safetyMarginMs) return summary;
    }
    if (chunk.length > 0 && !(await flush())) return summary;
  } catch (error) {
    summary.error = `${(error as Error).name}: ${(error as Error).message}`;
    await saveProgress().catch(() => undefined);
    return summary;
  }
  if (!deps.config.dryRun) await deps.ledger.put({ pk: stateKey(project.projectId), watermark: end });
  summary.complete = true;
  return summary;
}

async function resolveRecord(record: ExecutionRecord, project: { projectId: string; region?: string | undefined }, deps: SweepDeps): Promise<Settling> {
  const payload = { ...record, project_id: project.projectId, ...(project.region ? { region: project.region } : {}) };
  const source = syntheticSource(`sweep:${project.projectId}:${String(record.id).slice(0, 64)}`, payload);
  const normalised = normaliseObject(payload, { checkRegion: (region) => validateRegion(region, deps.config.endpoints) });
  const now = (deps.now ?? Date.now)();
  if (!normalised.ok) {
    return {
      source,
      resolution: { kind: 'dead-letter', letter: { reason: `invalid-event: ${normalised.error}`, errorCode: 'INVALID_EVENT', attempts: 0, ruleId: 'invalid-event', firstSeenAt: now, decidedAt: now } },
      firstSeenAt: now,
    };
  }
  return resolveFailure({ failure: { ...normalised.failure, shape: 'sweep>record' }, firstSeenAt: now }, source, deps);
}
