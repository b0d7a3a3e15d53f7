import { afterEach, describe, expect, it, vi } from 'vitest';
import { AttemptLedger } from '../../lib/ledger/attempt-ledger.js';
import { type Chain, desktopKey, isChain, newChain, type RunFacts, recordKey } from '../../lib/ledger/chain.js';
import type { Located } from '../../lib/ledger/locate.js';
import type { FailureContext, FailureInput } from '../../lib/pipeline/context.js';
import { type DesktopCheck, desktopGate } from '../../lib/pipeline/desktop-gate.js';
import type { Resolution } from '../../lib/pipeline/resolution.js';
import { logger, metrics } from '../../lib/platform/observability.js';
import type { DesktopRequirement } from '../../lib/policy/policy-config.js';
import { CircuitBreakers, CircuitOpenError } from '../../lib/workspace/circuit-breakers.js';
import { WorkspaceCredentials } from '../../lib/workspace/credentials.js';
import { InvocationDesktops, type StartResult } from '../../lib/workspace/desktop-reads.js';
import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import { type KeyedCalls, KeyRefusedError } from '../../lib/workspace/key-calls.js';
import type { DesktopSeed } from '../../local/workspace-desktops.js';
import { DESKTOP_T0, type DesktopCallFaults, fleetDesktopCalls } from '../helpers/desktops.js';
import { PROJECT_ID } from '../helpers/factories.js';
import { MemoryLedgerStore } from '../model/memory-ledger-store.js';

/**
 * The desktop check before a retry's claim (lib/pipeline/desktop-gate.ts) on
 * its own: the desktop read from the simulator's fleet in memory, the ledger
 * on the in-memory store, the clock a number. What the check lets through,
 * what it writes for a run that waits, how it starts a desktop once per
 * window, and what a dry run shows. The same check through the queue function
 * over HTTP is in test/integration/desktop-gate.test.ts.
 */

const NOW = DESKTOP_T0 + 3_600_000;
const KEY = { ak: 'AK', sk: 'SK' };
const keys: KeyedCalls = {
  credentials: new WorkspaceCredentials('s', { load: async () => KEY, reload: async () => KEY }),
  breakers: new CircuitBreakers({ consecutiveFailures: 100, halfOpenAfterMs: 1_000, authCooldownMs: 1_000 }),
  projectId: PROJECT_ID,
  endpoint: 'https://workspace.test',
};
const NEED: DesktopRequirement = {
  require: 'registered',
  wake: true,
  waitMaxSeconds: 120,
  onError: 'give-up',
  recheckSeconds: 30,
};
const RULE = 'desktop-not-ready';
const CHAIN_KEY = recordKey(PROJECT_ID, 'r1');
const run: RunFacts = { projectId: PROJECT_ID, recordId: 'r1', taskId: 't1', resourceId: 'd1', scriptId: 's1' };

interface Setup {
  /** The desktop d1 as the fleet holds it (`absent`: no such desktop). */
  readonly desktop?: Omit<DesktopSeed, 'desktop_id'> | 'absent';
  readonly need?: Partial<DesktopRequirement> | 'none';
  /** The chain as located (and stored, unless `base`); none: the run's first failure. */
  readonly chain?: Chain;
  readonly generation?: number;
  readonly facts?: RunFacts;
  /** The chain the pipeline moved on to since it located the run (stored, and the standing's). */
  readonly base?: Chain;
  readonly dryRun?: boolean;
  readonly faults?: DesktopCallFaults;
}

