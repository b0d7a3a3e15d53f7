import { randomUUID } from 'node:crypto';
import { SendMessageBatchCommand, type Message } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { takeAll } from '../../local/drain-queue.js';
import { captureStdout } from '../../local/log-capture.js';
import { FaultyProxy } from '../../local/faulty-proxy.js';
import { LocalEventSource, type QueueHandler } from '../../local/poller.js';
import { LOCAL_KEY, startLocalStack, type LocalStack } from '../../local/stack.js';
import { seededRandom } from '../helpers/random.js';

/**
 * The proof that nothing is lost: failure events through the whole local
 * stack while Workspace, the DLQ, Secrets Manager and the handler itself
 * misbehave, then an account of every event.
 */

export interface ChaosOptions {
  readonly events: number;
  /** Bound on the whole run. */
  readonly timeoutMs: number;
  readonly seed?: number;
  /** Parallel pollers (Lambda's concurrent batches). */
  readonly pollers?: number;
}

export interface ChaosReport {
  readonly events: number;
  readonly deliveries: number;
  readonly retriedOnce: number;
  readonly deadLetteredWithReason: number;
  readonly deadLetteredByRedrive: number;
  readonly stillOnQueue: number;
  readonly lost: number;
  readonly doubleRetries: number;
  readonly wronglyRetried: number;
  readonly secretsInOutput: number;
  readonly breakerOpened: number;
  readonly breakerClosed: number;
  readonly handlerCrashes: number;
  readonly dlqSendsRefused: number;
  readonly secretReadsRefusedWhileDown: boolean;
  readonly faultsInjected: Record<string, number>;
  readonly simulatorRequests: number;
  readonly seconds: number;
}

type Kind = 'retry' | 'permission' | 'unknown' | 'poison';

interface Planned {
  readonly id: string;
  readonly kind: Kind;
  readonly body: string;
}

const PROJECT = 'c0ffee00c0ffee00c0ffee00c0ffee00';

function plan(count: number, random: () => number): Planned[] {
  return Array.from({ length: count }, (_, i) => {
    const roll = random();
    const id = `chaos-${i}`;
    const kind: Kind = roll < 0.85 ? 'retry' : roll < 0.95 ? 'permission' : roll < 0.98 ? 'unknown' : 'poison';
    if (kind === 'poison') return { id, kind, body: i % 2 ? `{"project_id":"../${id}","record_id":"x"}` : `not json ${id}` };
    const reason = kind === 'permission' ? 'Access denied: needs administrator permission' : 'Script execution timed out';
    return { id, kind, body: JSON.stringify({ project_id: PROJECT, record_id: id, status: 'FAILED', reason }) };
  });
}

/** The handler, crashing half-way through every `every`-th batch (the first half ran, nothing was deleted). */
function crashing(handler: QueueHandler, every: number, counter: { crashes: number; invocations: number }): QueueHandler {
  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse | void> => {
    counter.invocations++;
    if (counter.invocations % every === 0 && event.Records.length > 1) {
      await handler({ Records: event.Records.slice(0, Math.ceil(event.Records.length / 2)) }, context);
      counter.crashes++;
      throw new Error('injected crash mid-batch');
    }
    return handler(event, context);
  };
}

async function sendAll(stack: LocalStack, bodies: readonly string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    await stack.sqs.send(new SendMessageBatchCommand({ QueueUrl: stack.queueUrl, Entries: bodies.slice(i, i + 10).map((body, j) => ({ Id: String(j), MessageBody: body })) }));
  }
}

