import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Places } from '../../lib/platform/concurrency.js';
import { CircuitBreakers, CircuitOpenError } from '../../lib/workspace/circuit-breakers.js';
import { WorkspaceCredentials } from '../../lib/workspace/credentials.js';
import { isWorkspaceApiError, WorkspaceApiError } from '../../lib/workspace/errors.js';
import {
  type Admitted,
  admit,
  admitKey,
  admitRotatedKey,
  callWith,
  type KeyedCalls,
  KeyRefusedError,
  stillAdmitted,
  withKey,
} from '../../lib/workspace/key-calls.js';
import { type InvocationKeyGate, KeyGate, keyFingerprintOf } from '../../lib/workspace/key-gate.js';
import type { SigningCredentials } from '../../lib/workspace/signer.js';
import { captureStdout, type LogCapture } from '../../local/log-capture.js';
import { COOLDOWN_MS, fleet, go, settle } from '../helpers/key-gate.js';

const OLD = { ak: 'AKOLD', sk: 'old-secret' };
const NEW = { ak: 'AKNEW', sk: 'new-secret' };
const signing = (key: { ak: string; sk: string }) => ({ ak: key.ak, sk: key.sk, securityToken: undefined });

/** Credentials whose secret holds `values` in turn, one per read. */
function credentials(...values: unknown[]) {
  let reads = 0;
  const next = async () => values[Math.min(reads++, values.length - 1)];
  const creds = new WorkspaceCredentials('s', { load: next, reload: next });
  return { creds, reads: () => reads };
}

const gate = (shared?: ReturnType<typeof fleet>['shared']) =>
  new KeyGate({ cooldownMs: COOLDOWN_MS }).forInvocation(shared);

/** Admits the project's key, reports it refused, then admits a key for the project again. */
async function admitAfterRefusal(creds: ReturnType<typeof credentials>['creds']) {
  const g = gate();
  const key = await creds.forProject('p');
  const first = await admitKey(g, creds, 'p', key);
  if (first.kind === 'go') await first.pass.refused();
  return admitKey(g, creds, 'p', key);
}

describe('admitting a key before the claim', () => {
  it('lets every call go, reporting to nobody, where there is no gate', async () => {
    const { creds } = credentials(OLD);
    const key = await creds.forProject('p');

    const admitted = await admitKey(undefined, creds, 'p', key);

    expect(admitted).toMatchObject({ kind: 'go', key, pass: { fingerprint: keyFingerprintOf(OLD), probe: false } });
    if (admitted.kind === 'go') {
      admitted.pass.accepted();
      await admitted.pass.refused();
      admitted.pass.release();
    }
  });

  it('makes the first call the probe and reads the secret no more than once', async () => {
    const { creds, reads } = credentials(OLD);
    const key = await creds.forProject('p');

    const admitted = await admitKey(gate(), creds, 'p', key);

    expect(admitted).toMatchObject({ kind: 'go', key, pass: { probe: true } });
    expect(reads()).toBe(1);
  });

  it('refuses a refused key fingerprint when a fresh read of the secret still holds it', async () => {
    const { creds, reads } = credentials(OLD);
    const second = await admitAfterRefusal(creds);

    expect(second).toMatchObject({
      kind: 'refused',
      error: { name: 'KeyRefusedError', fingerprint: keyFingerprintOf(OLD) },
    });
    expect(second.kind === 'refused' && second.error.retryAfterMs).toBeGreaterThan(COOLDOWN_MS - 1_000);
    expect(reads()).toBe(2);
  });

  it('takes the new key fingerprint the secret holds now when the old one is refused', async () => {
    const { creds } = credentials(OLD, NEW);
    const second = await admitAfterRefusal(creds);

    expect(second).toMatchObject({
      kind: 'go',
      key: { credentials: signing(NEW) },
      pass: { fingerprint: keyFingerprintOf(NEW), probe: true },
    });
  });

  it('refuses when the new key fingerprint is refused as well', async () => {
    const { creds } = credentials(OLD, NEW);
    const g = gate();
    for (const k of [OLD, NEW]) {
      const pass = await g.admit(keyFingerprintOf(k));
      if (pass.kind === 'go') await pass.pass.refused();
    }

    const admitted = await admitKey(g, creds, 'p', await creds.forProject('p'));

    expect(admitted).toMatchObject({ kind: 'refused', error: { fingerprint: keyFingerprintOf(NEW) } });
  });

  it("gives the call that found a rotated secret the new version's probe, or nothing when it is refused", async () => {
    const g = gate();
    const fresh = { credentials: signing(NEW), generation: 1 };

    const pass = await admitRotatedKey(g, fresh);
    expect(pass).toMatchObject({ fingerprint: keyFingerprintOf(NEW), probe: true });
    await pass!.refused();

    expect(await admitRotatedKey(g, fresh)).toBeUndefined();
    expect(await admitRotatedKey(undefined, fresh)).toMatchObject({ fingerprint: keyFingerprintOf(NEW), probe: false });
  });
});

