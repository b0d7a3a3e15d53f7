/**
 * `npm start`: the queue function on the embedded local stack. Starts the
 * emulators and the Workspace simulator in-process, sends every sample in
 * events/queue/ to the queue (the first one twice, as SQS may deliver it),
 * runs the function as Lambda's event source mapping would until the queue
 * is drained, and prints what became of each failure.
 *
 *   --verbose   also print the function's own JSON log lines
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { failureKey } from '../lib/events/failure.js';
import { normaliseBody } from '../lib/events/normalise.js';
import { captureStdout } from './log-capture.js';
import { LocalEventSource, type QueueHandler } from './poller.js';
import { publishOneFailureThroughSmn } from './smn-demo.js';
import { startLocalStack, type LocalStack } from './stack.js';
import { renderTable } from './table.js';

const verbose = process.argv.includes('--verbose');
const EVENTS_DIR = join(import.meta.dirname, '..', 'events', 'queue');

interface Sample {
  readonly file: string;
  readonly body: string;
}

async function loadSamples(): Promise<Sample[]> {
  const files = (await readdir(EVENTS_DIR)).sort();
  return Promise.all(files.map(async (file) => ({ file, body: await readFile(join(EVENTS_DIR, file), 'utf8') })));
}

/** The simulator knows the records and tasks the samples name, except the one meant to be unknown. */
function seedSimulator(stack: LocalStack, samples: readonly Sample[]): void {
  for (const sample of samples) {
    const parsed = normaliseBody(sample.body, { checkRegion: () => undefined });
    if (!parsed.ok || sample.file.includes('unknown')) continue;
    const f = parsed.failure;
    if (f.recordId) stack.simulator.seedRecords(f.projectId, [{ id: f.recordId, status: 'FAILED', script_task_id: f.taskId, resource_id: `desktop-${f.recordId.slice(0, 6)}`, script_id: 'sample-script' }]);
    // A task-level event names every failed desktop of its task: two here.
    else if (f.taskId) stack.simulator.seedRecords(f.projectId, [1, 2].map((n) => ({ id: `${f.taskId!.slice(0, 24)}desk${n}`, status: 'FAILED', script_task_id: f.taskId, resource_id: `desktop-task-${n}`, script_id: 'sample-script', reason: f.reason, end_time: new Date().toISOString().slice(0, 19) + 'Z' })));
  }
}

async function main(): Promise<void> {
  const stack = await startLocalStack();
  Object.assign(process.env, stack.env, {
    POWERTOOLS_LOG_LEVEL: process.env['POWERTOOLS_LOG_LEVEL'] ?? 'INFO',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  const capture = captureStdout({ echo: verbose });
  try {
    const samples = await loadSamples();
    seedSimulator(stack, samples);
    const sent = new Map<string, Sample>();
    for (const sample of [...samples, samples[0]!]) {
      const { MessageId } = await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.queueUrl, MessageBody: sample.body }));
      sent.set(MessageId!, sample);
    }
    const smn = await publishOneFailureThroughSmn(stack);
    const { handler } = (await import('../functions/queue.js')) as unknown as { handler: QueueHandler };
    const poller = new LocalEventSource({ sqs: stack.sqs, queueUrl: stack.queueUrl, queueArn: stack.queueArn, handler });
    const drained = async () => {
      const depth = await stack.depth(stack.queueUrl);
      return depth.visible === 0 && depth.inFlight === 0;
    };
    const totals = await poller.runUntil(drained, 60_000);
    capture.restore();

    const last = new Map<string, Record<string, unknown>>();
    for (const line of capture.outcomes()) last.set(String(line['originMessageId']), line);
    const rows = [...sent].map(([messageId, sample]) => {
      const outcome = last.get(messageId) ?? { kind: 'deferred', reason: 'not handled yet: still on the queue' };
      const parsed = normaliseBody(sample.body, { checkRegion: () => undefined });
      return {
        event: sample.file,
        failure: parsed.ok ? failureKey(parsed.failure).replace(/^[0-9a-f]{32}#/, '') : '(unreadable)',
        outcome: String(outcome['kind']),
        reason: String(outcome['reason'] ?? (outcome['kind'] === 'retried' ? `rule ${String(outcome['ruleId'])}, attempt ${String(outcome['attempt'])}` : '')),
        'new task id': String(outcome['newTaskId'] ?? ''),
      };
    });
    rows.push(smn.row(capture.outcomes()));
    const dlq = await stack.depth(stack.dlqUrl);
    const source = await stack.depth(stack.queueUrl);
    console.log(renderTable(rows, ['event', 'failure', 'outcome', 'reason', 'new task id']));
    console.log(
      `\n${sent.size} messages sent, ${totals.received} received over ${totals.rounds} polls; ` +
        `simulator accepted ${stack.simulator.retries.length} retries; dead-letter queue holds ${dlq.visible}; ` +
        `${source.delayed} deferred with a delay on the source queue.`,
    );
  } finally {
    capture.restore();
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
