import type { ScriptFailure } from './failure.js';
import { safeIdSchema } from './identifiers.js';
import { parseJson, PoisonPill } from './safe-json.js';
import { parseWorkspaceTime } from './workspace-time.js';
import * as z from '../platform/zod.js';

/**
 * Turns a message body into one ScriptFailure, whatever shape the user has:
 * the plain failure JSON, a Workspace execution record (plus project_id),
 * either inside an SNS notification, an EventBridge event (`detail`) or a
 * CloudEvent (`data`). Anything else is a poison pill with a precise reason.
 * A field whose value is `null` is absent (a timed-out run reports
 * `result_code: null`); times are read by parseWorkspaceTime, a zone-less one
 * as UTC (docs/workspace-api.md, "Times").
 */

export type Normalised = { readonly ok: true; readonly failure: ScriptFailure } | { readonly ok: false; readonly error: string };

export interface NormaliseOptions {
  /** Why a region cannot be used, or undefined when it can (from configuration). */
  readonly checkRegion: (region: string) => string | undefined;
}

export const MAX_BODY_BYTES = 64 * 1024;
const MAX_ENVELOPES = 3;
/** Keys that would let an event choose where a request goes: refused outright. */
const ROUTING_KEYS = ['endpoint', 'url', 'host', 'base_url', 'endpoint_url', 'hostname'];

const text = (max: number) => z.string().check(z.maxLength(max, `must be at most ${max} characters`));
/** Times from 2000 to 2100: epoch seconds or nanoseconds fall outside and are refused with the reason, never stored. */
const EARLIEST_MS = Date.UTC(2000, 0, 1);
const LATEST_MS = Date.UTC(2100, 0, 1);
const timestamp = z.pipe(z.union([z.string().check(z.maxLength(64)), z.number()]), z.transform((value: string | number, ctx) => {
  const ms = typeof value === 'number' ? value : parseWorkspaceTime(value);
  if (ms === undefined || !Number.isFinite(ms)) {
    ctx.issues.push({ code: 'custom', input: value, message: 'must be a time like 2021-10-01T12:00:00Z (without a zone: UTC) or epoch milliseconds' });
    return z.NEVER;
  }
  if (ms < EARLIEST_MS || ms >= LATEST_MS) {
    ctx.issues.push({ code: 'custom', input: value, message: `must be a time between 2000 and 2100 (epoch milliseconds, not seconds or nanoseconds), got ${String(value).slice(0, 32)}` });
    return z.NEVER;
  }
  return ms;
}));

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

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface Unwrapped {
  readonly payload: Json;
  readonly path: string;
  readonly shapes: string[];
  readonly envelopeId?: string | undefined;
}

/** Peels SNS, EventBridge and CloudEvent envelopes off, at most MAX_ENVELOPES deep. */
function unwrap(value: unknown): Unwrapped {
  let current = value;
  let path = 'body';
  const shapes: string[] = [];
  let envelopeId: string | undefined;
  for (let level = 0; level <= MAX_ENVELOPES; level++) {
    if (!isObject(current)) throw new PoisonPill(`${path}: must be a JSON object`);
    if (current['Type'] === 'Notification' && 'Message' in current) {
      if (typeof current['Message'] !== 'string') throw new PoisonPill(`${path}.Message: must be a string (SNS notification)`);
      envelopeId ??= typeof current['MessageId'] === 'string' ? current['MessageId'] : undefined;
      path += '.Message';
      shapes.push('sns');
      current = parseJson(current['Message'], path);
    } else if ('detail-type' in current && 'detail' in current) {
      envelopeId ??= typeof current['id'] === 'string' ? current['id'] : undefined;
      path += '.detail';
      shapes.push('eventbridge');
      current = current['detail'];
    } else if ('specversion' in current && ('data' in current || 'data_base64' in current)) {
      envelopeId ??= typeof current['id'] === 'string' ? current['id'] : undefined;
      shapes.push('cloudevent');
      if (typeof current['data_base64'] === 'string') {
        path += '.data_base64';
        current = parseJson(Buffer.from(current['data_base64'], 'base64').toString('utf8'), path);
      } else {
        path += '.data';
        current = typeof current['data'] === 'string' ? parseJson(current['data'], path) : current['data'];
      }
    } else {
      return { payload: current, path, shapes, envelopeId };
    }
  }
  throw new PoisonPill(`body: more than ${MAX_ENVELOPES} nested envelopes`);
}