const ENDPOINT = 'https://workspace.example';
const refusedSignature = () =>
  new WorkspaceApiError({ status: 401, code: 'APIG.0301', message: 'Incorrect IAM authentication information' });
const unavailable = () => new WorkspaceApiError({ status: 503, code: 'APIG.0613', message: 'IAM unavailable' });

type Answer = 'ok' | 'refuse' | 'unavailable';

/**
 * Workspace as the calls see it: the answer for each access key, and every access key a call was signed with. An
 * accepted call answers with the key it was signed with.
 */
function workspace(answers: Record<string, Answer>) {
  const signedWith: string[] = [];
  const call = async (credentials: SigningCredentials) => {
    signedWith.push(credentials.ak);
    const answer = answers[credentials.ak] ?? 'refuse';
    if (answer === 'refuse') throw refusedSignature();
    if (answer === 'unavailable') throw unavailable();
    return `answered ${credentials.ak}`;
  };
  return { call, signedWith };
}

/** Signed calls for project p, through a gate sharing its refusals with an in-memory fleet, with the secret's values in turn. */
function keyedCalls(...secret: unknown[]) {
  const { creds, reads } = credentials(...secret);
  const shared = fleet();
  const calls: KeyedCalls = {
    credentials: creds,
    keyGate: gate(shared.shared),
    breakers: new CircuitBreakers({ consecutiveFailures: 5, halfOpenAfterMs: 30_000, authCooldownMs: COOLDOWN_MS }),
    projectId: 'p',
    endpoint: ENDPOINT,
  };
  const keyGate = calls.keyGate as InvocationKeyGate;
  return {
    calls,
    keyGate,
    reads,
    /** The fingerprints the fleet was told are refused. */
    sharedRefusals: () => shared.calls.writes.map(([fingerprint]) => fingerprint),
    /** Milliseconds the key's circuit breaker still refuses calls for this access key. */
    breakerWait: (key: { ak: string }) => calls.breakers.waitFor(CircuitBreakers.keyFor(ENDPOINT, key.ak)),
  };
}

async function admitted(calls: KeyedCalls): Promise<Admitted> {
  const admission = await admit(calls);
  if (admission.kind !== 'go') throw new Error('expected the key to be admitted');
  return admission;
}

/** A promise's state after every pending callback has run: its value, or that it is still waiting. */
async function stateOf<T>(promise: Promise<T>): Promise<{ done: true; value: T } | { done: false }> {
  let state: { done: true; value: T } | { done: false } = { done: false };
  void promise.then((value) => {
    state = { done: true, value };
  });
  await settle();
  return state;
}

let logs: LogCapture;
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(1_000_000);
  logs = captureStdout();
});
afterEach(() => {
  logs.restore();
  vi.useRealTimers();
});

describe('calling Workspace with an admitted key', () => {
  it("returns Workspace's answer to a call signed with the admitted key, and opens the gate for its fingerprint", async () => {
    const k = keyedCalls(OLD);
    const ws = workspace({ AKOLD: 'ok' });

    const answer = await callWith(k.calls, await admitted(k.calls), ws.call);

    expect(answer).toBe('answered AKOLD');
    expect(ws.signedWith).toEqual(['AKOLD']);
    expect(k.reads()).toBe(1);
    expect(go(await k.keyGate.admit(keyFingerprintOf(OLD))).probe).toBe(false);
  });

  it('passes a failure that is not a refused signature on unchanged, without reading the secret again, and lets the next waiting call probe', async () => {
    const k = keyedCalls(OLD);
    const ws = workspace({ AKOLD: 'unavailable' });
    const probe = await admitted(k.calls);
    const waiting = admit(k.calls);

    const failure = await callWith(k.calls, probe, ws.call).catch((e: unknown) => e);

    expect(failure).toMatchObject({ name: 'WorkspaceApiError', kind: 'transient', status: 503 });
    expect(ws.signedWith).toEqual(['AKOLD']);
    expect(k.reads()).toBe(1);
    expect(k.breakerWait(OLD)).toBe(0);
    expect(k.sharedRefusals()).toEqual([]);
    expect(await stateOf(waiting)).toMatchObject({ done: true, value: { kind: 'go', pass: { probe: true } } });
  });

  it('passes an error thrown before any answer on unchanged and lets the next waiting call probe', async () => {
    const k = keyedCalls(OLD);
    const probe = await admitted(k.calls);
    const waiting = admit(k.calls);
    const broken = new TypeError('request could not be built');

    const failure = await callWith(k.calls, probe, async () => Promise.reject(broken)).catch((e: unknown) => e);

    expect(failure).toBe(broken);
    expect(k.reads()).toBe(1);
    expect(await stateOf(waiting)).toMatchObject({ done: true, value: { kind: 'go', pass: { probe: true } } });
  });
});

