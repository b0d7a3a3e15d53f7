/**
 * Turns a message body into one ScriptFailure, whatever shape the user has:
 * a payload (payloads.ts: the plain failure JSON, a Workspace execution
 * record plus project_id), either inside envelopes (envelopes.ts: an SNS
 * notification, an EventBridge event, a CloudEvent), at most MAX_ENVELOPES
 * deep. Anything else is a poison pill with a precise reason. A field whose
 * value is `null` is absent (a timed-out run reports `result_code: null`).
 */

import { envelopeOf } from './envelopes.js';
import type { ScriptFailure } from './failure.js';
import { payloadOf } from './payloads.js';
import { isJsonObject, type JsonObject, PoisonPill, parseJson } from './safe-json.js';

/** A body read as one failure, or the reason it cannot be one (the message is dead-lettered with it). */
export type Normalised =
  | { readonly ok: true; readonly failure: ScriptFailure }
  | { readonly ok: false; readonly error: string };

/** What normalising needs from the configuration. */
export interface NormaliseOptions {
  /** Why a region cannot be used, or undefined when it can (from configuration). */
  readonly checkRegion: (region: string) => string | undefined;
}

/** The largest message body read (64 KiB); a longer one is refused with the reason. */
export const MAX_BODY_BYTES = 64 * 1024;
const MAX_ENVELOPES = 3;
/** Keys that would let an event choose where a request goes: refused outright. */
const ROUTING_KEYS = ['endpoint', 'url', 'host', 'base_url', 'endpoint_url', 'hostname'];

interface Unwrapped {
  readonly payload: JsonObject;
  readonly path: string;
  readonly shapes: string[];
  readonly envelopeId?: string | undefined;
}

/** Peels envelopes off, at most MAX_ENVELOPES deep; the first envelope's id is the event's. */
function unwrap(value: unknown): Unwrapped {
  let current = value;
  let path = 'body';
  const shapes: string[] = [];
  let envelopeId: string | undefined;
  for (let level = 0; level <= MAX_ENVELOPES; level++) {
    if (!isJsonObject(current)) throw new PoisonPill(`${path}: must be a JSON object`);
    const envelope = envelopeOf(current);
    if (envelope === undefined) return { payload: current, path, shapes, envelopeId };
    envelopeId ??= envelope.idOf(current);
    shapes.push(envelope.name);
    ({ content: current, path } = envelope.open(current, path));
  }
  throw new PoisonPill(`body: more than ${MAX_ENVELOPES} nested envelopes`);
}

/** An object without its `null` fields: null means absent, as in Workspace's own answers. */
export function withoutNulls(payload: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(payload).filter(([, value]) => value !== null));
}

function toFailure(unwrapped: Unwrapped, options: NormaliseOptions): ScriptFailure {
  const { path, shapes, envelopeId } = unwrapped;
  const payload = withoutNulls(unwrapped.payload);
  const routing = ROUTING_KEYS.find((key) => key in payload);
  if (routing) throw new PoisonPill(`${path}.${routing}: events cannot choose where a request goes`);
  const kind = payloadOf(payload);
  const named = kind.read(payload, path);
  const failure: ScriptFailure = {
    ...named,
    eventId: named.eventId ?? envelopeId,
    shape: [...shapes, kind.name].join('>'),
  };
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
