import type { ProjectCredentials, WorkspaceCredentials } from './credentials.js';
import { keyVersionOf, type InvocationKeyGate, type KeyPass } from './key-gate.js';

/**
 * Passing the key gate (lib/workspace/key-gate.ts) with a project's key, before the
 * ledger claim, so no lease is held while a call waits for another call's
 * answer on the same key.
 */

export type KeyAdmission =
  | { readonly kind: 'go'; readonly key: ProjectCredentials; readonly pass: KeyPass }
  | { readonly kind: 'refused'; readonly keyVersion: string; readonly retryAfterMs: number };

/** Without a gate (tests that build their own dependencies) every call goes, and reports to nobody. */
function openPass(keyVersion: string): KeyPass {
  return { keyVersion, probe: false, accepted: () => undefined, refused: async () => undefined, release: () => undefined };
}

/**
 * Admits a call with `key`. A refused key version gets one fresh read of the
 * secret (one per invocation: WorkspaceCredentials shares it): the probe may
 * have found the secret rotated while this call waited, or the operator may
 * have fixed it; a new value is a new key version with a probe of its own.
 */
export async function admitKey(gate: InvocationKeyGate | undefined, credentials: WorkspaceCredentials, projectId: string, key: ProjectCredentials): Promise<KeyAdmission> {
  const version = keyVersionOf(key.credentials);
  if (!gate) return { kind: 'go', key, pass: openPass(version) };
  const first = await gate.admit(version);
  if (first.kind === 'go') return { kind: 'go', key, pass: first.pass };
  await credentials.refreshAfter(key.version);
  const fresh = await credentials.forProject(projectId);
  const freshVersion = keyVersionOf(fresh.credentials);
  if (freshVersion === version) return { kind: 'refused', keyVersion: version, retryAfterMs: first.retryAfterMs };
  const second = await gate.admit(freshVersion);
  return second.kind === 'go' ? { kind: 'go', key: fresh, pass: second.pass } : { kind: 'refused', keyVersion: freshVersion, retryAfterMs: second.retryAfterMs };
}

/**
 * The pass for the key a 401 made us read afresh (a rotated secret), taken by
 * the call that found it before the old version's waiters are let go, so this
 * call is the new version's probe. Undefined when that version is refused too.
 */
export async function admitRotatedKey(gate: InvocationKeyGate | undefined, fresh: ProjectCredentials): Promise<KeyPass | undefined> {
  const version = keyVersionOf(fresh.credentials);
  if (!gate) return openPass(version);
  const admission = await gate.admit(version);
  return admission.kind === 'go' ? admission.pass : undefined;
}