describe('a refused signature with the secret unchanged', () => {
  it('reads the secret once more, sends no second signature, and throws the refusal', async () => {
    const k = keyedCalls(OLD);
    const ws = workspace({});

    const failure = await callWith(k.calls, await admitted(k.calls), ws.call).catch((e: unknown) => e);

    expect(isWorkspaceApiError(failure) && failure.kind).toBe('auth');
    expect(ws.signedWith).toEqual(['AKOLD']);
    expect(k.reads()).toBe(2);
  });

  it("stops the key's circuit breaker for the auth cool-down, so the next call is not sent", async () => {
    const k = keyedCalls(OLD);
    const ws = workspace({});
    await callWith(k.calls, await admitted(k.calls), ws.call).catch(() => undefined);

    expect(k.breakerWait(OLD)).toBe(COOLDOWN_MS);
    await expect(
      k.calls.breakers.execute(CircuitBreakers.keyFor(ENDPOINT, OLD.ak), () => ws.call(signing(OLD))),
    ).rejects.toBeInstanceOf(CircuitOpenError);
    expect(ws.signedWith).toEqual(['AKOLD']);
  });

  it('closes the gate for the key fingerprint here and tells the fleet', async () => {
    const k = keyedCalls(OLD);
    await callWith(k.calls, await admitted(k.calls), workspace({}).call).catch(() => undefined);

    expect(await k.keyGate.admit(keyFingerprintOf(OLD))).toEqual({ kind: 'refused', retryAfterMs: COOLDOWN_MS });
    expect(k.sharedRefusals()).toEqual([keyFingerprintOf(OLD)]);
  });

  it('answers the calls that waited for the probe with a refusal, sending nothing more', async () => {
    const k = keyedCalls(OLD);
    const ws = workspace({});
    const probe = await admitted(k.calls);
    const waiting = admit(k.calls);

    await callWith(k.calls, probe, ws.call).catch(() => undefined);

    expect(await stateOf(waiting)).toMatchObject({
      done: true,
      value: { kind: 'refused', error: { fingerprint: keyFingerprintOf(OLD), retryAfterMs: COOLDOWN_MS } },
    });
    expect(ws.signedWith).toEqual(['AKOLD']);
  });
});

