import { describe, expect, it, vi } from 'vitest';
import type { Claim } from '../../lib/ledger/attempt-ledger.js';
import { type CallReadiness, readyToCall } from '../../lib/pipeline/call-place.js';
import type { FailureContext } from '../../lib/pipeline/context.js';
import { Places } from '../../lib/platform/concurrency.js';
import type { Decision } from '../../lib/policy/policy.js';
import { CircuitBreakers } from '../../lib/workspace/circuit-breakers.js';
import type { ProjectCredentials, WorkspaceCredentials } from '../../lib/workspace/credentials.js';
import { type Admitted, admit, type KeyedCalls } from '../../lib/workspace/key-calls.js';
import { KeyGate } from '../../lib/workspace/key-gate.js';

/**
 * A claim's way to its call (lib/pipeline/call-place.ts): once it has its
 * place, what may still stop it, and what it is given back as. The ledger,
 * the error budget and the secret are plain fakes: no I/O.
 */

const WORST_CASE_MS = 21_000;
const decision: Extract<Decision, { kind: 'retry-now' }> = { kind: 'retry-now', ruleId: 'timeout', attempt: 2 };
const claim = { chain: { pk: 'chain-1', rev: 3 } } as unknown as Claim;

/** The project's key: `keys` in turn, one per read (the last one kept), as a secret rotated between reads would be. */
function secret(...keys: string[]): WorkspaceCredentials {
  let reads = 0;
  const next = (): ProjectCredentials => {
    const ak = keys[Math.min(reads++, keys.length - 1)]!;
    return { credentials: { ak, sk: `${ak}-secret`, securityToken: undefined }, generation: reads };
  };
  return { forProject: async () => next(), refreshAfter: async () => undefined } as unknown as WorkspaceCredentials;
}

interface Setup {
  readonly credentials: WorkspaceCredentials;
  readonly gate?: KeyGate;
  readonly places?: Places | undefined;
  readonly leaseLeftMs?: number;
  readonly tooLate?: () => string | undefined;
  readonly budgetSpent?: boolean;
}

/** A failure's context with one place (unless told otherwise), and what was released on the ledger. */
function context(setup: Setup) {
  const released: Array<{ errorCode: string; reason: string; ruleId: string }> = [];
  const keys: KeyedCalls = {
    credentials: setup.credentials,
    keyGate: setup.gate?.forInvocation(undefined),
    breakers: new CircuitBreakers({ consecutiveFailures: 5, halfOpenAfterMs: 30_000, authCooldownMs: 300_000 }),
    projectId: 'p',
    endpoint: 'https://workspace.example',
    places: 'places' in setup ? setup.places : new Places(1),
  };
  const ctx = {
    keys,
    slot: { tooLate: setup.tooLate },
    deps: {
      config: { worstCaseCallMs: WORST_CASE_MS, breakerCooldownSeconds: 30 },
      ledger: {
        leaseLeftMs: () => setup.leaseLeftMs ?? 60_000,
        release: async (_claim: Claim, evidence: { errorCode: string; reason: string; ruleId: string }) => {
          released.push(evidence);
        },
      },
      errorBudget: { exhausted: () => setup.budgetSpent === true, describe: () => '3 of 4 calls failed' },
    },
  } as unknown as FailureContext;
  return { ctx, keys, released };
}

/** What a claim given back became; fails the test if it went. */
function givenBack(ready: CallReadiness): Extract<CallReadiness, { kind: 'given-back' }>['resolution'] {
  if (ready.kind !== 'given-back') throw new Error('expected the claim to be given back');
  return ready.resolution;
}

async function admitted(keys: KeyedCalls): Promise<Admitted> {
  const admission = await admit(keys);
  if (admission.kind !== 'go') throw new Error('expected the key to be admitted');
  return admission;
}

