import { describe, expect, it } from 'vitest';
import { KeyGate, type KeyPass, keyFingerprintOf, type SharedRefusals } from '../../lib/workspace/key-gate.js';
import { COOLDOWN_MS, clock, fleet, go, settle } from '../helpers/key-gate.js';

describe('key gate', () => {
  it('lets one call probe an unknown key fingerprint while the others wait, then opens for all on acceptance', async () => {
    const t = clock();
    const { shared } = fleet();
    const gate = new KeyGate({ cooldownMs: COOLDOWN_MS, now: t.now }).forInvocation(shared);

    const first = go(await gate.admit('v1'));
    const waiting = Array.from({ length: 9 }, () => gate.admit('v1'));
    let answered = 0;
    waiting.forEach((w) => void w.then(() => answered++));
    await settle();
    expect(first.probe).toBe(true);
    expect(answered).toBe(0);

    first.accepted();
    const passes = (await Promise.all(waiting)).map(go);

    expect(passes.map((p) => p.probe)).toEqual(Array(9).fill(false));
    expect(go(await gate.admit('v1')).probe).toBe(false);
  });

  it('answers every waiting call with the refusal and tells the fleet once, for the cool-down', async () => {
    const t = clock();
    const { shared, calls } = fleet();
    const gate = new KeyGate({ cooldownMs: COOLDOWN_MS, now: t.now }).forInvocation(shared);
    const probe = go(await gate.admit('v1'));
    const waiting = Array.from({ length: 49 }, () => gate.admit('v1'));

    t.advance(50);
    await probe.refused();
    const answers = await Promise.all(waiting);

    expect(answers.every((a) => a.kind === 'refused' && a.retryAfterMs === COOLDOWN_MS)).toBe(true);
    expect(calls.writes).toEqual([['v1', 1_000_050 + COOLDOWN_MS]]);
    expect(calls.reads).toBe(1);
  });

  it('probes again once the cool-down has ended', async () => {
    const t = clock();
    const gate = new KeyGate({ cooldownMs: COOLDOWN_MS, now: t.now });
    await go(await gate.forInvocation().admit('v1')).refused();

    t.advance(COOLDOWN_MS - 1);
    expect(await gate.forInvocation().admit('v1')).toEqual({ kind: 'refused', retryAfterMs: 1 });
    t.advance(1);
    expect(go(await gate.forInvocation().admit('v1')).probe).toBe(true);
  });

  it("says a pass given before its key fingerprint was refused is closed, until the refusal's cool-down ends", async () => {
    // Prepare: two passes of an accepted version; one call is refused.
    const t = clock();
    const gate = new KeyGate({ cooldownMs: COOLDOWN_MS, now: t.now }).forInvocation();
    const probe = go(await gate.admit('v1'));
    probe.accepted();
    const earlier = go(await gate.admit('v1'));
    const refusing = go(await gate.admit('v1'));
    const before = earlier.closed();
    // Act
    await refusing.refused(false);
    const after = earlier.closed();
    t.advance(COOLDOWN_MS - 1);
    const lastMoment = earlier.closed();
    t.advance(1);
    // Assess
    expect([before, after, lastMoment, earlier.closed()]).toEqual([false, true, true, false]);
  });

  it('hands the probe to exactly one waiting call when the probe learned nothing about the key', async () => {
    const gate = new KeyGate({ cooldownMs: COOLDOWN_MS }).forInvocation();
    const probe = go(await gate.admit('v1'));
    const waiting = Array.from({ length: 5 }, () => gate.admit('v1'));
    const done: KeyPass[] = [];
    waiting.forEach((w) => void w.then((a) => done.push(go(a))));

    probe.release();
    await settle();

    expect(done).toHaveLength(1);
    expect(done[0]!.probe).toBe(true);
    done[0]!.accepted();
    await Promise.all(waiting);
    expect(done.filter((p) => p.probe)).toHaveLength(1);
  });

  it('refuses a key fingerprint the fleet refused, without a probe, reading the fleet once per invocation', async () => {
    const t = clock();
    const { shared, calls } = fleet({ v1: 1_000_000 + 60_000 });
    const gate = new KeyGate({ cooldownMs: COOLDOWN_MS, now: t.now });
    const invocation = gate.forInvocation(shared);

    const answers = await Promise.all(Array.from({ length: 10 }, () => invocation.admit('v1')));

    expect(answers.every((a) => a.kind === 'refused' && a.retryAfterMs === 60_000)).toBe(true);
    expect(calls.reads).toBe(1);
    // Refused here now too: the next invocation does not need to ask.
    await gate.forInvocation(shared).admit('v1');
    expect(calls.reads).toBe(1);
  });

  it('stops using a key fingerprint accepted here once the fleet has refused it, from the next invocation', async () => {
    const t = clock();
    const { shared, until } = fleet();
    const gate = new KeyGate({ cooldownMs: COOLDOWN_MS, now: t.now });
    go(await gate.forInvocation(shared).admit('v1')).accepted();

    until.set('v1', t.now() + 10_000);

    expect(await gate.forInvocation(shared).admit('v1')).toEqual({ kind: 'refused', retryAfterMs: 10_000 });
  });

  it('ignores a fleet refusal whose cool-down has ended', async () => {
    const t = clock();
    const { shared } = fleet({ v1: 1_000_000 });
    const gate = new KeyGate({ cooldownMs: COOLDOWN_MS, now: t.now }).forInvocation(shared);
    expect(go(await gate.admit('v1')).probe).toBe(true);
  });

  it('keeps a refusal of a superseded version (a rotated secret) in this container only', async () => {
    const { shared, calls } = fleet();
    const gate = new KeyGate({ cooldownMs: COOLDOWN_MS }).forInvocation(shared);
    await go(await gate.admit('v1')).refused(false);
    expect(calls.writes).toEqual([]);
    expect((await gate.admit('v1')).kind).toBe('refused');
  });

  it('keeps one call per key fingerprint when the fleet store is unreachable, and says so', async () => {
    const errors: unknown[] = [];
    const broken: SharedRefusals = {
      refusedUntil: () => Promise.reject(new Error('down')),
      record: () => Promise.reject(new Error('down')),
    };
    const gate = new KeyGate({ cooldownMs: COOLDOWN_MS }).forInvocation(broken, (e) => errors.push(e));

    const probe = go(await gate.admit('v1'));
    const waiter = gate.admit('v1');
    await probe.refused();

    expect(probe.probe).toBe(true);
    expect((await waiter).kind).toBe('refused');
    expect(errors).toHaveLength(2);
  });

  it('keeps versions apart: a refused one does not hold back another', async () => {
    const gate = new KeyGate({ cooldownMs: COOLDOWN_MS }).forInvocation();
    await go(await gate.admit('v1')).refused();
    expect(go(await gate.admit('v2')).probe).toBe(true);
  });
});

