/**
 * The payloads the queue accepts once every envelope (envelopes.ts) is off,
 * one entry each (docs/getting-events-in.md, "What to send"): the plain
 * failure JSON and Workspace's execution record plus `project_id`. Each says
 * how to recognise it and reads it into the failure it names; a field it
 * cannot take is a PoisonPill naming the field. Times are read by
 * parseWorkspaceTime, a zone-less one as UTC (docs/workspace-api.md, "Times").
 */

import * as z from '../platform/zod.js';
import type { ScriptFailure } from './failure.js';
import { safeIdSchema } from './identifiers.js';
import { isJsonObject, type JsonObject, PoisonPill } from './safe-json.js';
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

const text = (max: number) => z.string().check(z.maxLength(max, `must be at most ${max} characters`));
/** Times from 2000 to 2100: epoch seconds or nanoseconds fall outside and are refused with the reason, never stored. */
const EARLIEST_MS = Date.UTC(2000, 0, 1);
const LATEST_MS = Date.UTC(2100, 0, 1);
const timestamp = z.pipe(
  z.union([z.string().check(z.maxLength(64)), z.number()]),
  z.transform((value: string | number, ctx) => {
    const ms = typeof value === 'number' ? value : parseWorkspaceTime(value);
    if (ms === undefined || !Number.isFinite(ms)) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: 'must be a time like 2021-10-01T12:00:00Z (without a zone: UTC) or epoch milliseconds',
      });
      return z.NEVER;
    }
    if (ms < EARLIEST_MS || ms >= LATEST_MS) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: `must be a time between 2000 and 2100 (epoch milliseconds, not seconds or nanoseconds), got ${String(value).slice(0, 32)}`,
      });
      return z.NEVER;
    }
    return ms;
  }),
);

const common = {
  project_id: safeIdSchema,
  region: z.optional(text(32)),
  status: z.optional(text(32)),
  result_code: z.optional(text(128)),
  reason: z.optional(text(2048)),
  script_id: z.optional(safeIdSchema),
  resource_id: z.optional(safeIdSchema),
  event_id: z.optional(text(128)),
};

const plainSchema = z.object({
  ...common,
  task_id: z.optional(safeIdSchema),
  record_id: z.optional(safeIdSchema),
  failed_at: z.optional(timestamp),
  start_time: z.optional(timestamp),
});

const recordSchema = z.object({
  ...common,
  id: safeIdSchema,
  script_task_id: z.optional(safeIdSchema),
  start_time: z.optional(timestamp),
  end_time: z.optional(timestamp),
});

/** The first problem zod found, as `path.field: what is wrong`. */
function zodProblem(path: string, payload: JsonObject, error: z.core.$ZodError): string {
  const issue = error.issues[0]!;
  const field = issue.path.length ? `${path}.${issue.path.join('.')}` : path;
  if (issue.code !== 'invalid_type') return `${field}: ${issue.message}`;
  const value = issue.path.reduce<unknown>(
    (node, key) => (isJsonObject(node) ? node[String(key)] : undefined),
    payload,
  );
  if (value === undefined) return `${field}: is required`;
  return `${field}: must be a ${issue.expected}, got ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}`;
}

function parsed<T>(schema: z.ZodMiniType<T>, payload: JsonObject, path: string): T {
  const result = schema.safeParse(payload);
  if (!result.success) throw new PoisonPill(zodProblem(path, payload, result.error));
  return result.data;
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
