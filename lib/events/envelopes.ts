/**
 * The envelopes the queue accepts around a failure event, one entry each
 * (docs/getting-events-in.md, "What to send"): how to recognise one, its own
 * id (duplicate deliveries share it) and what it carries. normalise.ts peels
 * them off in turn until what is left is a payload (payloads.ts); the first
 * entry that recognises an object is the one that opens it.
 */

import { type JsonObject, PoisonPill, parseJson } from './safe-json.js';

/** What an envelope carries, and the path to it that error messages name (e.g. `body.Message`). */
export interface Opened {
  readonly content: unknown;
  readonly path: string;
}

/** One kind of envelope: how to recognise it, its id, and how to open it. */
export interface Envelope {
  /** Its name in a failure's `shape` (e.g. the `sns` of `sns>record`). */
  readonly name: 'sns' | 'eventbridge' | 'cloudevent';
  readonly recognises: (value: JsonObject) => boolean;
  /** The envelope's own id, when it has one. */
  readonly idOf: (value: JsonObject) => string | undefined;
  /** What it carries, parsed when it carries text; throws a PoisonPill naming the path when that cannot be read. */
  readonly open: (value: JsonObject, path: string) => Opened;
}

/** The name an envelope has in a failure's `shape`. */
export type EnvelopeName = Envelope['name'];

const text = (value: JsonObject, key: string): string | undefined =>
  typeof value[key] === 'string' ? (value[key] as string) : undefined;

/** An SNS notification delivered without raw message delivery: the failure is the JSON text of `Message`. */
const snsNotification: Envelope = {
  name: 'sns',
  recognises: (value) => value['Type'] === 'Notification' && 'Message' in value,
  idOf: (value) => text(value, 'MessageId'),
  open: (value, path) => {
    if (typeof value['Message'] !== 'string')
      throw new PoisonPill(`${path}.Message: must be a string (SNS notification)`);
    const inner = `${path}.Message`;
    return { content: parseJson(value['Message'], inner), path: inner };
  },
};

/** An EventBridge event: the failure is its `detail` object. */
const eventBridgeEvent: Envelope = {
  name: 'eventbridge',
  recognises: (value) => 'detail-type' in value && 'detail' in value,
  idOf: (value) => text(value, 'id'),
  open: (value, path) => ({ content: value['detail'], path: `${path}.detail` }),
};

/** A CloudEvent in structured mode: the failure is its `data` (an object or JSON text), or its `data_base64`. */
const structuredCloudEvent: Envelope = {
  name: 'cloudevent',
  recognises: (value) => 'specversion' in value && ('data' in value || 'data_base64' in value),
  idOf: (value) => text(value, 'id'),
  open: (value, path) => {
    const base64 = text(value, 'data_base64');
    if (base64 !== undefined) {
      const inner = `${path}.data_base64`;
      return { content: parseJson(Buffer.from(base64, 'base64').toString('utf8'), inner), path: inner };
    }
    const inner = `${path}.data`;
    const data = value['data'];
    return { content: typeof data === 'string' ? parseJson(data, inner) : data, path: inner };
  },
};

/** Every envelope the queue accepts, in the order they are tried. */
export const ENVELOPES: readonly Envelope[] = [snsNotification, eventBridgeEvent, structuredCloudEvent];

/** The envelope an object is, or undefined when it is none (then it is the payload). */
export function envelopeOf(value: JsonObject): Envelope | undefined {
  return ENVELOPES.find((envelope) => envelope.recognises(value));
}
