import { describe, expect, it } from 'vitest';
import { WorkspaceCredentials } from '../../lib/workspace/credentials.js';
import { admitKey, admitRotatedKey } from '../../lib/workspace/key-calls.js';
import { KeyGate, keyFingerprintOf } from '../../lib/workspace/key-gate.js';

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

const gate = () => new KeyGate({ cooldownMs: 60_000 }).forInvocation();

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
    expect(second.kind === 'refused' && second.error.retryAfterMs).toBeGreaterThan(59_000);
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
