import { describe, expect, it } from 'vitest';
import { KeyGate } from '../../lib/workspace/key-gate.js';
import { COOLDOWN_MS, clock, fleet, go, settle } from '../helpers/key-gate.js';

/** What a pass reports, and when: each pass counts once, and only the current probe frees its waiters. */

describe('key gate passes', () => {
  it("tells the fleet only about the first refusal, and takes a pass's first report only", async () => {
    const t = clock();
    const { shared, calls } = fleet();
    const gate = new KeyGate({ cooldownMs: COOLDOWN_MS, now: t.now }).forInvocation(shared);
    const probe = go(await gate.admit('v1'));
    probe.accepted();
    const a = go(await gate.admit('v1'));
    const b = go(await gate.admit('v1'));

    await a.refused();
    t.advance(10);
    await b.refused();
    a.accepted();

    expect(calls.writes).toHaveLength(1);
    expect((await gate.admit('v1')).kind).toBe('refused');
  });

  it("ignores any report after a pass's first: a late acceptance does not open a refused version", async () => {
    const t = clock();
    const gate = new KeyGate({ cooldownMs: COOLDOWN_MS, now: t.now }).forInvocation();
    const probe = go(await gate.admit('v1'));
    await probe.refused();
    t.advance(10);
    await probe.refused();
    probe.accepted();

    expect(await gate.admit('v1')).toEqual({ kind: 'refused', retryAfterMs: COOLDOWN_MS - 10 });
    t.advance(COOLDOWN_MS);
    expect(go(await gate.admit('v1')).probe).toBe(true);
  });

  it('probes again after the cool-down of a version that was accepted before it was refused', async () => {
    const t = clock();
    const gate = new KeyGate({ cooldownMs: COOLDOWN_MS, now: t.now }).forInvocation();
    go(await gate.admit('v1')).accepted();
    await go(await gate.admit('v1')).refused();

    t.advance(COOLDOWN_MS);

    expect(go(await gate.admit('v1')).probe).toBe(true);
  });

  it('tells the fleet about a refusal that comes the moment the last cool-down ended', async () => {
    const t = clock();
    const { shared, calls } = fleet();
    const gate = new KeyGate({ cooldownMs: COOLDOWN_MS, now: t.now });
    await go(await gate.forInvocation(shared).admit('v1')).refused();
    t.advance(COOLDOWN_MS);

    await go(await gate.forInvocation(shared).admit('v1')).refused();

    expect(calls.writes).toEqual([
      ['v1', 1_000_000 + COOLDOWN_MS],
      ['v1', 1_000_000 + 2 * COOLDOWN_MS],
    ]);
  });

  it('does not let a late acceptance of a refused probe open the version once the cool-down ends', async () => {
    const t = clock();
    const gate = new KeyGate({ cooldownMs: COOLDOWN_MS, now: t.now }).forInvocation();
    const probe = go(await gate.admit('v1'));
    await probe.refused();
    probe.accepted();

    t.advance(COOLDOWN_MS);

    expect(go(await gate.admit('v1')).probe).toBe(true);
  });

  it('lets only the current probe release its waiters, not a stale pass or a second report', async () => {
    const t = clock();
    const gate = new KeyGate({ cooldownMs: COOLDOWN_MS, now: t.now }).forInvocation();
    const accepted = go(await gate.admit('v1'));
    accepted.accepted();
    const old = go(await gate.admit('v1'));
    const refusing = go(await gate.admit('v1'));
    await refusing.refused();
    t.advance(COOLDOWN_MS);
    const first = go(await gate.admit('v1'));
    first.release();
    const probe = go(await gate.admit('v1'));
    let waiterAnswered = false;
    void gate.admit('v1').then(() => (waiterAnswered = true));

    old.release();
    first.release();
    await settle();

    expect(probe.probe).toBe(true);
    expect(waiterAnswered).toBe(false);
    probe.accepted();
    await settle();
    expect(waiterAnswered).toBe(true);
  });
});