/** One failure's desktop check, ready to run: its context, and the fleet, ledger and calls it goes through. */
function gateFor(setup: Setup = {}) {
  const { fleet, log, desktops: calls } = fleetDesktopCalls(setup.faults);
  if (setup.desktop !== 'absent') fleet.seed(PROJECT_ID, { desktop_id: 'd1', ...setup.desktop });
  const store = new MemoryLedgerStore();
  const stored = setup.base ?? setup.chain;
  if (stored) store.items.set(CHAIN_KEY, { ...stored });
  const ledger = new AttemptLedger(store, { leaseMs: 60_000, ttlDays: 30, now: () => NOW, sleep: async () => {} });
  const desktops = new InvocationDesktops(calls);
  const input = { failure: { projectId: PROJECT_ID, recordId: 'r1' }, firstSeenAt: NOW - 600_000 } as FailureInput;
  const ctx = {
    input,
    deps: {
      desktops,
      ledger,
      config: { policy: { backoffBaseSeconds: 10, backoffMaxSeconds: 300 } },
    },
    slot: {},
    now: NOW,
    dryRun: setup.dryRun ?? false,
    project: { projectId: PROJECT_ID },
    keys,
    credentials: KEY,
    letter: (reason: string, errorCode: string, ruleId: string, attempts: number) => ({
      reason,
      errorCode,
      ruleId,
      attempts,
      firstSeenAt: input.firstSeenAt,
      decidedAt: NOW,
    }),
  } as unknown as FailureContext;
  const located: Located = {
    chainKey: CHAIN_KEY,
    chain: setup.chain,
    generation: setup.generation ?? 0,
    run: setup.facts ?? run,
  };
  const standing = { kind: 'fresh', attemptsMade: stored?.attempts ?? 0, rev: stored?.rev } as const;
  const desktop = setup.need === 'none' ? undefined : { ...NEED, ...setup.need };
  const decision = { kind: 'retry-now', ruleId: RULE, attempt: 1, ...(desktop ? { desktop } : {}) } as const;
  const check = () => desktopGate(located, standing, decision, ctx, setup.base);
  const chain = () => {
    const item = store.items.get(CHAIN_KEY);
    return isChain(item) ? item : undefined;
  };
  const windowOf = () => store.items.get(desktopKey(PROJECT_ID, 'd1'));
  return { check, fleet, log, store, ledger, desktops, decision, chain, windowOf };
}

/** When the chain first saw the failure: before this event's first sighting (the older one is the failure's). */
const FIRST_SEEN = NOW - 900_000;
/** The run's chain as stored after its first failure: nothing attempted, at revision 1. */
const chainOf = (more: Partial<Chain> = {}): Chain => ({ ...newChain(run, FIRST_SEEN), rev: 1, ...more });

/** The resolution a check stopped with. */
function stopped(check: DesktopCheck): Resolution | 'conflict' {
  if (check.kind !== 'stop') throw new Error(`expected the check to stop, it went (${check.note})`);
  return check.resolution;
}

