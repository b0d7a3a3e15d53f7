import { describe, expect, it, vi } from 'vitest';
import { normaliseBody } from '../../lib/events/normalise.js';
import { type Chain, isChain, recordKey } from '../../lib/ledger/chain.js';
import type { FailureInput } from '../../lib/pipeline/context.js';
import { readAheadFor } from '../../lib/pipeline/process-failure.js';
import { type PipelineItem, resolveFailure, runPipeline, syntheticSource } from '../../lib/pipeline/runner.js';
import type { Settled } from '../../lib/pipeline/settlement.js';
import { logger, metrics } from '../../lib/platform/observability.js';
import { MAX_DELAY_SECONDS } from '../../lib/platform/queue-sender.js';
import type { QueueBatchDeps } from '../../lib/ways-in/queue-batch.js';
import { CircuitBreakers } from '../../lib/workspace/circuit-breakers.js';
import { WorkspaceCredentials } from '../../lib/workspace/credentials.js';
import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import type { InvocationKeyGate } from '../../lib/workspace/key-gate.js';
import { plainEventFor } from '../helpers/envelopes.js';
import { PROJECT_ID } from '../helpers/factories.js';
import type { Gate, Invocation } from './invocation.js';
import { quietPipelineEachTest } from './quiet-pipeline.js';
import { type ReasonKind, World } from './world.js';

/**
 * The pipeline's paths one failure can take, each named for what it promises,
 * over the model's Workspace, ledger and queues (no scheduler): the
 * resolution, the outcome once settled, what Workspace was asked and what the
 * chain says afterwards.
 */

let world: World;
quietPipelineEachTest(() => world);

interface Setup {
  readonly invocation: Invocation;
  readonly deps: QueueBatchDeps;
}

function setup(reason: ReasonKind = 'retry', options: { maxAttempts?: number; gate?: Gate } = {}): Setup {
  world = new World(
    { maxAttempts: options.maxAttempts ?? 2, tasks: [{ desktops: 2, reason }] },
    options.gate ?? (async () => undefined),
  );
  const invocation = world.invocation('queue', 'none');
  return { invocation, deps: world.deps(invocation) };
}

/** A failure event for a record of the world, as the queue way in reads it (`names`: which ids it carries). */
function inputFor(
  recordId: string,
  more: Partial<FailureInput> & { body?: Record<string, unknown>; names?: 'record-and-task' | 'record' | 'task' } = {},
): FailureInput {
  const record = world.ws.records.get(recordId)!;
  const { body, names, ...rest } = more;
  const normalised = normaliseBody(JSON.stringify(plainEventFor(PROJECT_ID, record, names, body)), {
    checkRegion: () => undefined,
  });
  if (!normalised.ok) throw new Error(normalised.error);
  return { failure: normalised.failure, firstSeenAt: world.now(), ...rest };
}

let messages = 0;
const itemOf = (input: FailureInput): PipelineItem => ({
  source: syntheticSource(`msg-${++messages}`, {}),
  firstSeenAt: input.firstSeenAt,
  input,
});

/** Runs inputs through the pipeline with the world's forwarders; returns them settled. */
function run(deps: QueueBatchDeps, ...inputs: FailureInput[]): Promise<Settled[]> {
  return runPipeline({ items: inputs.map(itemOf), deps, forwarders: deps.forwarders, way: 'queue' });
}

async function one(deps: QueueBatchDeps, input: FailureInput): Promise<Settled> {
  const [settled] = await run(deps, input);
  return settled!;
}

const chainOf = (recordId: string): Chain | undefined => {
  const item = world.store.items.get(recordKey(PROJECT_ID, recordId));
  return isChain(item) ? item : undefined;
};

const retryCalls = (invocation: Invocation) => invocation.calls.filter((c) => c.startsWith('retry '));
/** What an invocation asked of Workspace and the ledger (not the queues). */
const reads = (invocation: Invocation) => invocation.calls.filter((c) => !c.startsWith('send '));

/** Failed calls with the model's key, as many as open its circuit. */
async function openCircuit(deps: QueueBatchDeps): Promise<void> {
  const key = CircuitBreakers.keyFor(deps.workspace.endpointOf({ projectId: PROJECT_ID }), 'MODELAK');
  const failing = () => Promise.reject(new WorkspaceApiError({ status: 503, code: 'HTTP_503', message: 'down' }));
  for (let i = 0; i < 5; i++) await deps.breakers.execute(key, failing).catch(() => undefined);
}

