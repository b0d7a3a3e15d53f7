/**
 * `npm start`'s SMN row: one failure published to a (stand-in) SMN topic,
 * delivered over HTTPS semantics to the ingress handler as a Function URL
 * event, verified (signature, certificate host, topic), put on the failure
 * queue, and then handled by the queue function like the other samples.
 */

import { randomBytes } from 'node:crypto';
import type { IngressHandler } from './function-url-event.js';
import { LOCAL_TOPIC_URN, SmnStandIn } from './smn-stand-in.js';
import type { LocalStack } from './stack.js';

const PROJECT_ID = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';

export interface Row {
  readonly event: string;
  readonly failure: string;
  readonly outcome: string;
  readonly reason: string;
  readonly 'new task id': string;
}

export interface SmnDemo {
  /** The table row for the failure that came in through SMN, from the queue function's outcome lines. */
  row(outcomes: ReadonlyArray<Record<string, unknown>>): Row;
}

export async function publishOneFailureThroughSmn(stack: LocalStack): Promise<SmnDemo> {
  const recordId = `smn${randomBytes(8).toString('hex')}`;
  stack.simulator.seedRecords(PROJECT_ID, [{ id: recordId, status: 'FAILED', script_task_id: `task${recordId}` }]);
  const smn = await SmnStandIn.start();
  let answer: { status: number; answer: Record<string, unknown> };
  try {
    smn.trustInThisProcess();
    Object.assign(process.env, { FAILURE_QUEUE_URL: stack.queueUrl, TRUSTED_TOPIC_URNS: LOCAL_TOPIC_URN, ...smn.env });
    const { handler } = (await import('../functions/ingress.js')) as unknown as { handler: IngressHandler };
    const failure = {
      project_id: PROJECT_ID,
      record_id: recordId,
      status: 'FAILED',
      reason: 'Script execution timed out',
    };
    const delivery = smn.notification(JSON.stringify(failure), { subject: 'Workspace script failed' });
    answer = await smn.deliver(handler, delivery);
  } finally {
    await smn.stop();
  }
  return {
    row(outcomes) {
      const event = 'SMN notification → ingress';
      if (answer.status !== 200)
        return {
          event,
          failure: `record#${recordId}`,
          outcome: `ingress ${answer.status}`,
          reason: String(answer.answer['reason']),
          'new task id': '',
        };
      const outcome = [...outcomes].reverse().find((line) => line['recordId'] === recordId) ?? {
        kind: 'deferred',
        reason: 'not handled yet: still on the queue',
      };
      const reason =
        outcome['reason'] ??
        (outcome['kind'] === 'retried'
          ? `rule ${String(outcome['ruleId'])}, attempt ${String(outcome['attempt'])}`
          : '');
      return {
        event,
        failure: `record#${recordId}`,
        outcome: String(outcome['kind']),
        reason: String(reason),
        'new task id': String(outcome['newTaskId'] ?? ''),
      };
    },
  };
}
