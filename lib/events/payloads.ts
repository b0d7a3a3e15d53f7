/**
 * The payloads the queue accepts once every envelope (envelopes.ts) is off,
 * one entry each (docs/getting-events-in.md, "What to send"): the plain
 * failure JSON and Workspace's execution record plus `project_id`. Each says
 * how to recognise it and reads it into the failure it names; a field it
 * cannot take is a PoisonPill naming the field. Times are read by
 * parseWorkspaceTime, a zone-less one as UTC (docs/workspace-api.md, "Times").
 */

import * as v from '../platform/valibot.js';
import type { ScriptFailure } from './failure.js';
import { safeIdSchema } from './identifiers.js';
import { type JsonObject, PoisonPill } from './safe-json.js';
import { parseWorkspaceTime } from './workspace-time.js';

/** A failure as a payload names it: the envelope's id and the shape are added by normalise.ts. */
export type PayloadFailure = Omit<ScriptFailure, 'shape'>;

/**
 * One kind of payload: how to recognise it, and how to read it into a failure (throwing a PoisonPill naming the field
 * it cannot take).
 */
export interface Payload {
  /** Its name at the end of a failure's `shape` (e.g. the `record` of `sns>record`). */
  readonly name: 'plain' | 'record';
  /** Whether an unwrapped object, its `null` fields dropped, is this payload. */
  readonly recognises: (payload: JsonObject) => boolean;
  readonly read: (payload: JsonObject, path: string) => PayloadFailure;
}

/** The name a payload has at the end of a failure's `shape`. */
export type PayloadName = Payload['name'];

const text = (max: number) => v.pipe(v.string(), v.maxLength(max, `must be at most ${max} characters`));
/** Times from 2000 to 2100: epoch seconds or nanoseconds fall outside and are refused with the reason, never stored. */
const EARLIEST_MS = Date.UTC(2000, 0, 1);
const LATEST_MS = Date.UTC(2100, 0, 1);
const timestamp = v.pipe(
  v.union([v.pipe(v.string(), v.maxLength(64)), v.number()]),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const value = dataset.value;
    const ms = typeof value === 'number' ? value : parseWorkspaceTime(value);
    if (ms === undefined || !Number.isFinite(ms)) {
      addIssue({ message: 'must be a time like 2021-10-01T12:00:00Z (without a zone: UTC) or epoch milliseconds' });
      return NEVER;
    }
    if (ms < EARLIEST_MS || ms >= LATEST_MS) {
      addIssue({
        message: `must be a time between 2000 and 2100 (epoch milliseconds, not seconds or nanoseconds), got ${String(value).slice(0, 32)}`,
      });
      return NEVER;
    }
    return ms;
  }),
);

const common = {
  project_id: safeIdSchema,
  region: v.optional(text(32)),
  status: v.optional(text(32)),
  result_code: v.optional(text(128)),
  reason: v.optional(text(2048)),
  script_id: v.optional(safeIdSchema),
  resource_id: v.optional(safeIdSchema),
  event_id: v.optional(text(128)),
};

const plainSchema = v.object({
  ...common,
  task_id: v.optional(safeIdSchema),
  record_id: v.optional(safeIdSchema),
  failed_at: v.optional(timestamp),
  start_time: v.optional(timestamp),
});

const recordSchema = v.object({
  ...common,
  id: safeIdSchema,
  script_task_id: v.optional(safeIdSchema),
  start_time: v.optional(timestamp),
  end_time: v.optional(timestamp),
});

/** The first problem found, as `path.field: what is wrong` (lib/platform/valibot.ts words it without the value). */
function firstProblem(path: string, issue: v.BaseIssue<unknown>): string {
  const keys = v.issuePath(issue);
  return `${keys.length ? `${path}.${keys.join('.')}` : path}: ${issue.message}`;
}

function parsed<T>(schema: v.GenericSchema<unknown, T>, payload: JsonObject, path: string): T {
  const result = v.safeParse(schema, payload);
  if (!result.success) throw new PoisonPill(firstProblem(path, result.issues[0]));
  return result.output;
}

/**
 * Workspace's execution record (as its list API returns it) plus `project_id`: it has an `id` and names no record or
 * task otherwise.
 */
const executionRecord: Payload = {
  name: 'record',
  recognises: (payload) => !('record_id' in payload) && !('task_id' in payload) && 'id' in payload,
  read: (payload, path) => {
    const r = parsed(recordSchema, payload, path);
    return {
      projectId: r.project_id,
      region: r.region,
      recordId: r.id,
      taskId: r.script_task_id,
      status: r.status,
      resultCode: r.result_code,
      reason: r.reason,
      scriptId: r.script_id,
      resourceId: r.resource_id,
      failedAt: r.end_time ?? r.start_time,
      startedAt: r.start_time,
      endedAt: r.end_time,
      eventId: r.event_id,
    };
  },
};

/**
 * The plain failure JSON: `project_id` and a `task_id` or `record_id` (or both). What is not a record is read as this.
 */
const plainFailure: Payload = {
  name: 'plain',
  recognises: () => true,
  read: (payload, path) => {
    const p = parsed(plainSchema, payload, path);
    if (p.task_id === undefined && p.record_id === undefined)
      throw new PoisonPill(`${path}: needs task_id or record_id`);
    return {
      projectId: p.project_id,
      region: p.region,
      recordId: p.record_id,
      taskId: p.task_id,
      status: p.status,
      resultCode: p.result_code,
      reason: p.reason,
      scriptId: p.script_id,
      resourceId: p.resource_id,
      failedAt: p.failed_at,
      startedAt: p.start_time,
      eventId: p.event_id,
    };
  },
};

/** Every payload the queue accepts, in the order they are tried (the plain failure last: it takes what is left). */
export const PAYLOADS: readonly Payload[] = [executionRecord, plainFailure];

/** The payload an unwrapped object is read as. */
export function payloadOf(payload: JsonObject): Payload {
  return PAYLOADS.find((entry) => entry.recognises(payload))!;
}
