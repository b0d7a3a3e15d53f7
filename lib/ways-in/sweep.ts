/**
 * The scheduled sweep: lists the execution records that failed since the
 * last sweep, for every configured project, and puts each through the same
 * pipeline, so a failure whose event was lost is still retried. The ledger
 * makes the sweep and the queue never retry one failure twice.
 *
 * Progress is kept in the ledger table (`sweep#<project_id>`): the watermark
 * (the end of the last window fully handled) and, while a window is half
 * done, its bounds and the last record handled in the sweep's own order (start
 * time, then id), never an offset into Workspace's listing, which shifts as
 * records leave it. The window is read a slice of time at a time
 * (sweep-slices.ts). A sweep cut short by its time budget resumes after that
 * record.
 */

import type { SweepConfig } from '../config/sweep-config.js';
import { normaliseObject } from '../events/normalise.js';
import { parseWorkspaceTime } from '../events/workspace-time.js';
import type { PipelineDeps } from '../pipeline/context.js';
import { type PipelineItem, runPipeline, syntheticSource } from '../pipeline/runner.js';
import type { Forwarders } from '../pipeline/settlement.js';
import { logger } from '../platform/observability.js';
import { validateRegion } from '../workspace/endpoints.js';
import { huaweiTime } from '../workspace/record-query.js';
import type { ExecutionRecord } from '../workspace/types.js';
import { failedSlices, isAfter, type PageReader, positionOf, type SweepPosition } from './sweep-slices.js';

/** What the sweep needs besides the pipeline's dependencies: its configuration and the time left. */
export interface SweepDeps extends PipelineDeps {
  readonly forwarders: Forwarders;
  readonly sweep: SweepConfig;
  /** Milliseconds the invocation has left. */
  readonly remainingMs: () => number;
}

/** One project's sweep: the records seen and what became of them. */
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
  /** The last record handled of a half-done window: its start time (epoch ms) and id. */
  readonly after_at?: number;
  readonly after_id?: string;
}

const stateKey = (projectId: string) => `sweep#${projectId}`;

/** Sweeps every configured project in turn until the invocation's time runs short, and returns what each one saw. */
export async function runSweep(deps: SweepDeps): Promise<{ projects: ProjectSummary[] }> {
  const projects: ProjectSummary[] = [];
  for (const project of deps.sweep.projects) {
    if (deps.remainingMs() < deps.sweep.safetyMarginMs) break;
    projects.push(await sweepProject(project, deps));
  }
  logger.info('sweep finished', { projects });
  return { projects };
}

async function sweepProject(
  project: { projectId: string; region?: string | undefined },
  deps: SweepDeps,
): Promise<ProjectSummary> {
  const now = (deps.now ?? Date.now)();
  const state = ((await deps.ledger.get(stateKey(project.projectId))) ?? {}) as SweepState;
  const resuming = state.window_start !== undefined && state.window_end !== undefined;
  const overlapMs = deps.sweep.overlapMinutes * 60_000;
  const watermark = state.watermark === undefined ? undefined : parseWorkspaceTime(state.watermark);
  const start = resuming
    ? state.window_start!
    : huaweiTime(new Date(watermark !== undefined ? watermark - overlapMs : now - deps.sweep.lookbackMinutes * 60_000));
  const end = resuming ? state.window_end! : huaweiTime(new Date(now));
  let cursor: SweepPosition | undefined =
    resuming && state.after_at !== undefined && state.after_id !== undefined
      ? { at: state.after_at, id: state.after_id }
      : undefined;
  const summary: ProjectSummary = {
    projectId: project.projectId,
    seen: 0,
    retried: 0,
    'dead-lettered': 0,
    deferred: 0,
    duplicate: 0,
    previewed: 0,
    'not-failed': 0,
    complete: false,
    window: { start, end },
  };
  const saveProgress = async () => {
    if (!deps.config.dryRun)
      await deps.ledger.put({
        pk: stateKey(project.projectId),
        watermark: state.watermark,
        window_start: start,
        window_end: end,
        after_at: cursor?.at,
        after_id: cursor?.id,
      });
  };

  const { credentials } = await deps.credentials.forProject(project.projectId);
  const read: PageReader = async (fromMs, toMs, offset, limit) => {
    const page: ExecutionRecord[] = [];
    const filters = {
      status: 'FAILED',
      executeTimeStart: new Date(fromMs),
      executeTimeEnd: new Date(toMs),
      offset,
      pageSize: limit,
    };
    for await (const record of deps.workspace.listRecords(project, filters, credentials)) {
      page.push(record);
      if (page.length >= limit) break;
    }
    return page;
  };
  // A dry run's decisions are only shown here: the records stay in Workspace for the next sweep.
  const forwarders = { ...deps.forwarders, forwardDryRuns: false };
  /** Handles records in the sweep's order; false when one could not be made durable (the next sweep starts from it). */
  const handle = async (records: readonly ExecutionRecord[]): Promise<boolean> => {
    const settled = await runPipeline({
      items: records.map((record) => itemOf(record, project, deps)),
      deps,
      forwarders,
      way: 'schedule',
    });
    for (const [index, { outcome, durable }] of settled.entries()) {
      summary.seen++;
      summary[outcome.kind]++;
      if (!durable) break;
      cursor = positionOf(records[index]!);
    }
    await saveProgress();
    return settled.every((item) => item.durable);
  };
  try {
    const from = cursor === undefined ? parseWorkspaceTime(start)! : Math.floor(cursor.at / 1000) * 1000;
    for await (const slice of failedSlices(read, from, parseWorkspaceTime(end)!)) {
      const pending = slice.records.filter((record) => isAfter(record, cursor));
      for (let i = 0; i < pending.length; i += deps.config.maxConcurrency) {
        if (!(await handle(pending.slice(i, i + deps.config.maxConcurrency)))) return summary;
        if (deps.remainingMs() < deps.sweep.safetyMarginMs) return summary;
      }
    }
  } catch (error) {
    summary.error = `${(error as Error).name}: ${(error as Error).message}`;
    await saveProgress().catch(() => undefined);
    return summary;
  }
  if (!deps.config.dryRun) await deps.ledger.put({ pk: stateKey(project.projectId), watermark: end });
  summary.complete = true;
  return summary;
}

/**
 * A listed record as the pipeline takes it: a failure to decide, or a record that is not one, dead-lettered with the
 * reason.
 */
function itemOf(
  record: ExecutionRecord,
  project: { projectId: string; region?: string | undefined },
  deps: SweepDeps,
): PipelineItem {
  const payload = { ...record, project_id: project.projectId, ...(project.region ? { region: project.region } : {}) };
  const source = syntheticSource(`sweep:${project.projectId}:${String(record.id).slice(0, 64)}`, payload);
  const normalised = normaliseObject(payload, {
    checkRegion: (region) => validateRegion(region, deps.config.endpoints),
  });
  const now = (deps.now ?? Date.now)();
  if (normalised.ok)
    return {
      source,
      firstSeenAt: now,
      input: { failure: { ...normalised.failure, shape: 'sweep>record' }, firstSeenAt: now },
    };
  const letter = {
    reason: `invalid-event: ${normalised.error}`,
    errorCode: 'INVALID_EVENT',
    attempts: 0,
    ruleId: 'invalid-event',
    firstSeenAt: now,
    decidedAt: now,
  };
  return { source, firstSeenAt: now, resolution: { kind: 'dead-letter', code: 'invalid-event', letter } };
}
