import type { ModelRecord } from './workspace-model.js';

/**
 * The shapes one failure can arrive in: the same record named plainly, as
 * Workspace's record, inside SNS, EventBridge or a CloudEvent (each with its
 * envelope id), with only its record id (the pipeline looks the task up), or
 * as its task (the pipeline expands it into the task's failed records).
 */

export const SHAPES = ['plain', 'plain-event-id', 'record-only', 'record', 'sns', 'eventbridge', 'cloudevent', 'task'] as const;
export type Shape = (typeof SHAPES)[number];

let envelopeSequence = 0;

export function envelope(projectId: string, record: ModelRecord, shape: Shape): string {
  const id = `env-${++envelopeSequence}`;
  const plain = { project_id: projectId, record_id: record.id, task_id: record.script_task_id, status: 'FAILED', reason: record.reason };
  const asRecord = { ...record, project_id: projectId };
  switch (shape) {
    case 'plain':
      return JSON.stringify(plain);
    case 'plain-event-id':
      return JSON.stringify({ ...plain, event_id: id });
    case 'record-only':
      return JSON.stringify({ project_id: projectId, record_id: record.id, status: 'FAILED', reason: record.reason });
    case 'record':
      return JSON.stringify(asRecord);
    case 'sns':
      return JSON.stringify({ Type: 'Notification', MessageId: id, TopicArn: 'arn:aws:sns:cn-north-4:0:model', Message: JSON.stringify(asRecord) });
    case 'eventbridge':
      return JSON.stringify({ version: '0', id, 'detail-type': 'Workspace Script Execution Failed', source: 'model', detail: plain });
    case 'cloudevent':
      return JSON.stringify({ specversion: '1.0', id, source: '/model', type: 'script.failed', data: asRecord });
    case 'task':
      return JSON.stringify({ project_id: projectId, task_id: record.script_task_id, status: 'FAILED', reason: record.reason });
  }
}