describe('key fingerprint fingerprint', () => {
  const PINNED_AK_SK = '38c0cb5b6694d04f8862c88926be33d7';
  const PINNED_AK_SK_T = 'a61d12d6dd33553426ee0040614bbd2c';
  const key = { ak: 'AKEXAMPLE1234567', sk: 'secret-key-value-1234567890' };

  it('is the same for the same key and never contains it', () => {
    const version = keyFingerprintOf(key);
    expect(version).toBe(keyFingerprintOf({ ...key }));
    expect(version).toMatch(/^[0-9a-f]{32}$/);
    expect(version).not.toContain(key.ak);
  });

  it('changes with the access key, the secret key and the token: a new secret value is a new version', () => {
    const versions = new Set(
      [key, { ...key, ak: 'AKOTHER' }, { ...key, sk: 'other' }, { ...key, securityToken: 'token' }].map(
        keyFingerprintOf,
      ),
    );
    expect(versions.size).toBe(4);
    // The fields are kept apart: moving a character from one to the next is another version.
    expect(keyFingerprintOf({ ak: 'AB', sk: 'C' })).not.toBe(keyFingerprintOf({ ak: 'A', sk: 'BC' }));
  });

  it('stays the same across releases, so a refusal recorded by the running version is honoured by the next during a deployment', () => {
    expect(keyFingerprintOf({ ak: 'AK', sk: 'SK' })).toBe(PINNED_AK_SK);
    expect(keyFingerprintOf({ ak: 'AK', sk: 'SK', securityToken: 'T' })).toBe(PINNED_AK_SK_T);
  });
});
