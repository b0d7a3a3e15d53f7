/**
 * `npm start`: the queue function on the embedded local stack. Starts the
 * emulators and the Workspace simulator in-process, sends every sample in
 * events/queue/ to the queue (the first one twice, as SQS may deliver it),
 * runs the function as Lambda's event source mapping would until the queue
 * is drained, and prints what became of each failure. The policy is the
 * bundled one with its `desktop-not-ready` rule reading the desktop and
 * waking it (DEMO_POLICY): the sample on a stopped desktop shows the desktop
 * started, its failure waiting, and its script retried once it is ready.
 *
 *   --verbose   also print the function's own JSON log lines
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { failureKey } from '../lib/events/failure.js';
import { normaliseBody } from '../lib/events/normalise.js';
import { DEFAULT_POLICY_DOCUMENT } from '../lib/policy/policy-config.js';
import { renderTable } from '../ops/table.js';
import { captureStdout } from './log-capture.js';
import { LocalEventSource, type QueueHandler } from './poller.js';
import { publishOneFailureThroughSmn } from './smn-demo.js';
import { type LocalStack, startLocalStack } from './stack.js';

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

/**
 * The bundled policy, with its `desktop-not-ready` rule reading the desktop
 * instead of waiting two minutes blind, and starting it when it is off
 * (docs/retry-policy.md, "Desktops"); desktops here boot in seconds.
 */
const DEMO_POLICY = {
  ...(DEFAULT_POLICY_DOCUMENT as { rules: Array<{ id: string }> }),
  rules: (DEFAULT_POLICY_DOCUMENT as { rules: Array<{ id: string }> }).rules.map((rule) =>
    rule.id === 'desktop-not-ready'
      ? {
          ...rule,
          delay_seconds: 0,
          desktop: { require: 'registered', wake: true, wait_max_seconds: 300, recheck_seconds: 2 },
        }
      : rule,
  ),
};

/**
 * The simulator knows the records and tasks the samples name, except the one
 * meant to be unknown, and their desktops: running, but for the sample on a
 * stopped desktop.
 */
function seedSimulator(stack: LocalStack, samples: readonly Sample[]): void {
  for (const sample of samples) {
    const parsed = normaliseBody(sample.body, { checkRegion: () => undefined });
    if (!parsed.ok || sample.file.includes('unknown')) continue;
    const f = parsed.failure;
    const desktops = f.recordId
      ? [f.resourceId ?? `desktop-${f.recordId.slice(0, 6)}`]
      : ['desktop-task-1', 'desktop-task-2'];
    for (const desktop of desktops)
      stack.simulator.desktops.seed(f.projectId, {
        desktop_id: desktop,
        ...(sample.file.includes('desktop-stopped') ? { status: 'SHUTOFF' as const } : {}),
      });
    if (f.recordId)
      stack.simulator.seedRecords(f.projectId, [
        {
          id: f.recordId,
          status: 'FAILED',
          script_task_id: f.taskId,
          resource_id: desktops[0],
          script_id: 'sample-script',
        },
      ]);
    // A task-level event names every failed desktop of its task: two here.
    else if (f.taskId)
      stack.simulator.seedRecords(
        f.projectId,
        desktops.map((desktop, n) => ({
          id: `${f.taskId!.slice(0, 24)}desk${n + 1}`,
          status: 'FAILED',
          script_task_id: f.taskId,
          resource_id: desktop,
          script_id: 'sample-script',
          reason: f.reason,
          end_time: new Date().toISOString().slice(0, 19) + 'Z',
        })),
      );
  }
}

/** What happened to the failure on a stopped desktop: its desktop's starts, then each of its outcomes in turn. */
function wakeStory(
  stack: LocalStack,
  samples: readonly Sample[],
  sent: ReadonlyMap<string, Sample>,
  outcomes: ReadonlyArray<Record<string, unknown>>,
): string {
  const sample = samples.find((s) => s.file.includes('desktop-stopped'));
  const parsed = sample && normaliseBody(sample.body, { checkRegion: () => undefined });
  if (!sample || !parsed?.ok) return '';
  const origin = [...sent].find(([, s]) => s === sample)?.[0];
  const steps = outcomes
    .filter((o) => o['originMessageId'] === origin)
    .map((o) =>
      o['kind'] === 'retried'
        ? `retried (attempt ${String(o['attempt'])})`
        : `${String(o['kind'])} (${String(o['code'])})`,
    );
  const desktop = parsed.failure.resourceId!;
  const starts = stack.simulator.desktops.startsOf(desktop);
  const reruns = stack.simulator.rerunsOf(parsed.failure.recordId!);
  const times = (n: number) => (n === 1 ? 'once' : `${n} times`);
  return `\n${sample.file}: desktop ${desktop} was SHUTOFF; started ${times(starts)} (os-start), then ${steps.join(' → ')}; its script was run again ${times(reruns)}.`;
}

async function main(): Promise<void> {
  const stack = await startLocalStack({ simulator: { desktops: { bootSeconds: 2, registerSeconds: 1 } } });
  Object.assign(process.env, stack.env, {
    POWERTOOLS_LOG_LEVEL: process.env['POWERTOOLS_LOG_LEVEL'] ?? 'INFO',
    POWERTOOLS_METRICS_DISABLED: 'true',
    RETRY_POLICY: JSON.stringify(DEMO_POLICY),
  });
  const capture = captureStdout({ echo: verbose });
  try {
    const samples = await loadSamples();
    seedSimulator(stack, samples);
    const sent = new Map<string, Sample>();
    for (const sample of [...samples, samples[0]!]) {
      const { MessageId } = await stack.sqs.send(
        new SendMessageCommand({ QueueUrl: stack.queueUrl, MessageBody: sample.body }),
      );
      sent.set(MessageId!, sample);
    }
    const smn = await publishOneFailureThroughSmn(stack);
    const { handler } = (await import('../functions/queue.js')) as unknown as { handler: QueueHandler };
    const poller = new LocalEventSource({
      sqs: stack.sqs,
      queueUrl: stack.queueUrl,
      queueArn: stack.queueArn,
      handler,
    });
    // Drained once nothing is visible or in flight, and nothing waits with a delay but for longer than this run (the
    // samples' own waits are seconds).
    const drained = async () => {
      const depth = await stack.depth(stack.queueUrl);
      return depth.visible === 0 && depth.inFlight === 0 && depth.delayed === 0;
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
        reason: String(
          outcome['reason'] ??
            (outcome['kind'] === 'retried'
              ? `rule ${String(outcome['ruleId'])}, attempt ${String(outcome['attempt'])}`
              : ''),
        ),
        'new task id': String(outcome['newTaskId'] ?? ''),
      };
    });
    rows.push(smn.row(capture.outcomes()));
    const dlq = await stack.depth(stack.dlqUrl);
    const source = await stack.depth(stack.queueUrl);
    console.log(renderTable(rows, ['event', 'failure', 'outcome', 'reason', 'new task id']));
    console.log(wakeStory(stack, samples, sent, capture.outcomes()));
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
