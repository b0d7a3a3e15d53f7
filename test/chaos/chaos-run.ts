import { randomUUID } from 'node:crypto';
import { type Message, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { normaliseBody } from '../../lib/events/normalise.js';
import { takeAll } from '../../local/drain-queue.js';
import { FaultyProxy } from '../../local/faulty-proxy.js';
import { captureStdout } from '../../local/log-capture.js';
import { LocalEventSource, type QueueHandler } from '../../local/poller.js';
import { LOCAL_KEY, type LocalStack, startLocalStack } from '../../local/stack.js';
import type { DesktopSeed } from '../../local/workspace-desktops.js';
import type { RetryReading } from '../../local/workspace-state.js';
import { seededRandom } from '../helpers/random.js';
import {
  CHAOS_PROJECT,
  type DesktopCondition,
  eventFor,
  type Kind,
  NEVER_READY,
  type PlannedRun,
  planChaos,
} from './chaos-plan.js';

/**
 * The proof that nothing is lost and no script runs twice: failure events in
 * every envelope through the whole local stack while Workspace loses answers
 * after doing the work, the DLQ and Secrets Manager go down and the handler
 * crashes mid-batch, then an account of every failed run by the simulator's
 * own count. The runs' desktops are read before each retry (the policy's
 * `desktop`); some are off, hibernated, starting, in maintenance, in ERROR,
 * deleted or never registered, and some starts fail. Every fault is placed
 * by a seed or a call count, never a timer.
 */

export interface ChaosOptions {
  readonly events: number;
  /** Bound on the whole run. */
  readonly timeoutMs: number;
  readonly seed?: number;
  /** Parallel pollers (Lambda's concurrent batches). */
  readonly pollers?: number;
  /** What Workspace's retry does (docs/workspace-api.md, "What a retry does"; default `new-task`). */
  readonly reading?: RetryReading;
  /**
   * LEDGER_LEASE_SECONDS (default 11, so leases end within the run). From 17 the lease outlives a wait for a call
   * place and the call (twice the worst-case call of 5.8 s, plus 5 s), and the next records are claimed while the
   * calls are out (docs/ledger-protocol.md, "Claims made ahead").
   */
  readonly leaseSeconds?: number;
}

export interface ChaosReport {
  readonly seed: number;
  readonly reading: RetryReading;
  readonly events: number;
  readonly deliveries: number;
  readonly failedRuns: number;
  readonly retriedOnce: number;
  readonly deadLetteredWithReason: number;
  readonly deadLetteredByRedrive: number;
  readonly stillOnQueue: number;
  readonly lost: number;
  readonly scriptsRunTwice: number;
  readonly chainsOverBudget: number;
  readonly wronglyRetried: number;
  readonly secretsInOutput: number;
  readonly answersLostAfterLanding: number;
  readonly foundByLookup: number;
  readonly breakerOpened: number;
  readonly breakerClosed: number;
  readonly handlerCrashes: number;
  readonly dlqSendsRefused: number;
  readonly secretReadsRefused: number;
  /** Ledger transactions cancelled by a conflict: racing another writer, and the scheduled burst. */
  readonly transactionConflicts: { readonly raced: number; readonly scheduled: number };
  /** Single-item ledger writes refused because a transaction held their item. */
  readonly writesMeetingTransactions: number;
  /** Failed runs planned on a desktop that was not ready. */
  readonly onDesktopsNotReady: number;
  /** Retries Workspace applied while the run's desktop could not run the script: attempts spent for nothing. */
  readonly attemptsOnUnreadyDesktops: number;
  /** Starts our pipeline sent, and the desktops that got more than one. */
  readonly desktopStarts: number;
  readonly desktopsStartedTwice: number;
  /** Runs on a desktop that was off or hibernated, retried once after it was started. */
  readonly wokenThenRetried: number;
  /** Dead letters by the start of their reason. */
  readonly deadLetters: Record<string, number>;
  readonly faultsInjected: Record<string, number>;
  /** Deferrals by their outcome code (re-enqueued and left alike): where the run's time went. */
  readonly deferrals: Record<string, number>;
  readonly simulatorRequests: number;
  readonly seconds: number;
}

const MAX_ATTEMPTS = 3;
/** The policy's `desktop` for the chaos project: desktops boot in 2 s and register 1 s later. */
const DESKTOP = { require: 'registered', wake: true, wait_max_seconds: 20, recheck_seconds: 1 };

const SEEDS: Readonly<Record<Exclude<DesktopCondition, 'deleted'>, Omit<DesktopSeed, 'desktop_id'>>> = {
  ready: {},
  starting: { status: 'SHUTOFF' },
  off: { status: 'SHUTOFF' },
  hibernated: { status: 'HIBERNATED' },
  maintenance: { in_maintenance_mode: true },
  unregistered: { status: 'ACTIVE', login_status: 'UNREGISTER' },
  error: { status: 'ERROR' },
};

/** Seeds each desktop as planned; a `starting` one is started by someone else (not counted as ours). */
function seedDesktops(stack: LocalStack, desktops: ReadonlyMap<string, DesktopCondition>): void {
  const fleet = stack.simulator.desktops;
  for (const [id, desktop] of desktops) {
    if (desktop === 'deleted') fleet.delete(CHAOS_PROJECT, id);
    else fleet.seed(CHAOS_PROJECT, { desktop_id: id, ...SEEDS[desktop] });
    if (desktop === 'starting') fleet.run(CHAOS_PROJECT, [id], 'os-start');
  }
  fleet.clearCounters();
}

/** The handler, whose context throws on the seeded calls: a record handler failing mid-batch inside the middy chain. */
function crashing(
  handler: QueueHandler,
  crashAt: (call: number) => boolean,
  counter: { crashes: number; calls: number },
): QueueHandler {
  return (event: SQSEvent, context: Context) => {
    const remaining = context.getRemainingTimeInMillis.bind(context);
    const getRemainingTimeInMillis = () => {
      if (crashAt(++counter.calls)) {
        counter.crashes++;
        throw new Error('injected crash mid-batch');
      }
      return remaining();
    };
    return handler(event, { ...context, getRemainingTimeInMillis });
  };
}

async function sendAll(stack: LocalStack, bodies: readonly string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    await stack.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: stack.queueUrl,
        Entries: bodies.slice(i, i + 10).map((body, j) => ({ Id: String(j), MessageBody: body })),
      }),
    );
  }
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const seed = options.seed ?? 424242;
  const random = seededRandom(seed);
  const outcomes = seededRandom(seed + 2);
  const stack = await startLocalStack({
    name: `chaos-${randomUUID().slice(0, 8)}`,
    visibilityTimeoutSeconds: 2,
    maxReceiveCount: 50,
    simulator: {
      reading: options.reading ?? 'new-task',
      random: seededRandom(seed + 1),
      // A retry's run fails again now and then: its failure event comes back as the next attempt.
      newRunOutcome: () => (outcomes() < 0.25 ? 'FAILED' : 'SUCCESS'),
      faults: {
        throttle429: 0.03,
        unavailable503: 0.06,
        reset: 0.01,
        stall: 0.005,
        stallMs: 1_200,
        malformed: 0.01,
        stallAfter: 0.01,
        resetAfter: 0.01,
        garbledAfter: 0.01,
        error5xxAfter: 0.01,
      },
      desktops: { bootSeconds: 2, registerSeconds: 1, startFailureShare: 0.1, random: seededRandom(seed + 5) },
    },
  });
  // An outage: the 100th to 159th retry calls answer 503, enough to open the breaker even when the other calls'
  // successes (lookups, desktop reads: one breaker per key) fall between them; its probes end it. At 40 calls one
  // run in six never opened it.
  stack.simulator.planFaults(
    ...Array.from({ length: 60 }, (_, i) => ({ kind: '503' as const, route: 'retry' as const, call: 100 + i })),
  );
  const proxy = await FaultyProxy.start(stack.sqsEndpoint);
  const viaProxy = (url: string) => `${proxy.url}${new URL(url).pathname}`;
  const dlqName = new URL(stack.dlqUrl).pathname.split('/').pop()!;
  let dlqSends = 0;
  proxy.refuse = (target, body) =>
    target.endsWith('SendMessageBatch') && body.includes(dlqName) && ++dlqSends >= 3 && dlqSends <= 8;
  stack.secrets.failRead = (call) => call >= 3 && call <= 5;
  // A burst of ledger transactions cancelled as if another writer held one of their items (each set is sent again).
  stack.dynamoTransactions.conflictTransactions({ count: 12, skip: 30 });

  const plan = planChaos(options.events, random, seededRandom(seed + 4));
  stack.simulator.seedRecords(
    CHAOS_PROJECT,
    plan.runs.map((r) => r.record),
  );
  seedDesktops(stack, plan.desktops);
  // Every failed run an event names, by run (`<record id>#<run number>`): a record run again in place is a new run.
  const kinds = new Map<string, Kind>([...plan.named].map(([id, kind]) => [`${id}#0`, kind]));
  const deliveries = [...plan.bodies];

  const savedEnv = { ...process.env };
  Object.assign(process.env, stack.env, {
    AWS_ENDPOINT_URL_SQS: proxy.url,
    DLQ_URL: viaProxy(stack.dlqUrl),
    SOURCE_QUEUE_URL: viaProxy(stack.queueUrl),
    WORKSPACE_TIMEOUT_MS: '400',
    WORKSPACE_IN_CALL_RETRIES: '0',
    LEDGER_LEASE_SECONDS: String(options.leaseSeconds ?? 11),
    // One process, one clock: no skew to allow for between containers.
    CLOCK_SKEW_SECONDS: '1',
    CREDENTIALS_CACHE_TTL_SECONDS: '1',
    BREAKER_FAILURES: '5',
    BREAKER_COOLDOWN_SECONDS: '1',
    ERROR_THRESHOLD_PERCENT: '80',
    ERROR_THRESHOLD_MIN_CALLS: '8',
    RETRY_POLICY: JSON.stringify({
      max_attempts: MAX_ATTEMPTS,
      backoff: { base_seconds: 1, max_seconds: 2 },
      projects: { [CHAOS_PROJECT]: { desktop: DESKTOP } },
    }),
    POWERTOOLS_LOG_LEVEL: 'INFO',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  const capture = captureStdout();
  const counter = { crashes: 0, calls: 0 };
  // Crashes at seeded call numbers of the handler's clock: three of the first 300 records.
  const crashRandom = seededRandom(seed + 3);
  const crashCalls = new Set(Array.from({ length: 3 }, () => 20 + Math.floor(crashRandom() * 280)));
  const crashAt = (call: number) => crashCalls.has(call);
  try {
    const { handler } = (await import('../../functions/queue.js')) as unknown as { handler: QueueHandler };
    await sendAll(stack, deliveries);
    const source = new LocalEventSource({
      sqs: stack.sqs,
      queueUrl: stack.queueUrl,
      queueArn: stack.queueArn,
      handler: crashing(handler, crashAt, counter),
      functionTimeoutMs: 120_000,
    });
    const empty = async () => {
      const depth = await stack.depth(stack.queueUrl);
      return depth.visible + depth.inFlight + depth.delayed === 0;
    };
    const emitted = new Set<string>();
    const state = stack.simulator.state;
    // The runs our retries started that failed again: their failure events arrive like any other, while the run goes
    // on.
    const emitNewFailures = async (): Promise<number> => {
      const runs = state.log.entries
        .flatMap((e) => e.reruns)
        .filter((r) => !emitted.has(r.newRun) && state.runKey(CHAOS_PROJECT, r.newRecordId) === r.newRun);
      const again = runs.filter((r) => state.record(CHAOS_PROJECT, r.newRecordId)!.status === 'FAILED');
      for (const r of again) {
        emitted.add(r.newRun);
        kinds.set(r.newRun, 'retry');
      }
      const bodies = again.map((r) => eventFor(state.record(CHAOS_PROJECT, r.newRecordId)!, random, `evt-${r.newRun}`));
      deliveries.push(...bodies);
      if (bodies.length) await sendAll(stack, bodies);
      return bodies.length;
    };
    const done = async () => (await emitNewFailures()) === 0 && (await empty());
    await Promise.all(
      Array.from({ length: options.pollers ?? 3 }, () =>
        source.runUntil(done, Math.max(1_000, started + options.timeoutMs - Date.now())),
      ),
    );
  } finally {
    capture.restore();
    for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
    Object.assign(process.env, savedEnv);
  }
  const report = await account(stack, kinds, capture, {
    seed,
    reading: options.reading ?? 'new-task',
    deliveries: deliveries.length,
    events: options.events,
    crashes: counter.crashes,
    dlqSendsRefused: proxy.refused,
    started,
    runs: plan.runs,
  });
  await proxy.stop();
  await stack.stop();
  return report;
}

interface RunFacts {
  readonly runs: readonly PlannedRun[];
  readonly seed: number;
  readonly reading: RetryReading;
  readonly events: number;
  readonly deliveries: number;
  readonly crashes: number;
  readonly dlqSendsRefused: number;
  readonly started: number;
}

/** Every failed run named by an event: retried once, dead-lettered with a reason, or still queued; never run twice. */
async function account(
  stack: LocalStack,
  kinds: ReadonlyMap<string, Kind>,
  capture: ReturnType<typeof captureStdout>,
  facts: RunFacts,
): Promise<ChaosReport> {
  const dlq = await takeAll(stack.sqs, stack.dlqUrl);
  const remaining = await stack.depth(stack.queueUrl);
  const onQueue = remaining.visible + remaining.inFlight + remaining.delayed;
  const letters = new Map<string, Message[]>();
  for (const m of dlq) {
    const parsed = normaliseBody(m.Body ?? '', { checkRegion: () => undefined });
    const id = parsed.ok ? parsed.failure.recordId : undefined;
    if (id) letters.set(id, [...(letters.get(id) ?? []), m]);
  }
  const sim = stack.simulator;
  let retriedOnce = 0,
    twice = 0,
    wrongly = 0,
    withReason = 0,
    byRedrive = 0,
    lost = 0;
  for (const [run, kind] of kinds) {
    const reruns = sim.rerunsOfRun(run);
    if (reruns > 1) twice++;
    if (reruns >= 1 && kind !== 'retry') wrongly++;
    // A run not retried is accounted for by a letter for its record (a retried run of that record has a later run).
    const mine = letters.get(run.split('#')[0]!) ?? [];
    if (reruns === 1) retriedOnce++;
    else if (mine.some((m) => m.MessageAttributes?.['reason']?.StringValue)) withReason++;
    else if (mine.length > 0) byRedrive++;
    else if (onQueue === 0) lost++;
  }
  // A chain's budget: the retries along each original run's line of re-runs.
  const next = new Map([...sim.state.log.parents()].map(([run, from]) => [from, run] as const));
  let overBudget = 0;
  for (const [run] of kinds) {
    if (!run.endsWith('#0') || !run.startsWith('chaos-')) continue;
    let length = 0;
    for (let at = next.get(run); at !== undefined; at = next.get(at)) length++;
    if (length > MAX_ATTEMPTS) overBudget++;
  }
  const output = capture.raw.join('') + JSON.stringify(dlq);
  const lines = capture.lines();
  const desktops = desktopAccount(stack, facts.runs);
  return {
    seed: facts.seed,
    reading: facts.reading,
    events: facts.events,
    deliveries: facts.deliveries,
    failedRuns: kinds.size,
    retriedOnce,
    deadLetteredWithReason: withReason,
    deadLetteredByRedrive: byRedrive,
    stillOnQueue: onQueue,
    lost,
    scriptsRunTwice: twice,
    chainsOverBudget: overBudget,
    wronglyRetried: wrongly,
    secretsInOutput:
      [LOCAL_KEY.sk, LOCAL_KEY.ak].filter((s) => output.includes(s)).length +
      (/Signature=[0-9a-f]{16}/.test(output) ? 1 : 0),
    answersLostAfterLanding: sim.state.log.entries.filter((e) => e.answerLost).length,
    foundByLookup: capture.outcomes().filter((o) => o['via'] === 'lookup').length,
    breakerOpened: lines.filter((l) => l['message'] === 'circuit breaker opened').length,
    breakerClosed: lines.filter((l) => l['message'] === 'circuit breaker closed').length,
    handlerCrashes: facts.crashes,
    dlqSendsRefused: facts.dlqSendsRefused,
    secretReadsRefused: stack.secrets.refusedReads,
    transactionConflicts: {
      raced: stack.dynamoTransactions.conflictsAnswered.transactions,
      scheduled: stack.dynamoTransactions.conflictsAnswered.scheduled,
    },
    writesMeetingTransactions: stack.dynamoTransactions.conflictsAnswered.writes,
    ...desktops,
    deadLetters: countBy(
      dlq.map(
        (m) =>
          m.MessageAttributes?.['rule_id']?.StringValue ??
          (m.MessageAttributes?.['reason'] ? '(no rule)' : '(redrive)'),
      ),
    ),
    faultsInjected: Object.fromEntries(sim.faultsInjected),
    deferrals: countBy(
      capture
        .outcomes()
        .filter((o) => o['kind'] === 'deferred')
        .map((o) => String(o['code'])),
    ),
    simulatorRequests: sim.requestsReceived,
    seconds: Math.round((Date.now() - facts.started) / 100) / 10,
  };
}

/**
 * The desktops' part of the account: no retry reached a desktop that could
 * not run the script (the simulator's word at the retry, and any retry of a
 * run planned on a desktop that never becomes ready), no desktop started
 * twice, and runs on sleeping desktops woken and then retried.
 */
function desktopAccount(
  stack: LocalStack,
  runs: readonly PlannedRun[],
): Pick<
  ChaosReport,
  'onDesktopsNotReady' | 'attemptsOnUnreadyDesktops' | 'desktopStarts' | 'desktopsStartedTwice' | 'wokenThenRetried'
> {
  const sim = stack.simulator;
  const condition = new Map(runs.map((run) => [run.record.resource_id!, run.desktop]));
  const spent = sim.state.log.entries
    .flatMap((e) => e.reruns)
    .filter(
      (rerun) =>
        rerun.desktopRefused !== undefined || NEVER_READY.has(condition.get(rerun.resourceId ?? '') ?? 'ready'),
    );
  const starts = sim.desktops.actions.filter((action) => action.opType === 'os-start');
  const perDesktop = countBy(starts.flatMap((action) => action.desktopIds));
  const sleeping = runs.filter(
    (run) => run.kind === 'retry' && (run.desktop === 'off' || run.desktop === 'hibernated'),
  );
  return {
    onDesktopsNotReady: runs.filter((run) => run.desktop !== 'ready').length,
    attemptsOnUnreadyDesktops: spent.length,
    desktopStarts: starts.length,
    desktopsStartedTwice: Object.values(perDesktop).filter((n) => n > 1).length,
    wokenThenRetried: sleeping.filter(
      (run) => sim.desktops.startsOf(run.record.resource_id!) === 1 && sim.rerunsOfRun(`${run.record.id}#0`) === 1,
    ).length,
  };
}

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

export function renderReport(report: ChaosReport): string {
  const rows: Array<[string, string]> = [
    ['seed', String(report.seed)],
    ['reading of the retry', report.reading],
    ['failure events planned', String(report.events)],
    ['deliveries (duplicates, task-level and re-failed runs included)', String(report.deliveries)],
    ['failed runs named by an event', String(report.failedRuns)],
    ['retried exactly once (simulator count)', String(report.retriedOnce)],
    ['dead-lettered with a reason', String(report.deadLetteredWithReason)],
    ['dead-lettered by redrive (maxReceiveCount)', String(report.deadLetteredByRedrive)],
    ['still on the source queue', String(report.stillOnQueue)],
    ['lost', String(report.lost)],
    ['scripts run twice', String(report.scriptsRunTwice)],
    ['chains over max_attempts', String(report.chainsOverBudget)],
    ['permanent failures retried', String(report.wronglyRetried)],
    ['secrets in captured output', String(report.secretsInOutput)],
    ['retries applied, answer lost', String(report.answersLostAfterLanding)],
    ['lost answers found by the lookup', String(report.foundByLookup)],
    ['circuit breaker opened / closed', `${report.breakerOpened} / ${report.breakerClosed}`],
    ['handler crashes mid-batch (inside middy)', String(report.handlerCrashes)],
    ['DLQ sends refused (outage)', String(report.dlqSendsRefused)],
    ['secret reads refused (outage)', String(report.secretReadsRefused)],
    [
      'ledger transactions cancelled by a conflict (raced / scheduled)',
      `${report.transactionConflicts.raced} / ${report.transactionConflicts.scheduled}`,
    ],
    ['ledger writes refused while a transaction held their item', String(report.writesMeetingTransactions)],
    ['failed runs on desktops not ready (planned)', String(report.onDesktopsNotReady)],
    ['attempts spent on desktops not ready', String(report.attemptsOnUnreadyDesktops)],
    ['desktop starts sent / desktops started twice', `${report.desktopStarts} / ${report.desktopsStartedTwice}`],
    ['runs on sleeping desktops woken, then retried once', String(report.wokenThenRetried)],
    [
      'deferrals by code',
      Object.entries(report.deferrals)
        .map(([k, v]) => `${k}:${v}`)
        .join(' '),
    ],
    [
      'dead letters by rule',
      Object.entries(report.deadLetters)
        .map(([k, v]) => `${k}:${v}`)
        .join(' '),
    ],
    ['simulator requests', String(report.simulatorRequests)],
    [
      'simulator faults injected',
      Object.entries(report.faultsInjected)
        .map(([k, v]) => `${k}:${v}`)
        .join(' '),
    ],
    ['wall time (s)', String(report.seconds)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
