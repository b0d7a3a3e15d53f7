import type { ExecutionRecord } from '../../lib/workspace/types.js';
import { inCloudEvent, inEventBridge, inSns, plainEventFor, recordEvent } from '../helpers/envelopes.js';

/**
 * What the chaos run sends, from a seed: failed runs on desktops (grouped in
 * tasks of three), their failure events in every envelope the queue accepts
 * (each with an id), record-level and task-level events of the same tasks,
 * events that name only a record, duplicates in another envelope, poison
 * pills and records Workspace does not know; and the desktops the runs are
 * on, most running, some not ready in each way a desktop can be (a second
 * seeded source decides which, so the events stay those of the seed).
 */

export const CHAOS_PROJECT = 'c0ffee00c0ffee00c0ffee00c0ffee00';

export type Kind = 'retry' | 'permission' | 'unknown' | 'poison';

/**
 * A desktop's state when the run starts. `starting`: someone else started it
 * (powering on); `off`, `hibernated`: the policy wakes it; the others never
 * become ready: `maintenance` and `unregistered` are given up after
 * wait_max_seconds, `error` and `deleted` at once.
 */
export type DesktopCondition =
  | 'ready'
  | 'starting'
  | 'off'
  | 'hibernated'
  | 'maintenance'
  | 'unregistered'
  | 'error'
  | 'deleted';

/** Conditions that never let a script run: a retry on one is an attempt spent for nothing. */
export const NEVER_READY: ReadonlySet<DesktopCondition> = new Set(['maintenance', 'unregistered', 'error', 'deleted']);

export interface PlannedRun {
  readonly record: ExecutionRecord;
  readonly kind: Kind;
  readonly desktop: DesktopCondition;
}

export interface ChaosPlan {
  /** Runs Workspace knows as failed (seeded). */
  readonly runs: readonly PlannedRun[];
  /** Message bodies to send, duplicates included. */
  readonly bodies: readonly string[];
  /** Failures named by events (record ids), for the account. */
  readonly named: ReadonlyMap<string, Kind>;
  /**
   * Every desktop a record names, with its state (those of records Workspace does not know are running: only the record
   * is unknown).
   */
  readonly desktops: ReadonlyMap<string, DesktopCondition>;
}

/** Most desktops run; the rest are not ready in one of the ways a desktop can be. */
function desktopCondition(roll: number): DesktopCondition {
  const shares: Array<[DesktopCondition, number]> = [
    ['starting', 0.03],
    ['off', 0.05],
    ['hibernated', 0.04],
    ['maintenance', 0.02],
    ['unregistered', 0.01],
    ['error', 0.015],
    ['deleted', 0.015],
  ];
  let edge = 0;
  for (const [condition, share] of shares) if (roll < (edge += share)) return condition;
  return 'ready';
}

const REASONS: Record<Kind, string> = {
  retry: 'Script execution timed out',
  permission: 'Access denied: needs administrator permission',
  unknown: 'Script execution timed out',
  poison: '',
};

const minutesAgo = (m: number) => `${new Date(Date.now() - m * 60_000).toISOString().slice(0, 19)}Z`;

/** One failure event for a run, in an envelope chosen by the dice. */
export function eventFor(record: ExecutionRecord, random: () => number, id: string): string {
  const roll = random();
  const recordOnly = random() < 0.15;
  const payload = recordOnly
    ? plainEventFor(CHAOS_PROJECT, record, 'record', { event_id: id })
    : recordEvent(CHAOS_PROJECT, record);
  if (roll < 0.25) return JSON.stringify({ ...payload, event_id: id });
  if (roll < 0.5) return JSON.stringify(inSns(payload, id));
  if (roll < 0.75) return JSON.stringify(inEventBridge(payload, id));
  return JSON.stringify(inCloudEvent(payload, id));
}

export function planChaos(count: number, random: () => number, desktopRandom: () => number): ChaosPlan {
  const runs: PlannedRun[] = [];
  const bodies: string[] = [];
  const named = new Map<string, Kind>();
  const desktops = new Map<string, DesktopCondition>();
  for (let i = 0; i < count; i++) {
    const roll = random();
    const kind: Kind = roll < 0.86 ? 'retry' : roll < 0.94 ? 'permission' : roll < 0.97 ? 'unknown' : 'poison';
    const id = `chaos-${i}`;
    if (kind === 'poison') {
      bodies.push(i % 2 ? `{"project_id":"../${id}","record_id":"x"}` : `not json ${id}`);
      continue;
    }
    const task = `chaos-task-${Math.floor(i / 3)}`;
    const record: ExecutionRecord = {
      id,
      script_id: `script-${i % 7}`,
      script_task_id: task,
      resource_id: `desk-${i}`,
      resource_type: 'DESKTOP',
      start_time: minutesAgo(3),
      end_time: minutesAgo(2),
      status: 'FAILED',
      reason: REASONS[kind],
      result_code: 'WKS.SCRIPT_FAILED',
    };
    const desktop = desktopCondition(desktopRandom());
    desktops.set(record.resource_id!, kind === 'unknown' ? 'ready' : desktop);
    if (kind !== 'unknown') runs.push({ record, kind, desktop });
    named.set(id, kind);
    bodies.push(eventFor(record, random, `evt-${i}`));
    // A duplicate delivery in another envelope; now and then the task-level event of the same task.
    if (random() < 0.1) bodies.push(eventFor(record, random, `evt-${i}`));
    if (kind !== 'unknown' && random() < 0.06)
      bodies.push(JSON.stringify(plainEventFor(CHAOS_PROJECT, record, 'task', { event_id: `task-evt-${i}` })));
  }
  return { runs, bodies, named, desktops };
}