const desktopMetrics = () => {
  const counted = vi.spyOn(metrics, 'addMetric');
  return () => counted.mock.calls.map(([name]) => name).filter((name) => name.startsWith('Desktop'));
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe('what the desktop check lets through', () => {
  it('without a desktop requirement the retry goes, and no desktop is read', async () => {
    const gate = gateFor({ need: 'none', desktop: { status: 'SHUTOFF' } });
    expect(await gate.check()).toEqual({ kind: 'go' });
    expect(gate.log).toEqual([]);
  });

  it.each([
    ['a chain that names none', chainOf({ resource_id: undefined })],
    ['no chain yet', undefined],
  ])('a run whose event names no desktop, with %s, goes, and nothing is read', async (_, chain) => {
    const gate = gateFor({ facts: { ...run, resourceId: undefined }, chain });
    expect(await gate.check()).toEqual({ kind: 'go' });
    expect(gate.log).toEqual([]);
  });

  it('a ready desktop lets the retry go, with what the read found, and nothing is written', async () => {
    const gate = gateFor();
    const counted = desktopMetrics();
    expect(await gate.check()).toEqual({ kind: 'go', note: 'desktop d1 is ACTIVE, REGISTERED' });
    expect(gate.log).toEqual(['list d1']);
    expect(gate.store.items.size).toBe(0);
    expect(counted()).toEqual([]);
  });

  it('the desktop the chain names is read when the event names none', async () => {
    const gate = gateFor({ facts: { ...run, resourceId: undefined }, chain: chainOf() });
    expect(await gate.check()).toEqual({ kind: 'go', note: 'desktop d1 is ACTIVE, REGISTERED' });
    expect(gate.log).toEqual(['list d1']);
  });

  it('the chain the pipeline moved on to is the one whose desktop is read', async () => {
    const gate = gateFor({
      facts: { ...run, resourceId: undefined },
      chain: chainOf({ resource_id: 'elsewhere' }),
      base: chainOf({ resource_id: 'd1', rev: 2 }),
    });
    expect(await gate.check()).toEqual({ kind: 'go', note: 'desktop d1 is ACTIVE, REGISTERED' });
    expect(gate.log).toEqual(['list d1']);
  });

  it('a desktop read that fails for now defers the failure as a lookup of that desktop, and writes nothing', async () => {
    const gate = gateFor({
      faults: { read: new WorkspaceApiError({ status: 503, code: 'APIG.0201', message: 'down' }) },
    });
    expect(stopped(await gate.check())).toMatchObject({
      kind: 'requeue',
      code: 'lookup-failed',
      reason: 'lookup-failed: 503 APIG.0201 while looking up desktop d1',
    });
    expect(gate.store.items.size).toBe(0);
  });

  it('a desktop read refused for good gives the failure up with the refusal', async () => {
    const gate = gateFor({
      faults: { read: new WorkspaceApiError({ status: 403, code: 'APIG.0302', message: 'no' }) },
    });
    expect(stopped(await gate.check())).toMatchObject({
      kind: 'dead-letter',
      code: 'lookup-refused',
      letter: { reason: 'workspace-refused: 403 APIG.0302 while looking up desktop d1', errorCode: 'APIG.0302' },
    });
  });
});

describe('a desktop not ready: the run waits, its wait written once', () => {
  it("the first wait records when it began and the desktop's state, and re-enqueues the failure without an attempt", async () => {
    // Prepare
    const gate = gateFor({ desktop: { login_status: 'UNREGISTER' }, chain: chainOf() });
    const counted = desktopMetrics();

    // Act
    const resolution = stopped(await gate.check());

    // Assess
    expect(resolution).toEqual({
      kind: 'requeue',
      code: 'desktop-not-ready',
      reason: 'desktop-not-ready: desktop d1 is ACTIVE, UNREGISTER',
      delaySeconds: 30,
      attempt: 1,
      ruleId: RULE,
    });
    expect(gate.chain()).toMatchObject({
      rev: 2,
      attempts: 0,
      desktop_wait: { g: 0, desktop: 'd1', since: NOW },
      history: [{ outcome: 'desktop not ready', reason: 'desktop d1 is ACTIVE, UNREGISTER' }],
    });
    expect(gate.chain()!.desktop_wait!.woken_at).toBeUndefined();
    expect(counted()).toEqual(['DesktopNotReady']);
  });

  it('a later delivery of the same waiting run writes nothing, and waits no longer than what is left of wait_max_seconds', async () => {
    // Prepare: the run has waited 100 s of its 120.
    const chain = chainOf({ rev: 2, desktop_wait: { g: 0, desktop: 'd1', since: NOW - 100_000 } });
    const gate = gateFor({ desktop: { login_status: 'UNREGISTER' }, chain });

    // Act
    const resolution = stopped(await gate.check());

    // Assess
    expect(resolution).toMatchObject({ kind: 'requeue', code: 'desktop-not-ready', delaySeconds: 20 });
    expect(gate.chain()).toEqual(chain);
  });

  it("the wait of an earlier retry's run says nothing of this run: its wait begins now", async () => {
    // Prepare: generation 0 waited past wait_max_seconds; the run of generation 1 is checked now.
    const chain = chainOf({ rev: 2, desktop_wait: { g: 0, desktop: 'd1', since: NOW - 500_000 } });
    const gate = gateFor({ desktop: { login_status: 'UNREGISTER' }, chain, generation: 1 });

    // Act
    const resolution = stopped(await gate.check());

    // Assess
    expect(resolution).toMatchObject({ kind: 'requeue', code: 'desktop-not-ready', delaySeconds: 30 });
    expect(gate.chain()).toMatchObject({ rev: 3, desktop_wait: { g: 1, since: NOW } });
  });

  it('a desktop this run started already is not started again while it still reads off: the failure waits', async () => {
    // Prepare: this chain started the desktop 20 s ago; it still reads SHUTOFF.
    const chain = chainOf({
      rev: 2,
      desktop_wait: { g: 0, desktop: 'd1', since: NOW - 25_000, woken_at: NOW - 20_000 },
    });
    const gate = gateFor({ desktop: { status: 'SHUTOFF' }, chain });

    // Act
    const resolution = stopped(await gate.check());

    // Assess
    expect(resolution).toMatchObject({
      kind: 'requeue',
      code: 'desktop-waking',
      reason: 'desktop-waking: desktop d1 is SHUTOFF, UNREGISTER; it was started 20 s ago',
    });
    expect(gate.fleet.startsOf('d1')).toBe(0);
    expect(gate.windowOf()).toBeUndefined();
    expect(gate.chain()).toEqual(chain);
  });

  it('a wait is written over the chain the pipeline moved on to, not the one it located', async () => {
    // Prepare: the located chain is at revision 1; the pipeline since wrote revision 2 (its history says so).
    const base = chainOf({
      rev: 2,
      history: [
        {
          attempt: 0,
          at: new Date(NOW - 1_000).toISOString(),
          outcome: 'released',
          reason: 'the lost retry did not run',
        },
      ],
    });
    const gate = gateFor({ desktop: { login_status: 'UNREGISTER' }, chain: chainOf(), base });

    // Act
    const resolution = stopped(await gate.check());

    // Assess
    expect(resolution).toMatchObject({ kind: 'requeue', code: 'desktop-not-ready' });
    expect(gate.chain()).toMatchObject({
      rev: 3,
      desktop_wait: { g: 0, since: NOW },
      history: [{ outcome: 'released' }, { outcome: 'desktop not ready' }],
    });
  });

  it('a give-up is claimed from the chain the pipeline moved on to, its letter dated from that chain', async () => {
    const base = chainOf({ rev: 2, first_seen_at: FIRST_SEEN - 60_000, attempts: 1 });
    const gate = gateFor({ desktop: { status: 'ERROR' }, chain: chainOf(), base });
    expect(stopped(await gate.check())).toMatchObject({
      kind: 'dead-letter',
      code: 'desktop-error',
      letter: { firstSeenAt: FIRST_SEEN - 60_000, attempts: 1 },
      claim: { chain: { rev: 3, attempts: 1 } },
    });
    expect(gate.chain()).toMatchObject({ rev: 3, state: 'claimed', intent: 'give-up' });
  });

  it('a wait another delivery wrote first is a conflict: the failure is decided again', async () => {
    // Prepare: the chain moved on since it was read.
    const gate = gateFor({ desktop: { login_status: 'UNREGISTER' }, chain: chainOf() });
    gate.store.items.set(CHAIN_KEY, { ...chainOf({ rev: 2 }) });
    expect(await gate.check()).toEqual({ kind: 'stop', resolution: 'conflict' });
  });

  it("waited wait_max_seconds: the run is given up with the desktop's state, its give-up claimed", async () => {
    // Prepare
    const chain = chainOf({ rev: 2, desktop_wait: { g: 0, desktop: 'd1', since: NOW - 120_000 } });
    const gate = gateFor({ desktop: { in_maintenance_mode: true }, chain });
    const counted = desktopMetrics();

    // Act
    const resolution = stopped(await gate.check());

    // Assess
    expect(resolution).toMatchObject({
      kind: 'dead-letter',
      code: 'desktop-not-ready',
      letter: {
        reason:
          'desktop-not-ready: desktop d1 is still ACTIVE, REGISTERED, in maintenance 120 s after it was first found not ready (wait_max_seconds 120)',
        errorCode: 'DESKTOP_NOT_READY',
        ruleId: RULE,
        attempts: 0,
        firstSeenAt: FIRST_SEEN,
      },
      decision: gate.decision,
      claim: { chain: { rev: 3 } },
    });
    expect(gate.chain()).toMatchObject({ rev: 3, state: 'claimed', intent: 'give-up' });
    expect(counted()).toEqual(['DesktopNotReady']);
  });

  it('a desktop in ERROR is given up with its state; the give-up another delivery claimed first is a conflict', async () => {
    const gate = gateFor({ desktop: { status: 'ERROR' }, chain: chainOf() });
    expect(stopped(await gate.check())).toMatchObject({
      kind: 'dead-letter',
      code: 'desktop-error',
      letter: { errorCode: 'DESKTOP_ERROR', reason: expect.stringMatching(/^desktop-error: desktop d1 is ERROR/) },
    });
    const raced = gateFor({ desktop: { status: 'ERROR' }, chain: chainOf() });
    raced.store.items.set(CHAIN_KEY, { ...chainOf({ rev: 2 }) });
    expect(await raced.check()).toEqual({ kind: 'stop', resolution: 'conflict' });
  });

  it('a desktop that no longer exists is given up, not found, without a start', async () => {
    const gate = gateFor({ desktop: 'absent' });
    expect(stopped(await gate.check())).toMatchObject({
      kind: 'dead-letter',
      code: 'desktop-not-found',
      letter: { errorCode: 'DESKTOP_NOT_FOUND' },
    });
    expect(gate.log).toEqual(['list d1', 'show d1']);
  });
});

describe('a stopped desktop, started once per window', () => {
  it('is started, its window taken for wait_max_seconds, the start recorded on the chain, and the failure re-enqueued', async () => {
    // Prepare
    const gate = gateFor({ desktop: { status: 'SHUTOFF' }, chain: chainOf() });
    const counted = desktopMetrics();
    const start = vi.spyOn(gate.desktops, 'start');
    const warned = vi.spyOn(logger, 'warn');

    // Act
    const resolution = stopped(await gate.check());

    // Assess: the job is the one Workspace answered the start with.
    const { jobId } = (await start.mock.results[0]!.value) as Extract<StartResult, { kind: 'started' }>;
    expect(jobId).toMatch(/^job\d+$/);
    expect(resolution).toMatchObject({
      kind: 'requeue',
      code: 'desktop-waking',
      reason: `desktop-waking: desktop d1 is SHUTOFF, UNREGISTER; started now (job ${jobId})`,
      delaySeconds: 30,
      attempt: 1,
      ruleId: RULE,
    });
    expect(gate.fleet.startsOf('d1')).toBe(1);
    expect(gate.windowOf()).toMatchObject({ started_by: CHAIN_KEY, g: 0, at: NOW, until: NOW + 120_000 });
    expect(gate.chain()).toMatchObject({
      attempts: 0,
      desktop_wait: { g: 0, desktop: 'd1', since: NOW, woken_at: NOW },
      history: [
        { outcome: 'desktop started', reason: `desktop d1 was SHUTOFF, UNREGISTER: os-start sent (job ${jobId})` },
      ],
    });
    expect(counted()).toEqual(['DesktopNotReady', 'DesktopWoken']);
    expect(warned).not.toHaveBeenCalled();
  });

  it('waits no longer than wait_max_seconds after the start, however long recheck_seconds is', async () => {
    const gate = gateFor({ desktop: { status: 'SHUTOFF' }, need: { recheckSeconds: 300, waitMaxSeconds: 90 } });
    expect(stopped(await gate.check())).toMatchObject({ code: 'desktop-waking', delaySeconds: 90 });
  });

  it('a start Workspace accepted without naming a job says it started, and no job', async () => {
    const gate = gateFor({ desktop: { status: 'SHUTOFF' }, chain: chainOf() });
    vi.spyOn(gate.desktops, 'start').mockResolvedValue({ kind: 'started', requestId: 'req-1' });
    expect(stopped(await gate.check())).toMatchObject({
      reason: 'desktop-waking: desktop d1 is SHUTOFF, UNREGISTER; started now',
    });
    expect(gate.chain()!.history).toEqual([
      expect.objectContaining({
        outcome: 'desktop started',
        reason: 'desktop d1 was SHUTOFF, UNREGISTER: os-start sent',
        request_id: 'req-1',
      }),
    ]);
  });

  it('a start whose answer was lost keeps its window, is recorded as sent, and is not counted as a desktop woken', async () => {
    // Prepare
    const gate = gateFor({ desktop: { status: 'SHUTOFF' }, chain: chainOf() });
    const lost = new WorkspaceApiError({ code: 'TIMEOUT', message: 'no answer', requestId: 'req-9' });
    vi.spyOn(gate.desktops, 'start').mockResolvedValue({ kind: 'unknown', error: lost });
    const counted = desktopMetrics();

    // Act
    const resolution = stopped(await gate.check());

    // Assess
    expect(resolution).toMatchObject({
      kind: 'requeue',
      code: 'desktop-waking',
      reason: `desktop-waking: desktop d1 is SHUTOFF, UNREGISTER; started now, its answer lost (${lost.message}); not sent again before the window ends`,
      delaySeconds: 30,
    });
    expect(gate.windowOf()).toMatchObject({ until: NOW + 120_000 });
    expect(gate.chain()).toMatchObject({
      desktop_wait: { woken_at: NOW },
      history: [{ outcome: 'desktop started', request_id: 'req-9' }],
    });
    expect(counted()).toEqual(['DesktopNotReady']);
  });

  it('a start sent that its chain cannot record still holds the window: the failure waits, and the miss is logged', async () => {
    const gate = gateFor({ desktop: { status: 'SHUTOFF' }, chain: chainOf() });
    vi.spyOn(gate.ledger, 'recordDesktopWait').mockResolvedValue(false);
    const warned = vi.spyOn(logger, 'warn').mockImplementation(() => {});
    expect(stopped(await gate.check())).toMatchObject({ kind: 'requeue', code: 'desktop-waking' });
    expect(warned).toHaveBeenCalledWith('desktop started, but its chain could not record it', {
      chain: CHAIN_KEY,
      desktopId: 'd1',
    });
    expect(gate.windowOf()).toMatchObject({ until: NOW + 120_000 });
  });

  it("a desktop another failure's retry started within the window is not started again: the failure waits, saying how long ago", async () => {
    // Prepare: another chain took the desktop's start 42 s ago.
    const gate = gateFor({ desktop: { status: 'SHUTOFF' }, chain: chainOf() });
    const other = new AttemptLedger(gate.store, { leaseMs: 60_000, ttlDays: 30, now: () => NOW - 42_500 });
    await other.claimDesktopStart(PROJECT_ID, 'd1', { chain: 'other#chain', g: 0 }, 120_000);

    // Act
    const resolution = stopped(await gate.check());

    // Assess
    expect(resolution).toEqual({
      kind: 'requeue',
      code: 'desktop-waking',
      reason:
        'desktop-waking: desktop d1 is SHUTOFF, UNREGISTER; started 42 s ago by the retry of another failure on it',
      delaySeconds: 30,
      attempt: 1,
      ruleId: RULE,
    });
    expect(gate.fleet.startsOf('d1')).toBe(0);
    expect(gate.chain()).toMatchObject({ desktop_wait: { g: 0, since: NOW } });
    expect(gate.chain()!.desktop_wait!.woken_at).toBeUndefined();
  });

  it('a start taken by a clock ahead of this one reads as started 0 s ago, never a negative age', async () => {
    const gate = gateFor({ desktop: { status: 'SHUTOFF' } });
    const ahead = new AttemptLedger(gate.store, { leaseMs: 60_000, ttlDays: 30, now: () => NOW + 5_000 });
    await ahead.claimDesktopStart(PROJECT_ID, 'd1', { chain: 'other#chain', g: 0 }, 120_000);
    expect(stopped(await gate.check())).toMatchObject({
      reason: expect.stringMatching(/; started 0 s ago by the retry of another failure on it$/),
    });
  });

  it('a desktop whose start another delivery is taking right now is not started again: the failure waits', async () => {
    const gate = gateFor({ desktop: { status: 'SHUTOFF' } });
    vi.spyOn(gate.ledger, 'claimDesktopStart').mockResolvedValue({ held: undefined });
    expect(stopped(await gate.check())).toMatchObject({
      code: 'desktop-waking',
      reason: 'desktop-waking: desktop d1 is SHUTOFF, UNREGISTER; being started by another delivery',
    });
    expect(gate.fleet.startsOf('d1')).toBe(0);
  });

  it('a start Workspace refuses because the desktop is starting or on already: the failure waits, its wait recorded', async () => {
    const gate = gateFor({ desktop: { status: 'SHUTOFF' }, chain: chainOf(), faults: { start: 'listed as failed' } });
    expect(stopped(await gate.check())).toMatchObject({
      kind: 'requeue',
      code: 'desktop-waking',
      reason:
        "desktop-waking: desktop d1 is SHUTOFF, UNREGISTER; already starting or on, by Workspace's answer to a start (WKS.00010032 Operation conflict.)",
      delaySeconds: 30,
    });
    expect(gate.chain()).toMatchObject({
      desktop_wait: { g: 0, since: NOW },
      history: [{ outcome: 'desktop not ready', reason: 'desktop d1 is SHUTOFF, UNREGISTER' }],
    });
  });

  it('a desktop gone by the time of its start is given up, not found', async () => {
    const gate = gateFor({
      desktop: { status: 'SHUTOFF' },
      chain: chainOf(),
      faults: { start: new WorkspaceApiError({ status: 404, code: 'WKS.DESKTOP_NOT_FOUND', message: 'gone' }) },
    });
    expect(stopped(await gate.check())).toMatchObject({
      kind: 'dead-letter',
      code: 'desktop-not-found',
      letter: {
        reason:
          'desktop-not-found: desktop d1 no longer exists (404 WKS.DESKTOP_NOT_FOUND); there is nothing to run the script on',
        errorCode: 'DESKTOP_NOT_FOUND',
        ruleId: RULE,
      },
    });
    expect(gate.chain()).toMatchObject({ state: 'claimed', intent: 'give-up' });
  });

  it('a start refused for good is given up with the refusal, naming the permission the keys need', async () => {
    const gate = gateFor({
      desktop: { status: 'SHUTOFF' },
      chain: chainOf(),
      faults: { start: new WorkspaceApiError({ status: 403, code: 'APIG.0302', message: 'no permission' }) },
    });
    expect(stopped(await gate.check())).toMatchObject({
      kind: 'dead-letter',
      code: 'desktop-start-refused',
      letter: {
        reason:
          'desktop-start-refused: Workspace refused to start desktop d1 (403 APIG.0302); the keys need the permission to start desktops (docs/retry-policy.md, "Desktops")',
        errorCode: 'APIG.0302',
      },
    });
  });
});

describe('a start that certainly did not reach Workspace', () => {
  it.each<[string, unknown, Record<string, unknown>]>([
    [
      'a key refused for now: waits for the key',
      new KeyRefusedError('0123456789abcdef', 45_000),
      { kind: 'requeue', code: 'key-refused', delaySeconds: 45, attempt: 1, ruleId: RULE },
    ],
    [
      'an open circuit: waits for it',
      new CircuitOpenError('workspace.test#AK', 12_000),
      { kind: 'requeue', code: 'circuit-open', delaySeconds: 12, attempt: 1, ruleId: RULE },
    ],
    [
      'a throttle asking for less than recheck_seconds: waits what Workspace asked',
      new WorkspaceApiError({ status: 429, code: 'APIG.0308', message: 'slow down', retryAfterSeconds: 5 }),
      {
        kind: 'requeue',
        code: 'workspace-transient',
        reason: 'workspace-transient: 429 APIG.0308 while starting desktop d1',
        delaySeconds: 5,
      },
    ],
    [
      'a throttle asking for more than recheck_seconds: waits recheck_seconds',
      new WorkspaceApiError({ status: 429, code: 'APIG.0308', message: 'slow down', retryAfterSeconds: 500 }),
      { kind: 'requeue', code: 'workspace-transient', delaySeconds: 30 },
    ],
    [
      'a 503: waits recheck_seconds',
      new WorkspaceApiError({ status: 503, code: 'APIG.0201', message: 'down' }),
      { kind: 'requeue', code: 'workspace-transient', delaySeconds: 30, attempt: 1, ruleId: RULE },
    ],
    [
      'keys Workspace did not accept: waits as an auth failure',
      new WorkspaceApiError({ status: 401, code: 'APIG.1002', message: 'bad signature' }),
      {
        kind: 'requeue',
        code: 'auth-failed',
        reason: 'auth-failed: 401 APIG.1002 while starting desktop d1',
        delaySeconds: 30,
      },
    ],
    [
      'anything else: held on the queue',
      new TypeError('socket closed'),
      { kind: 'hold', code: 'unavailable', reason: 'error: TypeError: socket closed (while starting desktop d1)' },
    ],
  ])('%s, and its window given back for the next delivery', async (_, error, expected) => {
    // Prepare
    const gate = gateFor({ desktop: { status: 'SHUTOFF' }, chain: chainOf() });
    vi.spyOn(gate.desktops, 'start').mockResolvedValue({ kind: 'not-sent', error } satisfies StartResult);

    // Act
    const resolution = stopped(await gate.check());

    // Assess
    expect(resolution).toMatchObject(expected);
    if (error instanceof KeyRefusedError || error instanceof CircuitOpenError)
      expect(resolution).toMatchObject({ reason: `${expected['code']}: ${error.message} (while starting desktop d1)` });
    expect(gate.windowOf()).toMatchObject({ until: NOW });
    expect(gate.chain()).toEqual(chainOf());
  });
});

describe('a dry run', () => {
  it('shows the start it would send and writes nothing, sends nothing, counts nothing', async () => {
    // Prepare
    const gate = gateFor({ desktop: { status: 'SHUTOFF' }, chain: chainOf(), dryRun: true });
    const counted = desktopMetrics();

    // Act
    const resolution = stopped(await gate.check());

    // Assess
    expect(resolution).toMatchObject({
      kind: 'preview',
      letter: {
        reason: `dry-run: would start desktop d1 (SHUTOFF, UNREGISTER; os-start SOFT), then retry once it is ready (rule ${RULE})`,
        errorCode: 'DRY_RUN',
        ruleId: RULE,
      },
      decision: gate.decision,
    });
    const preview = (resolution as Extract<Resolution, { kind: 'preview' }>).preview!;
    expect(JSON.parse(preview.body!)).toEqual({ desktopIds: ['d1'], opType: 'os-start', type: 'SOFT' });
    expect(gate.log).toEqual(['list d1']);
    expect(gate.store.items.get(CHAIN_KEY)).toEqual(chainOf());
    expect(gate.store.items.size).toBe(1);
    expect(counted()).toEqual([]);
  });

  it('shows the wait it would make, for how long', async () => {
    const gate = gateFor({ desktop: { login_status: 'UNREGISTER' }, dryRun: true });
    expect(stopped(await gate.check())).toMatchObject({
      kind: 'preview',
      letter: { reason: 'dry-run: would defer 30 s: desktop-not-ready: desktop d1 is ACTIVE, UNREGISTER' },
    });
    expect(gate.store.items.size).toBe(0);
  });

  it('shows the give-up it would make, and claims nothing', async () => {
    const gate = gateFor({ desktop: { status: 'ERROR' }, chain: chainOf(), dryRun: true });
    const resolution = stopped(await gate.check());
    expect(resolution).toMatchObject({
      kind: 'preview',
      letter: {
        reason: expect.stringMatching(/^dry-run: would give up: desktop-error: desktop d1 is ERROR/),
        errorCode: 'DRY_RUN',
        firstSeenAt: FIRST_SEEN,
      },
    });
    expect((resolution as Extract<Resolution, { kind: 'preview' }>).preview).toBeUndefined();
    expect(gate.chain()).toEqual(chainOf());
  });
});