describe('a refused signature with the secret rotated meanwhile', () => {
  it.each([
    ['a new access key and secret key', NEW],
    ['a new secret key for the same access key', { ak: OLD.ak, sk: 'new-secret' }],
    ['a new access key with the same secret key', { ak: 'AKNEW', sk: OLD.sk }],
  ])('sends the call again, once, with %s and returns its answer', async (_, rotated) => {
    const k = keyedCalls(OLD, rotated);
    let calls = 0;
    const call = async (credentials: SigningCredentials) => {
      calls++;
      if (credentials.sk === OLD.sk && credentials.ak === OLD.ak) throw refusedSignature();
      return keyFingerprintOf(credentials);
    };

    const answer = await callWith(k.calls, await admitted(k.calls), call);

    expect(answer).toBe(keyFingerprintOf(signing(rotated)));
    expect(calls).toBe(2);
    expect(k.reads()).toBe(2);
  });

  it('opens the gate for the new fingerprint and closes it for the old one here only, leaving the fleet untold', async () => {
    const k = keyedCalls(OLD, NEW);
    await callWith(k.calls, await admitted(k.calls), workspace({ AKNEW: 'ok' }).call);

    expect(go(await k.keyGate.admit(keyFingerprintOf(NEW))).probe).toBe(false);
    expect(await k.keyGate.admit(keyFingerprintOf(OLD))).toMatchObject({ kind: 'refused' });
    expect(k.sharedRefusals()).toEqual([]);
    expect(k.breakerWait(OLD)).toBe(0);
  });

  it('lets the calls that waited on the old key go with the new one once it is accepted, not as its probe', async () => {
    const k = keyedCalls(OLD, NEW);
    const ws = workspace({ AKNEW: 'ok' });
    const probe = await admitted(k.calls);
    const waiting = admit(k.calls);

    await callWith(k.calls, probe, ws.call);

    expect(await stateOf(waiting)).toMatchObject({
      done: true,
      value: { kind: 'go', key: { credentials: signing(NEW) }, pass: { probe: false } },
    });
    expect(ws.signedWith).toEqual(['AKOLD', 'AKNEW']);
    expect(k.reads()).toBe(2);
  });

  it("gives its call place back while it waits for the rotated key's probe, so a probe waiting for that place goes first", async () => {
    // Prepare: one call place. Another call holds the new key's probe and will wait for the place this call holds.
    const k = keyedCalls(OLD, NEW);
    const calls = { ...k.calls, places: new Places(1) };
    const ws = workspace({ AKNEW: 'ok' });
    const probe = go(await k.keyGate.admit(keyFingerprintOf(NEW)));
    // Act: this call is refused with the old key and finds the new one; the probe's call asks for the place meanwhile.
    const refused = callWith(calls, await admitted(calls), ws.call);
    const probing = callWith(
      calls,
      { kind: 'go', key: { credentials: signing(NEW), generation: 1 }, pass: probe },
      ws.call,
    );
    const both = Promise.all([refused, probing]);
    for (let i = 0; i < 10; i++) await settle();
    // Assess: neither waits on the other; the probe's call went before this call's second signature.
    expect(await stateOf(both)).toEqual({ done: true, value: ['answered AKNEW', 'answered AKNEW'] });
    expect(ws.signedWith).toEqual(['AKOLD', 'AKNEW', 'AKNEW']);
  });

  it('sends nothing with the rotated key when it is told not to once it has its place again, and gives back the place and both passes', async () => {
    // Prepare: one place; the old key is refused and the secret holds a new one.
    const k = keyedCalls(OLD, NEW);
    const places = new Places(1);
    const calls = { ...k.calls, places };
    const ws = workspace({ AKNEW: 'ok' });
    // Act
    const sent = callWith(calls, await admitted(calls), ws.call, { notAgain: () => 'the lease is nearly over' });
    // Assess: one signature, the old one; the error says nothing was sent again, and why.
    await expect(sent).rejects.toMatchObject({
      name: 'NotSentError',
      message: 'not sent again with the rotated key: the lease is nearly over',
    });
    expect(ws.signedWith).toEqual(['AKOLD']);
    expect(await stateOf(places.take())).toMatchObject({ done: true });
    expect(go(await k.keyGate.admit(keyFingerprintOf(NEW))).probe).toBe(true);
  });

  it('holds a call to the place it was given, and gives that place back when the call ends', async () => {
    // Prepare: one place, held for the call; another taker waits for it.
    const k = keyedCalls(OLD);
    const places = new Places(1);
    const calls = { ...k.calls, places };
    const held = await places.take();
    const next = places.take();
    // Act
    const answer = await callWith(calls, await admitted(calls), workspace({ AKOLD: 'ok' }).call, { held });
    // Assess: the call did not wait for a second place, and the one it held went to the taker waiting.
    expect(answer).toBe('answered AKOLD');
    expect(await stateOf(next)).toMatchObject({ done: true });
  });

  it('throws the second refusal when the new key is refused too, and isolates the new key here, in its breaker and in the fleet', async () => {
    const k = keyedCalls(OLD, NEW);
    const ws = workspace({});

    const failure = await callWith(k.calls, await admitted(k.calls), ws.call).catch((e: unknown) => e);

    expect(isWorkspaceApiError(failure) && failure.kind).toBe('auth');
    expect(ws.signedWith).toEqual(['AKOLD', 'AKNEW']);
    expect(k.breakerWait(NEW)).toBe(COOLDOWN_MS);
    expect(await k.keyGate.admit(keyFingerprintOf(NEW))).toEqual({ kind: 'refused', retryAfterMs: COOLDOWN_MS });
    expect(k.sharedRefusals()).toEqual([keyFingerprintOf(NEW)]);
  });

  it('passes a failure of the new key that is not a refusal on, without closing anything for it, and lets its next call probe', async () => {
    const k = keyedCalls(OLD, NEW);
    const ws = workspace({ AKNEW: 'unavailable' });

    const failure = await callWith(k.calls, await admitted(k.calls), ws.call).catch((e: unknown) => e);

    expect(failure).toMatchObject({ name: 'WorkspaceApiError', kind: 'transient' });
    expect(ws.signedWith).toEqual(['AKOLD', 'AKNEW']);
    expect(k.breakerWait(NEW)).toBe(0);
    expect(k.sharedRefusals()).toEqual([]);
    expect(await stateOf(k.keyGate.admit(keyFingerprintOf(NEW)))).toMatchObject({
      done: true,
      value: { kind: 'go', pass: { probe: true } },
    });
  });

  it('throws the first refusal without sending the new key when the gate refuses the new fingerprint', async () => {
    const k = keyedCalls(OLD, NEW);
    await go(await k.keyGate.admit(keyFingerprintOf(NEW))).refused();
    const ws = workspace({ AKNEW: 'ok' });
    const probe = await admitted(k.calls);

    const failure = await callWith(k.calls, probe, ws.call).catch((e: unknown) => e);

    expect(failure).toMatchObject({ name: 'WorkspaceApiError', kind: 'auth' });
    expect(ws.signedWith).toEqual(['AKOLD']);
    expect(await k.keyGate.admit(keyFingerprintOf(OLD))).toMatchObject({ kind: 'refused' });
  });

  it('sends the call again with the new key where there is no gate', async () => {
    const k = keyedCalls(OLD, NEW);
    const calls = { ...k.calls, keyGate: undefined };
    const ws = workspace({ AKNEW: 'ok' });

    const answer = await withKey(calls, ws.call);

    expect(answer).toBe('answered AKNEW');
    expect(ws.signedWith).toEqual(['AKOLD', 'AKNEW']);
  });
});

