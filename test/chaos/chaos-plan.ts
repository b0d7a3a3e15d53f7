import type { ExecutionRecord } from '../../lib/workspace/types.js';
import { inCloudEvent, inEventBridge, inSns, plainEventFor, recordEvent } from '../helpers/envelopes.js';

/**
 * What the chaos run sends, from a seed: failed runs on desktops (grouped in
 * tasks of three), their failure events in every envelope the queue accepts
 * (each with an id), record-level and task-level events of the same tasks,
 * events that name only a record, duplicates in another envelope, poison
 * pills and records Workspace does not know.
 */

export const CHAOS_PROJECT = 'c0ffee00c0ffee00c0ffee00c0ffee00';

export type Kind = 'retry' | 'permission' | 'unknown' | 'poison';

export interface PlannedRun {
  readonly record: ExecutionRecord;
  readonly kind: Kind;
}

export interface ChaosPlan {
  /** Runs Workspace knows as failed (seeded). */
  readonly runs: readonly PlannedRun[];
  /** Message bodies to send, duplicates included. */
  readonly bodies: readonly string[];
  /** Failures named by events (record ids), for the account. */
  readonly named: ReadonlyMap<string, Kind>;
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
  const payload = recordOnly ? plainEventFor(CHAOS_PROJECT, record, 'record', { event_id: id }) : recordEvent(CHAOS_PROJECT, record);
  if (roll < 0.25) return JSON.stringify({ ...payload, event_id: id });
  if (roll < 0.5) return JSON.stringify(inSns(payload, id));
  if (roll < 0.75) return JSON.stringify(inEventBridge(payload, id));
  return JSON.stringify(inCloudEvent(payload, id));
}

export function planChaos(count: number, random: () => number): ChaosPlan {
  const runs: PlannedRun[] = [];
  const bodies: string[] = [];
  const named = new Map<string, Kind>();
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
      id, script_id: `script-${i % 7}`, script_task_id: task, resource_id: `desk-${i}`, resource_type: 'DESKTOP',
      start_time: minutesAgo(3), end_time: minutesAgo(2), status: 'FAILED', reason: REASONS[kind], result_code: 'WKS.SCRIPT_FAILED',
    };
    if (kind !== 'unknown') runs.push({ record, kind });
    named.set(id, kind);
    bodies.push(eventFor(record, random, `evt-${i}`));
    // A duplicate delivery in another envelope; now and then the task-level event of the same task.
    if (random() < 0.1) bodies.push(eventFor(record, random, `evt-${i}`));
    if (kind !== 'unknown' && random() < 0.06) bodies.push(JSON.stringify(plainEventFor(CHAOS_PROJECT, record, 'task', { event_id: `task-evt-${i}` })));
  }
  return { runs, bodies, named };
}