function zodProblem(path: string, payload: Json, error: z.core.$ZodError): string {
  const issue = error.issues[0]!;
  const field = issue.path.length ? `${path}.${issue.path.join('.')}` : path;
  if (issue.code !== 'invalid_type') return `${field}: ${issue.message}`;
  const value = issue.path.reduce<unknown>((node, key) => (isObject(node) ? node[String(key)] : undefined), payload);
  if (value === undefined) return `${field}: is required`;
  return `${field}: must be a ${issue.expected}, got ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}`;
}

/** An object without its `null` fields: null means absent, as in Workspace's own answers. */
export function withoutNulls(payload: Json): Json {
  return Object.fromEntries(Object.entries(payload).filter(([, value]) => value !== null));
}

function toFailure(unwrapped: Unwrapped, options: NormaliseOptions): ScriptFailure {
  const { path, shapes, envelopeId } = unwrapped;
  const payload = withoutNulls(unwrapped.payload);
  const routing = ROUTING_KEYS.find((key) => key in payload);
  if (routing) throw new PoisonPill(`${path}.${routing}: events cannot choose where a request goes`);
  const isRecord = !('record_id' in payload) && !('task_id' in payload) && 'id' in payload;
  let failure: ScriptFailure;
  if (isRecord) {
    const parsed = recordSchema.safeParse(payload);
    if (!parsed.success) throw new PoisonPill(zodProblem(path, payload, parsed.error));
    const r = parsed.data;
    failure = {
      projectId: r.project_id, region: r.region, recordId: r.id, taskId: r.script_task_id, status: r.status, resultCode: r.result_code,
      reason: r.reason, scriptId: r.script_id, resourceId: r.resource_id, failedAt: r.end_time ?? r.start_time, startedAt: r.start_time, endedAt: r.end_time,
      eventId: r.event_id ?? envelopeId, shape: [...shapes, 'record'].join('>'),
    };
  } else {
    const parsed = plainSchema.safeParse(payload);
    if (!parsed.success) throw new PoisonPill(zodProblem(path, payload, parsed.error));
    const p = parsed.data;
    if (p.task_id === undefined && p.record_id === undefined) throw new PoisonPill(`${path}: needs task_id or record_id`);
    failure = {
      projectId: p.project_id, region: p.region, recordId: p.record_id, taskId: p.task_id, status: p.status, resultCode: p.result_code,
      reason: p.reason, scriptId: p.script_id, resourceId: p.resource_id, failedAt: p.failed_at, startedAt: p.start_time,
      eventId: p.event_id ?? envelopeId, shape: [...shapes, 'plain'].join('>'),
    };
  }
  if (failure.region !== undefined) {
    const problem = options.checkRegion(failure.region);
    if (problem) throw new PoisonPill(`${path}.region: ${problem}`);
  }
  return failure;
}

/** Parses a message body; never throws. */
export function normaliseBody(body: string, options: NormaliseOptions): Normalised {
  try {
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > MAX_BODY_BYTES) return { ok: false, error: `body: ${bytes} bytes, larger than ${MAX_BODY_BYTES}` };
    return { ok: true, failure: toFailure(unwrap(parseJson(body, 'body')), options) };
  } catch (error) {
    if (error instanceof PoisonPill) return { ok: false, error: error.message };
    return { ok: false, error: `body: could not be read (${(error as Error).name})` };
  }
}

/** Normalises an already-parsed object (the manual and sweep ways in). */
export function normaliseObject(value: unknown, options: NormaliseOptions): Normalised {
  try {
    return { ok: true, failure: toFailure(unwrap(value), options) };
  } catch (error) {
    if (error instanceof PoisonPill) return { ok: false, error: error.message };
    throw error;
  }
}