describe('before any chain is read', () => {
  it('a status word no policy knows is dead-lettered as unknown-status, reading nothing', async () => {
    const { deps, invocation } = setup();
    const settled = await one(deps, inputFor('r1', { body: { status: 'WOBBLING' } }));
    expect(settled.resolution).toMatchObject({
      kind: 'dead-letter',
      code: 'unknown-status',
      letter: { errorCode: 'UNKNOWN_STATUS', ruleId: 'unknown-status', attempts: 0 },
    });
    expect(settled.outcome.kind).toBe('dead-lettered');
    expect(reads(invocation)).toEqual([]);
  });

  it('in a dry run, an unknown status word is previewed as a give-up, with its reason', async () => {
    const { deps } = setup();
    const settled = await one(deps, inputFor('r1', { body: { status: 'WOBBLING' }, dryRun: true }));
    expect(settled.resolution.kind).toBe('preview');
    const letter = (settled.resolution as Extract<Settled['resolution'], { kind: 'preview' }>).letter;
    expect(letter.errorCode).toBe('DRY_RUN');
    expect(letter.ruleId).toBe('unknown-status');
    expect(letter.reason).toMatch(/^dry-run: would give up: unknown-status: status "WOBBLING"/);
  });

  it('with retries switched off, a failure waits the longest delay and nothing is read or called', async () => {
    const { deps, invocation } = setup();
    const off = { ...deps, config: { ...deps.config, retriesEnabled: false } };
    const settled = await one(off, inputFor('r1'));
    expect(settled.resolution).toMatchObject({
      kind: 'requeue',
      code: 'retries-disabled',
      delaySeconds: MAX_DELAY_SECONDS,
    });
    expect((settled.resolution as { reason: string }).reason).toMatch(/^retries-disabled: the kill switch is off/);
    expect(reads(invocation)).toEqual([]);
  });

  it('with retries switched off, a dry run previews the deferral', async () => {
    const { deps } = setup();
    const off = { ...deps, config: { ...deps.config, retriesEnabled: false } };
    const settled = await one(off, inputFor('r1', { dryRun: true }));
    const letter = (settled.resolution as Extract<Settled['resolution'], { kind: 'preview' }>).letter;
    expect(settled.resolution.kind).toBe('preview');
    expect(letter).toMatchObject({ errorCode: 'DRY_RUN', ruleId: 'retries-disabled', attempts: 0 });
    expect(letter.reason).toMatch(/^dry-run: would defer \(retries-disabled: /);
  });

  it('reads the ledger ahead only for a record-level failure the pipeline will decide', () => {
    const { deps } = setup();
    const readAhead = vi.spyOn(deps.ledger, 'readAhead');
    expect(readAheadFor(inputFor('r1'), deps)).toBeDefined();
    expect(readAheadFor(inputFor('r1', { names: 'task' }), deps)).toBeUndefined();
    expect(readAheadFor(inputFor('r1', { body: { status: 'SUCCESS' } }), deps)).toBeUndefined();
    expect(readAheadFor(inputFor('r1', { body: { status: 'WOBBLING' } }), deps)).toBeUndefined();
    const off = { ...deps, config: { ...deps.config, retriesEnabled: false } };
    expect(readAheadFor(inputFor('r1'), off)).toBeUndefined();
    expect(readAhead).toHaveBeenCalledTimes(1);
  });

  it('the runner reads the next failure’s chain ahead, before the one in turn is called', async () => {
    const { deps, invocation } = setup();
    await run({ ...deps, config: { ...deps.config, maxConcurrency: 1 } }, inputFor('r1'), inputFor('r2'));
    const firstRetry = invocation.calls.indexOf('retry r1');
    const secondRead = invocation.calls.findIndex((c) => c.startsWith('read') && c.includes('r2'));
    expect(firstRetry).toBeGreaterThan(-1);
    expect(secondRead).toBeGreaterThan(-1);
    expect(secondRead).toBeLessThan(firstRetry);
  });

  it('credentials that cannot be read hold the failure where it is, with the error', async () => {
    const { deps, invocation } = setup();
    const credentials = new WorkspaceCredentials('model-secret', {
      load: async () => {
        throw Object.assign(new Error('secret unreachable'), { name: 'SecretsDown' });
      },
      reload: async () => {
        throw new Error('secret unreachable');
      },
    });
    const settled = await resolveFailure(inputFor('r1'), syntheticSource('m', {}), { ...deps, credentials });
    expect(settled.resolution).toEqual({
      kind: 'hold',
      code: 'unavailable',
      reason: 'CredentialsUnavailableError: secret model-secret could not be read (SecretsDown)',
    });
    expect(retryCalls(invocation)).toEqual([]);
  });
});

describe('task-level events', () => {
  it('a task Workspace has no records of is dead-lettered once, with the event’s result code', async () => {
    const { deps } = setup();
    const input = inputFor('r1', { names: 'task', body: { task_id: 'no-such-task', result_code: 'WKS.X' } });
    const settled = await one(deps, input);
    expect(settled.resolution).toMatchObject({
      kind: 'dead-letter',
      code: 'no-failed-records',
      letter: { errorCode: 'WKS.X', ruleId: 'no-failed-records', attempts: 0 },
    });
    expect((settled.resolution as { letter: { reason: string } }).letter.reason).toBe(
      'no-failed-records: task no-such-task has no execution records (Workspace does not know it, or its records are gone)',
    );
  });

  it('without a result code the letter says NO_FAILED_RECORDS', async () => {
    const { deps } = setup();
    const settled = await one(deps, inputFor('r1', { names: 'task', body: { task_id: 'no-such-task' } }));
    expect(settled.resolution).toMatchObject({ letter: { errorCode: 'NO_FAILED_RECORDS' } });
  });

  it('a task whose runs all succeeded since is a duplicate, not a dead letter', async () => {
    const { deps } = setup();
    world.ws.records.get('r1')!.status = 'SUCCESS';
    world.ws.records.get('r2')!.status = 'SUCCESS';
    const settled = await one(deps, inputFor('r1', { names: 'task' }));
    expect(settled.resolution).toMatchObject({ kind: 'duplicate', code: 'no-failed-records' });
  });
});

describe('looking a record up', () => {
  it('a lookup that fails for now does not take the event as it is: it waits, and nothing is called', async () => {
    const { deps, invocation } = setup();
    const getRecord = vi
      .spyOn(deps.workspace, 'getRecord')
      .mockRejectedValueOnce(new WorkspaceApiError({ status: 503, code: 'HTTP_503', message: 'busy' }));
    const settled = await one(deps, inputFor('r1', { names: 'record' }));
    expect(getRecord).toHaveBeenCalled();
    expect(settled.resolution.kind).not.toBe('retried');
    expect(settled.resolution).toMatchObject({ code: 'lookup-failed' });
    expect(retryCalls(invocation)).toEqual([]);
  });
});

describe('standing', () => {
  it('a copy that comes while the first holds the claim waits as in-flight, until the lease ends', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { deps } = setup('retry', {
      gate: async (label) => {
        if (label.endsWith(' retry r1')) await held;
      },
    });
    const first = one(deps, inputFor('r1'));
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    const copy = await one(world.deps(world.invocation('queue', 'none')), inputFor('r1'));
    const leaseUntil = chainOf('r1')!.lease_until!;
    release();
    await first;
    expect(copy.resolution).toMatchObject({ kind: 'requeue', code: 'in-flight' });
    expect((copy.resolution as { reason: string }).reason).toBe(
      'in-flight: another delivery of this failure holds the claim',
    );
    expect((copy.resolution as { delaySeconds: number }).delaySeconds).toBe(
      Math.ceil((leaseUntil + world.config.clockSkewSeconds * 1000 - world.now()) / 1000) + 1,
    );
  });

  it('a copy that comes after a lost answer, before the lease ends, waits as outcome-unknown', async () => {
    const { deps } = setup();
    world.ws.armRetry('lose-TIMEOUT');
    const first = await one(deps, inputFor('r1'));
    expect(first.resolution).toMatchObject({ kind: 'requeue', code: 'outcome-unknown' });
    world.advance(10);
    const copy = await one(world.deps(world.invocation('queue', 'none')), inputFor('r1'));
    expect(copy.resolution).toMatchObject({ kind: 'requeue', code: 'outcome-unknown' });
    expect((copy.resolution as { reason: string }).reason).toBe(
      "outcome-unknown: the last retry's answer was lost; Workspace is asked once its lease ends",
    );
  });

  it('a run given up on stays given up: another event of it is a duplicate (only a force reopens it)', async () => {
    const { deps } = setup('giveUp');
    const first = await one(deps, inputFor('r1'));
    expect(first.outcome.kind).toBe('dead-lettered');
    const again = await one(deps, inputFor('r1'));
    expect(again.resolution).toMatchObject({ kind: 'duplicate', code: 'handled' });
    expect(world.dlq.messages.size).toBe(1);
  });

  it('writers that keep getting there first: three rounds, then contended', async () => {
    const { deps, invocation } = setup();
    const claim = vi.spyOn(deps.ledger, 'claim').mockResolvedValue(undefined);
    const settled = await one(deps, inputFor('r1'));
    expect(settled.resolution).toEqual({
      kind: 'requeue',
      code: 'contended',
      reason: 'contended: other deliveries of this failure kept writing first',
      delaySeconds: 5,
      attempt: 0,
      ruleId: undefined,
      carry: undefined,
    });
    expect(claim).toHaveBeenCalledTimes(3);
    expect(retryCalls(invocation)).toEqual([]);
  });
});

