/**
 * Every signed call to Workspace goes through here (docs/key-safety.md): the
 * key gate admits a key fingerprint (one call first per fingerprint not yet
 * accepted; refusals shared across containers), the endpoint's circuit
 * breaker runs the call, and on a 401 the secret is read again once; a key
 * refused after that is isolated for the auth cool-down, here and in every
 * container, so no call walks a refused key towards Huawei's lockout.
 */

import type { Place, Places } from '../platform/concurrency.js';
import { CircuitBreakers } from './circuit-breakers.js';
import type { ProjectCredentials, WorkspaceCredentials } from './credentials.js';
import { isWorkspaceApiError } from './errors.js';
import { type InvocationKeyGate, type KeyPass, keyFingerprintOf } from './key-gate.js';
import type { SigningCredentials } from './signer.js';

/** What a signed call needs: whose keys, for which project, to which endpoint, through which gate and breakers. */
export interface KeyedCalls {
  readonly credentials: WorkspaceCredentials;
  readonly keyGate?: InvocationKeyGate | undefined;
  readonly breakers: CircuitBreakers;
  readonly projectId: string;
  /** The Workspace origin the calls go to. */
  readonly endpoint: string;
  /** The invocation's call places, when it has more failures under way than calls it makes at once. */
  readonly places?: Places | undefined;
}

/** A key fingerprint the gate refuses for now. Not an answer from Workspace: never counted as a Workspace API error. */
export class KeyRefusedError extends Error {
  override readonly name = 'KeyRefusedError';

  constructor(
    readonly fingerprint: string,
    readonly retryAfterMs: number,
  ) {
    super(`key ${fingerprint.slice(0, 12)} was refused by Workspace; not used for ${Math.ceil(retryAfterMs / 1000)} s`);
  }
}

/** A call's place, when it already holds one, and what may stop it from being sent again after a 401. */
export interface CallOptions {
  readonly held?: Place | undefined;
  /**
   * Asked once the rotated key's call has its place again: a reason not to send it (the claim it runs under would
   * not outlive it). Nothing is sent then; NotSentError says so.
   */
  readonly notAgain?: (() => string | undefined) | undefined;
}

/** Nothing was sent: the call stopped before its request (never an answer from Workspace). */
export class NotSentError extends Error {
  override readonly name = 'NotSentError';
}

/** A key admitted for a call, or the refusal to throw instead. */
export type KeyAdmission =
  | { readonly kind: 'go'; readonly key: ProjectCredentials; readonly pass: KeyPass }
  | { readonly kind: 'refused'; readonly error: KeyRefusedError };

/** A key admitted by the gate for one call. */
export type Admitted = Extract<KeyAdmission, { kind: 'go' }>;

/** Without a gate (tests that build their own dependencies) every call goes, and reports to nobody. */
function openPass(fingerprint: string): KeyPass {
  return {
    fingerprint,
    probe: false,
    accepted: () => undefined,
    refused: async () => undefined,
    release: () => undefined,
    closed: () => false,
  };
}

/**
 * Admits a call with `key`. A refused fingerprint gets one fresh read of the
 * secret (one per invocation: WorkspaceCredentials shares it): the probe may
 * have found the secret rotated while this call waited, or the operator may
 * have fixed it; a new value is a new fingerprint with a probe of its own.
 */
export async function admitKey(
  gate: InvocationKeyGate | undefined,
  credentials: WorkspaceCredentials,
  projectId: string,
  key: ProjectCredentials,
): Promise<KeyAdmission> {
  const fingerprint = keyFingerprintOf(key.credentials);
  if (!gate) return { kind: 'go', key, pass: openPass(fingerprint) };
  const first = await gate.admit(fingerprint);
  if (first.kind === 'go') return { kind: 'go', key, pass: first.pass };
  await credentials.refreshAfter(key.generation);
  const fresh = await credentials.forProject(projectId);
  const freshFingerprint = keyFingerprintOf(fresh.credentials);
  if (freshFingerprint === fingerprint)
    return { kind: 'refused', error: new KeyRefusedError(fingerprint, first.retryAfterMs) };
  const second = await gate.admit(freshFingerprint);
  return second.kind === 'go'
    ? { kind: 'go', key: fresh, pass: second.pass }
    : { kind: 'refused', error: new KeyRefusedError(freshFingerprint, second.retryAfterMs) };
}

