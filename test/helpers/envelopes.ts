import type { EnvelopeName } from '../../lib/events/envelopes.js';
import type { ExecutionRecord } from '../../lib/workspace/types.js';

/**
 * One builder per shape the queue accepts (lib/events/envelopes.ts and
 * lib/events/payloads.ts), shared by the unit and integration tests, the
 * model (test/model/envelopes.ts) and the chaos run (test/chaos/chaos-plan.ts).
 * The caller picks the shape and the ids; the builder knows what the shape
 * looks like. An envelope's id is the caller's, or a fresh `sns-N`, `eb-N`,
 * `ce-N`.
 */

type Json = Record<string, unknown>;

let sequence = 0;
const fresh = (prefix: string) => `${prefix}-${++sequence}`;

/** Workspace's execution record as an event: the record as its list API returns it, plus `project_id`. */
export function recordEvent(projectId: string, record: ExecutionRecord): Json {
  return { ...record, project_id: projectId };
}

/** What a plain failure event names of its run: the record and its task, only the record, or only the task. */
export type Names = 'record-and-task' | 'record' | 'task';

/** The plain failure event of a failed run, with the run's reason; `more` adds fields (an `event_id`, a `region`). */
export function plainEventFor(
  projectId: string,
  record: Pick<ExecutionRecord, 'id' | 'script_task_id' | 'reason'>,
  names: Names = 'record-and-task',
  more: Json = {},
): Json {
  return {
    project_id: projectId,
    ...(names === 'task' ? {} : { record_id: record.id }),
    ...(names === 'record' ? {} : { task_id: record.script_task_id }),
    status: 'FAILED',
    reason: record.reason,
    ...more,
  };
}

/** Wraps a payload the way SNS delivers it to SQS (without raw message delivery): its JSON text in `Message`. */
export function inSns(payload: unknown, messageId = fresh('sns')): Json {
  return {
    Type: 'Notification',
    MessageId: messageId,
    TopicArn: 'arn:aws:sns:us-east-1:1:t',
    Message: JSON.stringify(payload),
    Timestamp: new Date().toISOString(),
  };
}

/** Wraps a payload as an EventBridge event: the payload is its `detail`. */
export function inEventBridge(payload: unknown, id = fresh('eb')): Json {
  return {
    version: '0',
    id,
    'detail-type': 'Workspace Script Execution Failed',
    source: 'custom.workspace',
    time: new Date().toISOString(),
    detail: payload,
  };
}

/** Wraps a payload as a structured-mode CloudEvent: the payload as its `data`, or base64 JSON text in `data_base64`. */
export function inCloudEvent(payload: unknown, id = fresh('ce'), carried: 'data' | 'data_base64' = 'data'): Json {
  const event = { specversion: '1.0', id, source: '/workspace', type: 'com.huaweicloud.workspace.script.failed' };
  if (carried === 'data_base64')
    return { ...event, data_base64: Buffer.from(JSON.stringify(payload)).toString('base64') };
  return { ...event, data: payload };
}

/**
 * Each envelope's builder by its name in the registry: an envelope added there without a builder here does not compile.
 */
export const WRAP: Readonly<Record<EnvelopeName, (payload: unknown, id?: string) => Json>> = {
  sns: inSns,
  eventbridge: inEventBridge,
  cloudevent: inCloudEvent,
};