describe('the retry call', () => {
  it('an accepted retry: retried once, attempt 1, not forced, and the container learns what a retry answers', async () => {
    const { deps, invocation } = setup();
    const settled = await one(deps, inputFor('r1'));
    expect(settled.resolution).toMatchObject({
      kind: 'retried',
      ruleId: 'timeout',
      attempt: 1,
      forced: false,
      via: 'answer',
    });
    expect(retryCalls(invocation)).toEqual(['retry r1']);
    expect(world.readings.has('new-task')).toBe(true);
    expect(world.readings.has('same-task')).toBe(false);
  });

  it('an operator’s force is marked on the retry', async () => {
    const { deps } = setup();
    const settled = await one(deps, inputFor('r1', { force: { reason: 'ticket 7' } }));
    expect(settled.resolution).toMatchObject({ kind: 'retried', forced: true });
  });

  it('with the circuit open for the key, the failure waits for it, with no claim and no call', async () => {
    const { deps, invocation } = setup();
    await openCircuit(deps);
    const settled = await one(deps, inputFor('r1'));
    expect(settled.resolution).toMatchObject({ kind: 'requeue', code: 'circuit-open', attempt: 0 });
    expect((settled.resolution as { reason: string }).reason).toBe(
      'circuit-open: no calls to https://workspace.cn-north-4.model for now',
    );
    expect((settled.resolution as { delaySeconds: number }).delaySeconds).toBeGreaterThan(0);
    expect(retryCalls(invocation)).toEqual([]);
    expect(chainOf('r1')).toBeUndefined();
  });

  it('a circuit that opens while the chain is read waits for it before the claim, with the rule and attempt', async () => {
    let deps!: QueueBatchDeps;
    const s = setup('retry', {
      gate: async (label) => {
        if (/^queue#1 (together )?write \S+#record#r1@undefined( \+|$)/.test(label)) await openCircuit(deps);
      },
    });
    deps = s.deps;
    const settled = await one(deps, inputFor('r1'));
    expect(settled.resolution).toMatchObject({ kind: 'requeue', code: 'circuit-open', attempt: 1, ruleId: 'timeout' });
    expect(retryCalls(s.invocation)).toEqual([]);
    expect(chainOf('r1')).toMatchObject({ state: 'open', attempts: 0 });
  });

  it('a circuit that opens while the claim is taken releases the claim and waits, without a call', async () => {
    let deps!: QueueBatchDeps;
    const s = setup('retry', {
      gate: async (label) => {
        if (/^queue#1 together .*\bput \S+#run#/.test(label)) await openCircuit(deps);
      },
    });
    deps = s.deps;
    const settled = await one(deps, inputFor('r1'));
    expect(settled.resolution).toMatchObject({ kind: 'requeue', code: 'circuit-open', attempt: 1, ruleId: 'timeout' });
    expect((settled.resolution as { reason: string }).reason).toMatch(/^circuit-open: /);
    expect(retryCalls(s.invocation)).toEqual([]);
    const chain = chainOf('r1')!;
    expect(chain.state).not.toBe('claimed');
    expect(chain.attempts).toBe(0);
    expect(chain.history.at(-1)).toMatchObject({ error_code: 'CIRCUIT_OPEN' });
  });

  it('once too many calls of the invocation failed, the rest wait the cool-down, with no claim and no call', async () => {
    const { deps, invocation } = setup();
    for (let i = 0; i < 5; i++) deps.errorBudget.record(false);
    const settled = await one(deps, inputFor('r1'));
    expect(settled.resolution).toEqual({
      kind: 'requeue',
      code: 'error-threshold',
      reason: 'error-threshold: 5 of 5 Workspace calls in this invocation failed; the rest of the batch waits',
      delaySeconds: deps.config.breakerCooldownSeconds,
      attempt: 1,
      ruleId: 'timeout',
      carry: undefined,
    });
    expect(retryCalls(invocation)).toEqual([]);
    expect(chainOf('r1')).toMatchObject({ state: 'open', attempts: 0 });
  });

  it('Workspace’s failed answers count against the invocation’s error budget; our own errors do not', async () => {
    const { deps } = setup();
    world.ws.armRetry('before-503');
    await one(deps, inputFor('r1'));
    expect(deps.errorBudget.describe()).toBe('1 of 1 Workspace calls in this invocation failed');
    const retry = vi.spyOn(deps.workspace, 'retry').mockRejectedValueOnce(new TypeError('a bug'));
    await one(deps, inputFor('r2'));
    expect(retry).toHaveBeenCalled();
    expect(deps.errorBudget.describe()).toBe('1 of 1 Workspace calls in this invocation failed');
  });

  it('an error of our own before the call gives the claim back and holds the failure, with the error', async () => {
    const { deps } = setup();
    vi.spyOn(deps.workspace, 'retry').mockRejectedValueOnce(new TypeError('a bug'));
    const settled = await one(deps, inputFor('r1'));
    expect(settled.resolution).toEqual({ kind: 'hold', code: 'unavailable', reason: 'error: TypeError: a bug' });
    const chain = chainOf('r1')!;
    expect(chain.state).not.toBe('claimed');
    expect(chain.attempts).toBe(0);
    expect(chain.history.at(-1)).toMatchObject({ error_code: 'INTERNAL', reason: 'a bug' });
  });

  it('a thrown value that is no error still gives the claim back, saying so', async () => {
    const { deps } = setup();
    vi.spyOn(deps.workspace, 'retry').mockRejectedValueOnce({ name: 'Odd' });
    const settled = await one(deps, inputFor('r1'));
    expect(settled.resolution).toMatchObject({ kind: 'hold', code: 'unavailable' });
    const chain = chainOf('r1')!;
    expect(chain.state).not.toBe('claimed');
    expect(chain.history.at(-1)).toMatchObject({ error_code: 'INTERNAL', reason: 'unexpected error' });
  });

  it('a refusal for good is dead-lettered with the evidence, the retry not counted in the letter', async () => {
    const { deps } = setup();
    world.ws.armRetry('permanent-404');
    const codes: string[] = [];
    vi.spyOn(metrics, 'singleMetric').mockReturnValue({
      addDimension: (_name: string, value: string) => codes.push(value),
      addMetric: () => undefined,
    } as never);
    const settled = await one(deps, inputFor('r1'));
    expect(settled.resolution).toMatchObject({
      kind: 'dead-letter',
      code: 'workspace-refused',
      letter: { attempts: 0, ruleId: 'timeout' },
      refusal: { status: 404 },
    });
    expect((settled.resolution as { letter: { reason: string } }).letter.reason).toMatch(/^workspace-refused: /);
    expect(codes).toEqual([(settled.resolution as { refusal: { errorCode: string } }).refusal.errorCode]);
  });

  it('an answer that says the script never ran releases the claim, uncounted, and waits its backoff', async () => {
    const { deps } = setup();
    world.ws.armRetry('before-503');
    const settled = await one(deps, inputFor('r1'));
    expect(settled.resolution).toMatchObject({ kind: 'requeue', code: 'workspace-transient', attempt: 1 });
    expect((settled.resolution as { reason: string }).reason).toMatch(/^workspace-transient: /);
    expect((settled.resolution as { delaySeconds: number }).delaySeconds).toBeGreaterThan(0);
    const chain = chainOf('r1')!;
    expect(chain.state).not.toBe('claimed');
    expect(chain.attempts).toBe(0);
    expect(chain.history.at(-1)).toMatchObject({ error_code: 'HTTP_503' });
  });

  it('a refused signature releases the claim and waits as auth-failed', async () => {
    const { deps } = setup();
    vi.spyOn(deps.workspace, 'retry').mockRejectedValue(
      new WorkspaceApiError({ status: 401, code: 'APIGW.0301', message: 'signature refused' }),
    );
    const settled = await one(deps, inputFor('r1'));
    expect(settled.resolution).toMatchObject({ kind: 'requeue', code: 'auth-failed', attempt: 1, ruleId: 'timeout' });
    expect((settled.resolution as { reason: string }).reason).toMatch(/^auth-failed: /);
    const chain = chainOf('r1')!;
    expect(chain.attempts).toBe(0);
    expect(chain.state).not.toBe('claimed');
  });

  it('a lost answer leaves the chain unknown with the evidence, and waits past the lease', async () => {
    const { deps } = setup();
    world.ws.armRetry('lose-502');
    const settled = await one(deps, inputFor('r1'));
    expect(settled.resolution).toMatchObject({ kind: 'requeue', code: 'outcome-unknown', attempt: 1 });
    expect((settled.resolution as { reason: string }).reason).toMatch(
      /^outcome-unknown: .*; Workspace is asked whether it ran before any new call$/,
    );
    expect((settled.resolution as { delaySeconds: number }).delaySeconds).toBe(world.config.leaseSeconds + 1);
    const chain = chainOf('r1')!;
    expect(chain.state).toBe('unknown');
    expect(chain.history.at(-1)).toMatchObject({ outcome: 'unknown', error_code: 'HTTP_502' });
  });

  it.each([
    ['neither its desktop nor its script', {}],
    ['its desktop but not its script', { resource_id: 'd1' }],
  ])(
    'a lost answer for a record the lookup did not find, naming %s, looks it up again so the lost run can be found',
    async (_, body) => {
      const { deps, invocation } = setup();
      world.ws.armRetry('lose-TIMEOUT');
      // Workspace is known to answer retries with new tasks (no start looked up before the call), and does not show the
      // record until the retry was sent (an eventually consistent read).
      world.readings.learn(['new-task']);
      const getRecord = deps.workspace.getRecord.bind(deps.workspace);
      vi.spyOn(deps.workspace, 'getRecord').mockImplementation((project, recordId, credentials) =>
        world.ws.retryCalls === 0
          ? Promise.reject(new WorkspaceApiError({ status: 404, code: 'WKS.RECORD_NOT_FOUND', message: 'gone' }))
          : getRecord(project, recordId, credentials),
      );
      await one(deps, inputFor('r1', { names: 'record', body }));
      const afterRetry = invocation.calls.slice(invocation.calls.indexOf('retry r1') + 1);
      expect(afterRetry).toContain('getRecord r1');
      const chain = chainOf('r1')!;
      expect(chain.state).toBe('unknown');
      expect(chain.resource_id).toBe('d1');
      expect(chain.script_id).toBe('s1');
    },
  );

  it('a lost answer for an event that named its desktop and script looks nothing up', async () => {
    const { deps, invocation } = setup();
    world.ws.armRetry('lose-TIMEOUT');
    const record = world.ws.records.get('r1')!;
    await one(deps, inputFor('r1', { body: { resource_id: record.resource_id, script_id: 's1' } }));
    const afterRetry = invocation.calls.slice(invocation.calls.indexOf('retry r1') + 1);
    expect(afterRetry.filter((c) => c.startsWith('getRecord'))).toEqual([]);
  });
});

describe('the key gate', () => {
  /** An event that names its desktop, script and start, from a container that knows retries answer new tasks: no lookup. */
  function namedInput(): FailureInput {
    world.readings.learn(['new-task']);
    const record = world.ws.records.get('r1')!;
    return inputFor('r1', {
      body: {
        resource_id: record.resource_id,
        script_id: record.script_id,
        start_time: record.start_time,
        end_time: record.end_time,
      },
    });
  }

  it('a key the gate refuses defers the failure before its claim, for as long as the refusal lasts', async () => {
    const { deps, invocation } = setup();
    const gated = {
      ...deps,
      keyGate: { admit: async () => ({ kind: 'refused', retryAfterMs: 30_000 }) } as unknown as InvocationKeyGate,
    };
    const settled = await one(gated, namedInput());
    expect(settled.resolution).toMatchObject({
      kind: 'requeue',
      code: 'key-refused',
      delaySeconds: 30,
      attempt: 1,
      ruleId: 'timeout',
    });
    expect((settled.resolution as { reason: string }).reason).toMatch(/^key-refused: /);
    expect(retryCalls(invocation)).toEqual([]);
    expect(chainOf('r1')?.state).not.toBe('claimed');
  });

  it('the pass is given back when the claim is lost to another writer, or the ledger fails, with no call', async () => {
    const { deps, invocation } = setup();
    let released = 0;
    const pass = {
      fingerprint: 'f',
      probe: false,
      accepted: () => undefined,
      refused: async () => undefined,
      release: () => void released++,
    };
    const gated = {
      ...deps,
      keyGate: { admit: async () => ({ kind: 'go', pass }) } as unknown as InvocationKeyGate,
    };
    const claim = vi.spyOn(deps.ledger, 'claim').mockResolvedValue(undefined);
    const contended = await one(gated, namedInput());
    expect(contended.resolution).toMatchObject({ code: 'contended' });
    expect(released).toBe(claim.mock.calls.length);
    claim.mockRejectedValueOnce(new Error('table unreachable'));
    released = 0;
    await one(gated, namedInput());
    expect(released).toBe(1);
    expect(retryCalls(invocation)).toEqual([]);
  });
});

describe('recording the answer', () => {
  it('an accepted retry the ledger cannot record is re-enqueued with its task id, and the next delivery settles it without calling', async () => {
    const { deps, invocation } = setup();
    const error = vi.spyOn(logger, 'error');
    vi.spyOn(deps.ledger, 'settleRetried').mockRejectedValueOnce(new Error('table unreachable'));
    const first = await one(deps, inputFor('r1'));
    expect(first.resolution).toMatchObject({
      kind: 'requeue',
      code: 'recording',
      delaySeconds: 2,
      attempt: 1,
      ruleId: 'timeout',
    });
    const carry = (first.resolution as { carry: { taskId: string; rev: number } }).carry;
    expect(carry.taskId).toMatch(/^t\d+$/);
    expect(carry.rev).toBe(chainOf('r1')!.rev);
    expect((first.resolution as { reason: string }).reason).toBe(
      `recording: retried (new task ${carry.taskId}) but the ledger could not record it`,
    );
    expect(error).toHaveBeenCalledWith(
      'retry accepted but the ledger could not record it: re-enqueued with the new task id',
      expect.objectContaining({ newTaskId: carry.taskId }),
    );
    const next = await one(deps, inputFor('r1', { carried: carry }));
    expect(next.resolution).toMatchObject({ kind: 'retried', newTaskId: carry.taskId, via: 'carried' });
    expect(retryCalls(invocation)).toEqual(['retry r1']);
    expect(chainOf('r1')).toMatchObject({ state: 'retried', new_task_id: carry.taskId });
  });

  it('a carried task id from an older revision is not taken: the live claim is waited for', async () => {
    const { deps, invocation } = setup();
    vi.spyOn(deps.ledger, 'settleRetried').mockRejectedValueOnce(new Error('table unreachable'));
    const first = await one(deps, inputFor('r1'));
    const carry = (first.resolution as { carry: { taskId: string; rev: number } }).carry;
    const next = await one(deps, inputFor('r1', { carried: { ...carry, rev: carry.rev - 1 } }));
    expect(next.resolution).toMatchObject({ kind: 'requeue', code: 'in-flight' });
    expect(retryCalls(invocation)).toEqual(['retry r1']);
  });

  it('a claim lost during the call leaves the outcome to the delivery that took over, naming the new task', async () => {
    const { deps } = setup();
    const warn = vi.spyOn(logger, 'warn');
    vi.spyOn(deps.ledger, 'settleRetried').mockResolvedValueOnce({ outcome: 'lease-lost' });
    const settled = await one(deps, inputFor('r1'));
    expect(settled.resolution).toMatchObject({ kind: 'duplicate', code: 'lease-lost' });
    const reason = (settled.resolution as { reason: string }).reason;
    expect(reason).toMatch(
      /^lease-lost: the claim expired during the call \(new task t\d+\); the delivery that took over decides the outcome$/,
    );
    expect(warn).toHaveBeenCalledWith(
      'lease lost during the call: another delivery took this failure over; it reports the outcome',
      expect.objectContaining({ newTaskId: expect.stringMatching(/^t\d+$/) }),
    );
  });
});