/**
 * The pass for the key a 401 made us read afresh (a rotated secret), taken by
 * the call that found it before the old fingerprint's waiters are let go, so
 * this call is the new fingerprint's probe. Undefined when it is refused too.
 */
export async function admitRotatedKey(
  gate: InvocationKeyGate | undefined,
  fresh: ProjectCredentials,
): Promise<KeyPass | undefined> {
  const fingerprint = keyFingerprintOf(fresh.credentials);
  if (!gate) return openPass(fingerprint);
  const admission = await gate.admit(fingerprint);
  return admission.kind === 'go' ? admission.pass : undefined;
}

/**
 * Whether an admission given earlier is still good for a call now: its key fingerprint not refused since, and still
 * the project's current key (a 401 elsewhere may have found the secret rotated). A call that waited for its place
 * asks this before it signs anything.
 */
export async function stillAdmitted(calls: KeyedCalls, admitted: Admitted): Promise<boolean> {
  if (admitted.pass.closed()) return false;
  const current = await calls.credentials.forProject(calls.projectId);
  return keyFingerprintOf(current.credentials) === admitted.pass.fingerprint;
}

/** Passes the key gate with the project's current key: before any claim, so no lease is held while a call waits. */
export async function admit(calls: KeyedCalls): Promise<KeyAdmission> {
  const current = await calls.credentials.forProject(calls.projectId);
  return admitKey(calls.keyGate, calls.credentials, calls.projectId, current);
}

/**
 * Makes a signed call with an admitted key, through the key's circuit
 * breaker; on 401 the secret is read again once and, if it rotated, the new
 * key probes once more. The call holds one of the invocation's places (`held`,
 * or one taken now, after the key's admission): the pass and the place are
 * given back whatever happens. A place is never held while waiting at the key
 * gate (the gate's probe may be waiting for that place): the rotated key's
 * admission is asked with the place given back, and a place taken again after.
 */
export async function callWith<T>(
  calls: KeyedCalls,
  admitted: Admitted,
  call: (credentials: SigningCredentials) => Promise<T>,
  options: CallOptions = {},
): Promise<T> {
  let place = options.held ?? (await calls.places?.take());
  const through = (credentials: SigningCredentials) =>
    calls.breakers.execute(CircuitBreakers.keyFor(calls.endpoint, credentials.ak), () => call(credentials));
  const current = admitted.key;
  try {
    const result = await through(current.credentials);
    admitted.pass.accepted();
    return result;
  } catch (error) {
    if (!isWorkspaceApiError(error) || error.kind !== 'auth') throw error;
    await calls.credentials.refreshAfter(current.generation);
    const fresh = await calls.credentials.forProject(calls.projectId);
    if (fresh.credentials.ak === current.credentials.ak && fresh.credentials.sk === current.credentials.sk) {
      calls.breakers.refuseKey(CircuitBreakers.keyFor(calls.endpoint, current.credentials.ak));
      await admitted.pass.refused();
      throw error;
    }
    // A rotated secret: this call probes the new fingerprint, then the old one's waiters go (they read the secret
    // again).
    place?.release();
    const freshPass = await admitRotatedKey(calls.keyGate, fresh);
    await admitted.pass.refused(false);
    if (!freshPass) throw error;
    place = await calls.places?.take();
    const notAgain = options.notAgain?.();
    if (notAgain !== undefined) {
      freshPass.release();
      throw new NotSentError(`not sent again with the rotated key: ${notAgain}`);
    }
    try {
      const result = await through(fresh.credentials);
      freshPass.accepted();
      return result;
    } catch (second) {
      if (isWorkspaceApiError(second) && second.kind === 'auth') {
        calls.breakers.refuseKey(CircuitBreakers.keyFor(calls.endpoint, fresh.credentials.ak));
        await freshPass.refused();
      }
      throw second;
    } finally {
      freshPass.release();
    }
  } finally {
    admitted.pass.release();
    place?.release();
  }
}

/** A signed read: admitted, called, released; a refused key throws KeyRefusedError. */
export async function withKey<T>(calls: KeyedCalls, call: (credentials: SigningCredentials) => Promise<T>): Promise<T> {
  const admission = await admit(calls);
  if (admission.kind === 'refused') throw admission.error;
  return callWith(calls, admission, call);
}