describe('readyToCall', () => {
  it('goes at once, with its admission and no checks, in a run without places', async () => {
    const { ctx, keys, released } = context({ credentials: secret('AK1'), places: undefined, leaseLeftMs: 0 });
    const admission = await admitted(keys);

    const ready = await readyToCall(claim, admission, decision, ctx);

    expect(ready).toMatchObject({ kind: 'go', admission });
    expect(ready.kind === 'go' && ready.place).toBeUndefined();
    expect(released).toEqual([]);
  });

  it('tells a call sent again with a rotated key not to go once less than a worst-case call is left of the lease', async () => {
    // Prepare: a lease that runs down after the claim went.
    let left = 60_000;
    const { ctx, keys } = context({ credentials: secret('AK1') });
    ctx.deps.ledger.leaseLeftMs = () => left;
    const ready = await readyToCall(claim, await admitted(keys), decision, ctx);
    if (ready.kind !== 'go') throw new Error('expected the claim to go');
    // Act
    const whileInTime = ready.notAgain();
    left = WORST_CASE_MS - 1;
    const late = ready.notAgain();
    // Assess
    expect(whileInTime).toBeUndefined();
    expect(late).toMatch(/^call-wait: the claim waited for a call place until 20 s of its lease were left/);
  });

  it('goes with its place when a worst-case call is left of its lease, to the millisecond', async () => {
    const places = new Places(1);
    const { ctx, keys } = context({ credentials: secret('AK1'), places, leaseLeftMs: WORST_CASE_MS });

    const ready = await readyToCall(claim, await admitted(keys), decision, ctx);

    expect(ready.kind).toBe('go');
    expect(ready.kind === 'go' && ready.place).toBeDefined();
    expect(places.waiters).toBe(0);
  });

  it('gives the claim back uncalled (call-wait) when less than a worst-case call is left of its lease', async () => {
    const places = new Places(1);
    const { ctx, keys, released } = context({ credentials: secret('AK1'), places, leaseLeftMs: WORST_CASE_MS - 1 });

    const ready = await readyToCall(claim, await admitted(keys), decision, ctx);

    const reason =
      'call-wait: the claim waited for a call place until 20 s of its lease were left, less than a call can take; given back before its call, left for redelivery';
    expect(givenBack(ready)).toEqual({ kind: 'hold', code: 'call-wait', reason });
    expect(released).toEqual([{ errorCode: 'NOT_CALLED', reason, ruleId: 'timeout' }]);
    // Its place is given back with it.
    await places.take();
  });

  it("gives the claim back uncalled (time-budget) when the invocation's end is near, before looking at the lease", async () => {
    const { ctx, keys, released } = context({
      credentials: secret('AK1'),
      leaseLeftMs: 0,
      tooLate: () => 'time-budget: the invocation is about to time out; left for redelivery',
    });

    const ready = await readyToCall(claim, await admitted(keys), decision, ctx);

    expect(givenBack(ready)).toEqual({
      kind: 'hold',
      code: 'time-budget',
      reason:
        'time-budget: the invocation is about to time out; left for redelivery; the claim was given back before its call',
    });
    expect(released.map((r) => r.errorCode)).toEqual(['NOT_CALLED']);
  });

  it('gives the claim back uncalled (error-threshold) once the calls answered meanwhile used up the error budget', async () => {
    const { ctx, keys, released } = context({ credentials: secret('AK1'), budgetSpent: true });

    const ready = await readyToCall(claim, await admitted(keys), decision, ctx);

    expect(givenBack(ready)).toEqual({
      kind: 'requeue',
      code: 'error-threshold',
      reason: 'error-threshold: 3 of 4 calls failed; the rest of the batch waits',
      delaySeconds: 30,
      attempt: 2,
      ruleId: 'timeout',
      carry: undefined,
    });
    expect(released).toHaveLength(1);
  });

  it('is admitted again with the current key when the secret rotated while it waited, and goes with it', async () => {
    // The key read for the admission, then the rotated one for every read after.
    const { ctx, keys, released } = context({ credentials: secret('AK1', 'AK2') });
    const admission = await admitted(keys);

    const ready = await readyToCall(claim, admission, decision, ctx);

    expect(ready.kind === 'go' && ready.admission.key.credentials.ak).toBe('AK2');
    expect(released).toEqual([]);
  });

  it('gives the claim back (key-refused, a second) when the key changed again after it was admitted again', async () => {
    // Every read finds another key: the admission's, the check's, the second admission's, the second check's.
    const { ctx, keys, released } = context({ credentials: secret('AK1', 'AK2', 'AK3', 'AK4') });
    const admission = await admitted(keys);

    const ready = await readyToCall(claim, admission, decision, ctx);

    const fingerprint = admission.pass.fingerprint;
    const resolution = givenBack(ready);
    expect(resolution).toMatchObject({ kind: 'requeue', code: 'key-refused', delaySeconds: 1 });
    // The first key's fingerprint is not the one named: it is the second admission's, cut to 12 digits.
    const reason = resolution.reason;
    expect(reason).toMatch(
      /^key-refused: key [0-9a-f]{12} was refused, or the secret rotated, while the claim waited for its call place; given back before its call$/,
    );
    expect(reason).not.toContain(fingerprint.slice(0, 12));
    expect(released).toHaveLength(1);
  });

  it("gives the claim back (key-refused, for the key's cool-down) when its key was refused meanwhile and the secret holds it still", async () => {
    // The gate refuses the key after this claim was admitted (another call's 401, the secret read again unchanged).
    const gate = new KeyGate({ cooldownMs: 300_000 });
    const { ctx, keys, released } = context({ credentials: secret('AK1'), gate });
    const admission = await admitted(keys);
    admission.pass.accepted();
    const other = await admitted(keys);
    await other.pass.refused(false);

    const ready = await readyToCall(claim, admission, decision, ctx);

    const resolution = givenBack(ready);
    expect(resolution).toMatchObject({ kind: 'requeue', code: 'key-refused', delaySeconds: 300 });
    const reason = resolution.reason;
    expect(reason).toContain(`key ${admission.pass.fingerprint.slice(0, 12)} was refused`);
    expect(reason).toContain('was refused by Workspace; not used for 300 s; given back before its call');
    expect(released).toHaveLength(1);
  });

  it('gives the claim back and throws when a check throws (the invocation context failing)', async () => {
    const failing = vi.fn(() => {
      throw new Error('context crashed');
    });
    const { ctx, keys, released } = context({ credentials: secret('AK1'), tooLate: failing });

    await expect(readyToCall(claim, await admitted(keys), decision, ctx)).rejects.toThrow('context crashed');
    expect(released).toEqual([{ errorCode: 'NOT_CALLED', reason: 'not called: context crashed', ruleId: 'timeout' }]);
  });
});