describe('a signed read', () => {
  it("returns Workspace's answer to a call signed with the project's current key", async () => {
    const k = keyedCalls(OLD);
    const ws = workspace({ AKOLD: 'ok' });

    expect(await withKey(k.calls, ws.call)).toBe('answered AKOLD');
    expect(ws.signedWith).toEqual(['AKOLD']);
  });

  it('throws KeyRefusedError without calling Workspace while the key fingerprint is refused', async () => {
    const k = keyedCalls(OLD);
    await go(await k.keyGate.admit(keyFingerprintOf(OLD))).refused();
    const ws = workspace({ AKOLD: 'ok' });

    const failure = await withKey(k.calls, ws.call).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(KeyRefusedError);
    expect(isWorkspaceApiError(failure)).toBe(false);
    expect(ws.signedWith).toEqual([]);
  });
});

describe('a refused key fingerprint', () => {
  it('names the fingerprint by its first 12 digits and the wait in whole seconds, rounded up', () => {
    const fingerprint = keyFingerprintOf(OLD);

    const error = new KeyRefusedError(fingerprint, 59_001);

    expect(error.message).toBe(`key ${fingerprint.slice(0, 12)} was refused by Workspace; not used for 60 s`);
    expect(error.message).not.toContain(fingerprint.slice(0, 13));
    expect(error).toMatchObject({ name: 'KeyRefusedError', fingerprint, retryAfterMs: 59_001 });
  });
});

describe('stillAdmitted', () => {
  it('holds an admission good while its key fingerprint is not refused and is still the current key', async () => {
    const k = keyedCalls(OLD);
    expect(await stillAdmitted(k.calls, await admitted(k.calls))).toBe(true);
  });

  it('holds an admission no longer good once the gate refused its key fingerprint', async () => {
    // Prepare: this admission's key is refused by another call meanwhile.
    const k = keyedCalls(OLD);
    const mine = await admitted(k.calls);
    mine.pass.release();
    const other = await admitted(k.calls);
    await other.pass.refused(false);
    // Act, Assess
    expect(await stillAdmitted(k.calls, mine)).toBe(false);
  });

  it('holds an admission no longer good once the secret rotated, even without a gate', async () => {
    // Prepare: no gate; the secret is read again and holds a new key.
    const k = keyedCalls(OLD, NEW);
    const calls = { ...k.calls, keyGate: undefined };
    const mine = await admitted(calls);
    await calls.credentials.refreshAfter(mine.key.generation);
    // Act, Assess
    expect(await stillAdmitted(calls, mine)).toBe(false);
  });
});
