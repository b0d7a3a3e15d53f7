import { describe, expect, it } from 'vitest';
import { worstCaseCallMs } from '../../lib/config/app-config.js';
import { claimsAhead } from '../../lib/pipeline/runner.js';
import { mapWithConcurrency, Places } from '../../lib/platform/concurrency.js';

/** A promise with its resolver, so a test decides when each item ends. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Lets every pending callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('mapWithConcurrency', () => {
  it("runs at most `limit` items at once and answers in the items' order", async () => {
    // Prepare
    let running = 0;
    let most = 0;
    // Act
    const results = await mapWithConcurrency([5, 1, 4, 2, 3], 2, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, n));
      running--;
      return n * 10;
    });
    // Assess
    expect(results).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });

  it('an item that frees its place lets the next start, and the map still waits for it to end', async () => {
    // Prepare: one place; the first item frees it and then waits on a gate.
    const first = gate();
    const started: string[] = [];
    let finished = false;
    // Act
    const mapped = mapWithConcurrency(['a', 'b'], 1, async (item, _index, free) => {
      started.push(item);
      if (item === 'a') {
        free();
        await first.promise;
      }
      return item;
    });
    void mapped.then(() => (finished = true));
    await settle();
    // Assess: b ran while a was still finishing, and the map waited for a.
    expect(started).toEqual(['a', 'b']);
    expect(finished).toBe(false);
    first.open();
    expect(await mapped).toEqual(['a', 'b']);
  });

  it('a copy waits for the one before it to end, even when that one frees its place', async () => {
    // Prepare: two copies of one key and another item, two places; the first copy frees its place, then waits.
    const first = gate();
    const started: string[] = [];
    // Act
    const mapped = mapWithConcurrency(
      ['k1', 'k2', 'other'],
      2,
      async (item, _index, free) => {
        started.push(item);
        if (item === 'k1') {
          free();
          await first.promise;
        }
        return item;
      },
      { keyOf: (item) => item.slice(0, 1) },
    );
    await settle();
    // Assess: the second copy has not started while the first is finishing.
    expect(started).toEqual(['k1', 'other']);
    first.open();
    expect(await mapped).toEqual(['k1', 'k2', 'other']);
    expect(started).toEqual(['k1', 'other', 'k2']);
  });

  it("tells of each key's first item once, before it starts and at least `limit` items ahead", async () => {
    // Prepare
    const events: string[] = [];
    const items = ['a', 'b', 'b', 'c', 'd', 'e', 'f'];
    // Act
    await mapWithConcurrency(
      items,
      2,
      async (item, index) => {
        events.push(`start ${item}${index}`);
        await settle();
        return item;
      },
      { keyOf: (item) => item, ahead: (item, index) => events.push(`ahead ${item}${index}`) },
    );
    // Assess: every key's first item told once (the second b never), each before it starts; when the first two
    // start, the two after them are already told.
    const told = events.filter((e) => e.startsWith('ahead'));
    expect(told).toEqual(['ahead a0', 'ahead b1', 'ahead c3', 'ahead d4', 'ahead e5', 'ahead f6']);
    for (const name of ['a0', 'b1', 'c3', 'd4', 'e5', 'f6'])
      expect(events.indexOf(`ahead ${name}`)).toBeLessThan(events.indexOf(`start ${name}`));
    expect(events.indexOf('ahead d4')).toBeLessThan(events.indexOf('start b1'));
  });

  it('an item that fails after freeing its place fails the map, and is not reported unhandled while the next one runs', async () => {
    // Act: the first item frees its place and fails while the second (which keeps its place) is still running.
    const mapped = mapWithConcurrency([1, 2], 1, async (n, _index, free) => {
      if (n === 1) free();
      await settle();
      if (n === 1) throw new Error('late failure');
      await settle();
      await settle();
      return n;
    });
    // Assess (an unhandled rejection would fail the run)
    await expect(mapped).rejects.toThrow('late failure');
  });
});

describe('Places', () => {
  it('gives at most `size` places at once, then one to each taker in the order they asked, as places are released', async () => {
    // Prepare
    const places = new Places(2);
    const order: string[] = [];
    const a = await places.take();
    const b = await places.take();
    // Act: two more takers wait; the holders release one after the other.
    const c = places.take().then((place) => (order.push('c'), place));
    const d = places.take().then((place) => (order.push('d'), place));
    await settle();
    const waitingBefore = places.waiters;
    b.release();
    await settle();
    const afterOne = [...order];
    a.release();
    await settle();
    // Assess
    expect(waitingBefore).toBe(2);
    expect(afterOne).toEqual(['c']);
    expect(order).toEqual(['c', 'd']);
    expect(places.waiters).toBe(0);
    (await c).release();
    (await d).release();
  });

  it('frees a place once however often it is released', async () => {
    // Prepare: one place, held; two takers wait.
    const places = new Places(1);
    const held = await places.take();
    let granted = 0;
    void places.take().then(() => granted++);
    void places.take().then(() => granted++);
    // Act: the holder releases twice.
    held.release();
    held.release();
    await settle();
    // Assess: only one taker got the place.
    expect(granted).toBe(1);
    expect(places.waiters).toBe(1);
  });
});

describe('claimsAhead', () => {
  const config = { maxConcurrency: 10, worstCaseCallMs: worstCaseCallMs(3_000, 1) };

  it('starts as many items again as MAX_CONCURRENCY when the lease outlives a wait for a place and then the call', () => {
    // 2 × 21 s + 5 s = 47 s: the default lease (60 s) and a lease of exactly 47 s.
    expect(claimsAhead({ ...config, leaseSeconds: 60 })).toBe(10);
    expect(claimsAhead({ ...config, leaseSeconds: 47 })).toBe(10);
  });

  it('starts none ahead when the lease is shorter than that (set near its floor)', () => {
    expect(claimsAhead({ ...config, leaseSeconds: 46 })).toBe(0);
    expect(claimsAhead({ ...config, leaseSeconds: 26 })).toBe(0);
  });
});
