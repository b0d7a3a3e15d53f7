import { inCloudEvent, inEventBridge, inSns, plainEventFor, recordEvent } from '../helpers/envelopes.js';
import type { ModelRecord } from './workspace-model.js';

/**
 * The shapes one failure can arrive in: the same record named plainly, as
 * Workspace's record, inside SNS, EventBridge or a CloudEvent (each with its
 * envelope id), with only its record id (the pipeline looks the task up), or
 * as its task (the pipeline expands it into the task's failed records). The
 * bodies come from the shared builders of test/helpers/envelopes.ts.
 */

export const SHAPES = [
  'plain',
  'plain-event-id',
  'record-only',
  'record',
  'sns',
  'eventbridge',
  'cloudevent',
  'task',
] as const;
export type Shape = (typeof SHAPES)[number];

let envelopeSequence = 0;

export function envelope(projectId: string, record: ModelRecord, shape: Shape): string {
  const id = `env-${++envelopeSequence}`;
  const asRecord = recordEvent(projectId, record);
  switch (shape) {
    case 'plain':
      return JSON.stringify(plainEventFor(projectId, record));
    case 'plain-event-id':
      return JSON.stringify(plainEventFor(projectId, record, 'record-and-task', { event_id: id }));
    case 'record-only':
      return JSON.stringify(plainEventFor(projectId, record, 'record'));
    case 'record':
      return JSON.stringify(asRecord);
    case 'sns':
      return JSON.stringify(inSns(asRecord, id));
    case 'eventbridge':
      return JSON.stringify(inEventBridge(plainEventFor(projectId, record), id));
    case 'cloudevent':
      return JSON.stringify(inCloudEvent(asRecord, id));
    case 'task':
      return JSON.stringify(plainEventFor(projectId, record, 'task'));
  }
}
