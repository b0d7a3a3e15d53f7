import { createHash } from 'node:crypto';
/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential
 * Backoff And Jitter"): a random wait between 0 and min(cap, base × 2^n), so
 * many failures at once do not come back at once.
 */
export function fullJitterDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

/** A number in [0, 1) fixed by failure and attempt, so every redelivery computes the same jitter. */
export function stableJitter(key: string, attempt: number): number {
  return createHash('sha256').update(`${key}#${attempt}`).digest().readUInt32BE(0) / 2 ** 32;
}
