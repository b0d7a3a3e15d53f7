import { vi } from 'vitest';
import { type AppConfig, worstCaseCallMs } from '../../lib/config/app-config.js';
import type { SweepConfig } from '../../lib/config/sweep-config.js';
import { AttemptLedger } from '../../lib/ledger/attempt-ledger.js';
import { isChain } from '../../lib/ledger/chain.js';
import { parsePolicy } from '../../lib/policy/policy-config.js';
import type { QueueBatchDeps } from '../../lib/ways-in/queue-batch.js';
import { CircuitBreakers } from '../../lib/workspace/circuit-breakers.js';
import { WorkspaceCredentials } from '../../lib/workspace/credentials.js';
import { InvocationDesktops } from '../../lib/workspace/desktop-reads.js';
import { ErrorBudget } from '../../lib/workspace/error-budget.js';
import { RetryReadings } from '../../lib/workspace/retry-readings.js';
import { DesktopFleet, type DesktopSeed } from '../../local/workspace-desktops.js';
import type { RetryReading } from '../../local/workspace-state.js';
import { PROJECT_ID } from '../helpers/factories.js';
import { type CrashPoint, type Gate, Invocation } from './invocation.js';
import { MemoryLedgerStore } from './memory-ledger-store.js';
import { QueueModel } from './queue-model.js';
import { type ModelRecord, WorkspaceModel } from './workspace-model.js';

/**
 * Everything one model run works on: the clock, Workspace, the ledger table,
 * the source queue and the DLQ, one container's breakers and credentials,
 * and the record of what happened (events sent, outcomes logged, replays,
 * console runs) that the invariants are checked against.
 */

export const REASONS = {
  retry: 'Script execution timed out',
  later: 'desktop offline',
  giveUp: 'script error: exit code 1',
} as const;
export type ReasonKind = keyof typeof REASONS;

/** A desktop's state when a run starts: ready, or one of the ways a desktop cannot take a script. */
/** `unregistered`: running, its agent never registers. */
export type DesktopCondition = 'ready' | 'off' | 'hibernated' | 'unregistered' | 'maintenance' | 'error' | 'deleted';
export const DESKTOP_CONDITIONS: readonly DesktopCondition[] = [
  'ready',
  'off',
  'hibernated',
  'unregistered',
  'maintenance',
  'error',
  'deleted',
];

const SEEDS: Readonly<Record<Exclude<DesktopCondition, 'deleted'>, Omit<DesktopSeed, 'desktop_id'>>> = {
  ready: {},
  off: { status: 'SHUTOFF' },
  hibernated: { status: 'HIBERNATED' },
  unregistered: { status: 'ACTIVE', login_status: 'UNREGISTER' },
  maintenance: { in_maintenance_mode: true },
  error: { status: 'ERROR' },
};

/** The policy's `desktop` for the project (docs/retry-policy.md, "Desktops"), when the run models desktops. */
export const MODEL_DESKTOP_WAIT_MAX_SECONDS = 600;

export interface WorldSpec {
  readonly maxAttempts: number;
  /** Desktops of each seeded task and the reason its records failed with. */
  readonly tasks: ReadonlyArray<{ readonly desktops: number; readonly reason: ReasonKind }>;
  /** Let a retried run fail before the ledger links its task (the known gap; off in the property). */
  readonly failUnlinkedRuns?: boolean;
  /** Seeded tasks run the same script on the same desktops, so their runs are told apart only by time and task. */
  readonly sharedDesktops?: boolean;
  /** What a retry does in Workspace (default `new-task`). */
  readonly reading?: RetryReading;
  /** Workspace's clock minus ours, in seconds (within CLOCK_SKEW_SECONDS). */
  readonly workspaceSkewSeconds?: number;
  /**
   * Desktops that may not be ready: each one's state at the start (by desktop
   * number, cycling), whether the policy wakes them, and which desktops'
   * first start fails. Without it the policy reads no desktop.
   */
  readonly desktops?: {
    readonly states: readonly DesktopCondition[];
    readonly wake: boolean;
    readonly failFirstStart?: readonly boolean[];
  };
  /**
   * MAX_CONCURRENCY (default 10). Below a batch's size, the next records' ledger reads are made while the first
   * ones run, and a record whose call was answered gives its place away while its outcome is written
   * (lib/pipeline/runner.ts): the model then judges reads of any age within an invocation.
   */
  readonly concurrency?: number;
  /**
   * LEDGER_LEASE_SECONDS (default 60). At 60 the lease outlives a wait for a call place and the call, so the runner
   * has claims made ahead of a free place; at its floor (26 s with the model's timeouts) it has none.
   */
  readonly leaseSeconds?: number;
}