function phase(atMs: number, forMs: number, on: () => void, off: () => void): NodeJS.Timeout[] {
  return [setTimeout(on, atMs), setTimeout(off, atMs + forMs)];
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const random = seededRandom(options.seed ?? 424242);
  const stack = await startLocalStack({
    name: `chaos-${randomUUID().slice(0, 8)}`,
    visibilityTimeoutSeconds: 2,
    maxReceiveCount: 30,
    simulator: { random: seededRandom((options.seed ?? 424242) + 1), faults: { throttle429: 0.05, unavailable503: 0.1, reset: 0.02, stall: 0.01, stallMs: 1_200, malformed: 0.01 } },
  });
  const proxy = await FaultyProxy.start(stack.sqsEndpoint);
  const viaProxy = (url: string) => `${proxy.url}${new URL(url).pathname}`;
  const dlqName = new URL(stack.dlqUrl).pathname.split('/').pop()!;
  let dlqDown = false;
  proxy.refuse = (target, body) => dlqDown && target.endsWith('SendMessageBatch') && body.includes(dlqName);

  const planned = plan(options.events, random);
  for (const p of planned) if (p.kind !== 'unknown' && p.kind !== 'poison') stack.simulator.seedRecords(PROJECT, [{ id: p.id, status: 'FAILED' }]);
  const deliveries = planned.flatMap((p) => (random() < 0.1 ? [p.body, p.body] : [p.body]));

  const savedEnv = { ...process.env };
  Object.assign(process.env, stack.env, {
    AWS_ENDPOINT_URL_SQS: proxy.url,
    DLQ_URL: viaProxy(stack.dlqUrl),
    SOURCE_QUEUE_URL: viaProxy(stack.queueUrl),
    WORKSPACE_TIMEOUT_MS: '400',
    CREDENTIALS_CACHE_TTL_SECONDS: '1',
    LEDGER_LEASE_SECONDS: '3',
    BREAKER_FAILURES: '10',
    BREAKER_COOLDOWN_SECONDS: '2',
    ERROR_THRESHOLD_PERCENT: '80',
    ERROR_THRESHOLD_MIN_CALLS: '8',
    RETRY_POLICY: JSON.stringify({ max_attempts: 8, backoff: { base_seconds: 1, max_seconds: 2 } }),
    POWERTOOLS_LOG_LEVEL: 'INFO',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  const capture = captureStdout();
  const counter = { crashes: 0, invocations: 0 };
  const timers: NodeJS.Timeout[] = [];
  let secretReadsWhileDown = 0;
  try {
    const { handler } = (await import('../../functions/queue.js')) as unknown as { handler: QueueHandler };
    await sendAll(stack, deliveries);
    // The outages, each for a while, overlapping the run's busiest part.
    const outage = { ...stack.simulator.faults };
    timers.push(...phase(1_500, 3_000, () => (stack.simulator.faults = { ...outage, unavailable503: 1 }), () => (stack.simulator.faults = outage)));
    timers.push(...phase(500, 2_500, () => (dlqDown = true), () => (dlqDown = false)));
    timers.push(
      ...phase(
        3_000,
        2_000,
        () => {
          stack.secrets.down = true;
          secretReadsWhileDown = stack.secrets.readCount(stack.secretId);
        },
        () => {
          stack.secrets.down = false;
        },
      ),
    );
    const source = new LocalEventSource({ sqs: stack.sqs, queueUrl: stack.queueUrl, queueArn: stack.queueArn, handler: crashing(handler, 25, counter), functionTimeoutMs: 120_000 });
    const empty = async () => {
      const depth = await stack.depth(stack.queueUrl);
      return depth.visible + depth.inFlight + depth.delayed === 0;
    };
    const deadline = started + options.timeoutMs;
    await Promise.all(Array.from({ length: options.pollers ?? 3 }, () => source.runUntil(empty, Math.max(1_000, deadline - Date.now()))));
  } finally {
    for (const timer of timers) clearTimeout(timer);
    capture.restore();
    for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
    Object.assign(process.env, savedEnv);
  }

  const dlq = await takeAll(stack.sqs, stack.dlqUrl);
  const remaining = await stack.depth(stack.queueUrl);
  const dlqByBody = new Map<string, Message[]>();
  for (const m of dlq) dlqByBody.set(m.Body ?? '', [...(dlqByBody.get(m.Body ?? '') ?? []), m]);

  let retriedOnce = 0, doubleRetries = 0, wronglyRetried = 0, withReason = 0, byRedrive = 0, lost = 0;
  const onQueue = remaining.visible + remaining.inFlight + remaining.delayed;
  for (const p of planned) {
    const count = p.kind === 'poison' ? 0 : stack.simulator.retryCount(p.id);
    if (count > 1) doubleRetries++;
    if (count >= 1 && p.kind !== 'retry') wronglyRetried++;
    const letters = dlqByBody.get(p.body) ?? [];
    if (count === 1) retriedOnce++;
    else if (letters.some((m) => m.MessageAttributes?.['reason']?.StringValue)) withReason++;
    else if (letters.length > 0) byRedrive++;
    else if (onQueue === 0) lost++;
  }
  const output = capture.raw.join('') + JSON.stringify(dlq);
  const secrets = [LOCAL_KEY.sk, LOCAL_KEY.ak].filter((s) => output.includes(s)).length + (/Signature=[0-9a-f]{16}/.test(output) ? 1 : 0);
  const lines = capture.lines();
  const report: ChaosReport = {
    events: planned.length,
    deliveries: deliveries.length,
    retriedOnce,
    deadLetteredWithReason: withReason,
    deadLetteredByRedrive: byRedrive,
    stillOnQueue: onQueue,
    lost,
    doubleRetries,
    wronglyRetried,
    secretsInOutput: secrets,
    breakerOpened: lines.filter((l) => l['message'] === 'circuit breaker opened').length,
    breakerClosed: lines.filter((l) => l['message'] === 'circuit breaker closed').length,
    handlerCrashes: counter.crashes,
    dlqSendsRefused: proxy.refused,
    secretReadsRefusedWhileDown: secretReadsWhileDown > 0 && lines.some((l) => String(l['reason'] ?? '').startsWith('CredentialsUnavailableError')),
    faultsInjected: Object.fromEntries(stack.simulator.faultsInjected),
    simulatorRequests: stack.simulator.requestsReceived,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
  await proxy.stop();
  await stack.stop();
  return report;
}

export function renderReport(report: ChaosReport): string {
  const rows: Array<[string, string]> = [
    ['failure events', String(report.events)],
    ['deliveries (10% twice)', String(report.deliveries)],
    ['retried exactly once (simulator count)', String(report.retriedOnce)],
    ['dead-lettered with a reason', String(report.deadLetteredWithReason)],
    ['dead-lettered by redrive (maxReceiveCount)', String(report.deadLetteredByRedrive)],
    ['still on the source queue', String(report.stillOnQueue)],
    ['lost', String(report.lost)],
    ['double retries', String(report.doubleRetries)],
    ['permanent failures retried', String(report.wronglyRetried)],
    ['secrets in captured output', String(report.secretsInOutput)],
    ['circuit breaker opened / closed', `${report.breakerOpened} / ${report.breakerClosed}`],
    ['handler crashes mid-batch', String(report.handlerCrashes)],
    ['DLQ sends refused (outage)', String(report.dlqSendsRefused)],
    ['records held while Secrets Manager was down', report.secretReadsRefusedWhileDown ? 'yes' : 'no'],
    ['simulator requests', String(report.simulatorRequests)],
    ['simulator faults injected', Object.entries(report.faultsInjected).map(([k, v]) => `${k}:${v}`).join(' ')],
    ['wall time (s)', String(report.seconds)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
