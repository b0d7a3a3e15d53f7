import { type Admission, type KeyPass, type SharedRefusals } from '../../lib/workspace/key-gate.js';

/** What the key gate's unit tests share: a hand-moved clock, an in-memory fleet, and small assertions. */

export const COOLDOWN_MS = 300_000;

/** A clock the test moves by hand. */
export function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** Shared refusals in memory, counting reads and writes. */
export function fleet(initial: Record<string, number> = {}) {
  const until = new Map(Object.entries(initial));
  const calls = { reads: 0, writes: [] as Array<[string, number]> };
  const shared: SharedRefusals = {
    refusedUntil: async (version) => (calls.reads++, until.get(version) ?? 0),
    record: async (version, at) => {
      calls.writes.push([version, at]);
      until.set(version, at);
    },
  };
  return { shared, calls, until };
}

export function go(admission: Admission): KeyPass {
  if (admission.kind !== 'go') throw new Error(`expected go, got refused for ${admission.retryAfterMs} ms`);
  return admission.pass;
}

/** Lets every pending promise callback run. */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