export interface LoggedOutcome {
  readonly way: string;
  readonly messageId: string;
  readonly originMessageId?: string;
  readonly kind: string;
  readonly code?: string;
  readonly reason?: string;
  readonly via?: string;
}

const LEASE_SECONDS = 60;
/** serverless.yml's queueVisibilityTimeoutSeconds. */
const VISIBILITY_SECONDS = 720;
const T0 = Date.parse('2026-11-29T12:00:00Z');

export class World {
  private time = T0;
  readonly now = (): number => this.time;
  readonly ws: WorkspaceModel;
  readonly store = new MemoryLedgerStore();
  readonly source = new QueueModel('source', this.now, VISIBILITY_SECONDS * 1000);
  readonly dlq = new QueueModel('dlq', this.now, VISIBILITY_SECONDS * 1000);
  readonly config: AppConfig;
  readonly sweep: SweepConfig = {
    projects: [{ projectId: PROJECT_ID }],
    lookbackMinutes: 60,
    overlapMinutes: 30,
    safetyMarginMs: 10_000,
  };
  readonly breakers: CircuitBreakers;
  /** What the container has seen Workspace's retries do (one container: the world's). */
  readonly readings = new RetryReadings();
  readonly credentials = new WorkspaceCredentials('model-secret', {
    load: async () => ({ ak: 'MODELAK', sk: 'MODELSK' }),
    reload: async () => ({ ak: 'MODELAK', sk: 'MODELSK' }),
  });
  /**
   * Runs named by the failure events sent (`<record id>#<run number>`; a task event names every failed run of its
   * task).
   */
  readonly named: string[] = [];
  readonly outcomes: LoggedOutcome[] = [];
  /** Replayed dead letters: their id on the source queue, the record they name, when they were decided. */
  readonly replays: Array<{ readonly messageId: string; readonly decidedAt: number; readonly body: string }> = [];
  /** Records an operator forced (their chains may exceed max_attempts by the operator's will). */
  readonly forced = new Set<string>();
  /** Console payloads answered "deferred: invoke again", which the operator (the drain) sends again. */
  readonly askAgain: Array<Record<string, unknown>> = [];
  private invocations = 0;
  readonly started: Invocation[] = [];
  /** Violations seen while the run went (a dry run that wrote), reported with the invariants. */
  readonly violations: string[] = [];
  /** Desktops as Workspace keeps them, on the model's clock (local/workspace-desktops.ts). */
  readonly fleet: DesktopFleet;
  /** Starts our pipeline sent that reached Workspace: the desktop and when. */
  readonly starts: Array<{ readonly desktop: string; readonly at: number }> = [];

  constructor(
    readonly spec: WorldSpec,
    readonly gate: Gate,
  ) {
    vi.setSystemTime(T0);
    let jobs = 0;
    this.fleet = new DesktopFleet(
      () => new Date(this.now()),
      () => `job${++jobs}`,
      { bootSeconds: 30, registerSeconds: 10 },
    );
    const desktopRefusal = spec.desktops
      ? (desktopId: string) => this.fleet.scriptRefusal(PROJECT_ID, desktopId)?.reason
      : undefined;
    this.ws = new WorkspaceModel(this.now, {
      reading: spec.reading,
      skewMs: (spec.workspaceSkewSeconds ?? 0) * 1000,
      desktopRefusal,
    });
    const worstCase = worstCaseCallMs(3_000, 1);
    this.config = {
      defaultRegion: 'cn-north-4',
      endpoints: new Map(),
      credentialsSecretId: 'model-secret',
      credentialsCacheTtlSeconds: 300,
      deadLetterQueueUrl: 'https://sqs.model/dlq',
      sourceQueueUrl: 'https://sqs.model/source',
      ledgerTable: 'model',
      ledgerTtlDays: 30,
      leaseSeconds: spec.leaseSeconds ?? LEASE_SECONDS,
      worstCaseCallMs: worstCase,
      clockSkewSeconds: 120,
      maxConcurrency: spec.concurrency ?? 10,
      policy: parsePolicy({
        max_attempts: spec.maxAttempts,
        max_age_seconds: 7 * 86_400,
        backoff: { base_seconds: 10, max_seconds: 60 },
        rules: [
          { id: 'script-error', verdict: 'give-up', reason_contains: ['exit code'] },
          { id: 'timeout', verdict: 'retry', reason_contains: ['timed out'] },
          { id: 'desktop-not-ready', verdict: 'retry', delay_seconds: 30, reason_contains: ['offline'] },
        ],
        ...(spec.desktops
          ? {
              projects: {
                [PROJECT_ID]: {
                  desktop: {
                    require: 'registered',
                    wake: spec.desktops.wake,
                    wait_max_seconds: MODEL_DESKTOP_WAIT_MAX_SECONDS,
                    recheck_seconds: 120,
                  },
                },
              },
            }
          : {}),
      }),
      dryRun: false,
      retriesEnabled: true,
      workspaceTimeoutMs: 3_000,
      workspaceInCallRetries: 1,
      breakerFailures: 5,
      breakerCooldownSeconds: 30,
      authCooldownSeconds: 300,
      errorThreshold: 0.5,
      errorThresholdMinCalls: 5,
    };
    this.breakers = new CircuitBreakers({ consecutiveFailures: 5, halfOpenAfterMs: 30_000, authCooldownMs: 300_000 });
    let desktop = 0;
    // With `sharedDesktops`, every task runs the script on the same desktops (a script run again by its schedule or by
    // hand).
    spec.tasks.forEach((task) =>
      this.ws.seedTask(
        Array.from({ length: task.desktops }, (_, i) => (spec.sharedDesktops ? `d${i + 1}` : `d${++desktop}`)),
        's1',
        REASONS[task.reason],
      ),
    );
    if (spec.desktops) this.seedDesktops(spec.desktops);
  }

  private seedDesktops(desktops: NonNullable<WorldSpec['desktops']>): void {
    const ids = [...new Set([...this.ws.records.values()].map((r) => r.resource_id))];
    ids.forEach((id, i) => {
      const condition = desktops.states[i % desktops.states.length] ?? 'ready';
      if (condition === 'deleted') this.fleet.delete(PROJECT_ID, id);
      else this.fleet.seed(PROJECT_ID, { desktop_id: id, ...SEEDS[condition] });
      if (desktops.failFirstStart?.[i % desktops.failFirstStart.length]) this.fleet.failNextStart(id);
    });
  }

  advance(seconds: number): void {
    this.time += seconds * 1000;
    vi.setSystemTime(this.time);
  }

  /** A new invocation (a process) with its own view of the world. */
  invocation(kind: string, crash: CrashPoint): Invocation {
    const invocation = new Invocation(`${kind}#${++this.invocations}`, crash, this.gate);
    this.started.push(invocation);
    return invocation;
  }

  /** What one invocation works with, as lib/ways-in/runtime.ts forInvocation builds it, over the models. */
  deps(invocation: Invocation): QueueBatchDeps {
    const ledger = new AttemptLedger(invocation.store(this.store), {
      leaseMs: this.config.leaseSeconds * 1000,
      ttlDays: 30,
      skewMs: this.config.clockSkewSeconds * 1000,
      now: this.now,
      sleep: async () => undefined,
    });
    const errorBudget = new ErrorBudget(this.config.errorThreshold, this.config.errorThresholdMinCalls);
    const desktopCalls = invocation.desktops(this.fleet, this.ws, (desktop) =>
      this.starts.push({ desktop, at: this.now() }),
    );
    return {
      config: this.config,
      workspace: invocation.workspace(this.ws),
      desktops: new InvocationDesktops(desktopCalls, errorBudget),
      ledger,
      credentials: this.credentials,
      breakers: this.breakers,
      readings: this.readings,
      errorBudget,
      now: this.now,
      forwarders: {
        forwardDryRuns: true,
        deadLetters: invocation.sender(this.dlq),
        requeue: invocation.sender(this.source),
      },
    };
  }

  /**
   * Sends a failure event to the source queue; `runs` are the failed runs it names (a task event: every one of its
   * task).
   */
  send(body: string, runs: readonly string[]): void {
    this.source.add(body);
    this.named.push(...runs);
  }

  /** A desktop the run's records are on, by pick. */
  desktopAt(index: number): string | undefined {
    const ids = [...new Set([...this.ws.records.values()].map((r) => r.resource_id))];
    return ids.length ? ids[index % ids.length] : undefined;
  }

  record(index: number, filter: (r: ModelRecord) => boolean = () => true): ModelRecord | undefined {
    const records = [...this.ws.records.values()].filter(filter);
    return records.length ? records[index % records.length] : undefined;
  }

  /**
   * Whether the ledger has settled the retry that started a run (so a failure
   * of it cannot race the retry's outcome): an original failure, or a retry's
   * run whose answer a chain recorded. With `failUnlinkedRuns`, every run.
   */
  known(record: ModelRecord): boolean {
    if (this.spec.failUnlinkedRuns === true || !this.ws.isRetryRun(record.id)) return true;
    return [...this.store.items.values()].some(
      (item) =>
        isChain(item) &&
        item.state !== 'claimed' &&
        item.state !== 'unknown' &&
        item.tasks.includes(record.script_task_id) &&
        item.attempts > 0,
    );
  }

  disarm(): void {
    this.store.disarm();
    this.ws.disarm();
    this.source.disarm();
    this.dlq.disarm();
  }
}
