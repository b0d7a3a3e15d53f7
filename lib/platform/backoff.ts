/**
 * Every wait between two tries, in one place: within one Workspace call
 * (`inCallBackoff`), before a failure's next retry from the queue
 * (`equalJitterSeconds`, `redeliverySeconds`) and between tries to record an
 * accepted retry in the ledger (`exponentialCeiling`).
 *
 * All are exponential: cockatiel's `noJitterGenerator` gives the ceiling,
 * min(cap, base × 2^n). The jitter on top is ours, not cockatiel's jittered
 * generators, because those draw from Math.random: the in-call jitter takes
 * an injected random (tests and the chaos run fix it by seed), and a retry's
 * delay from the queue must be deterministic, its jitter derived from the
 * failure and the attempt (`stableJitter`), so every redelivery of the same
 * failure computes the same delay and a redelivery cannot come back sooner
 * than the delivery that deferred it meant.
 */

import { createHash } from 'node:crypto';
import { DelegateBackoff, type IBackoffFactory, type IRetryBackoffContext, noJitterGenerator } from 'cockatiel';

/** min(cap, base × 2^attempt): the exponential ceiling of try `attempt` (0 is the first wait). */
export function exponentialCeiling(attempt: number, base: number, cap: number): number {
  const [ceiling] = noJitterGenerator(Math.max(0, attempt), {
    generator: noJitterGenerator,
    initialDelay: base,
    maxDelay: cap,
    exponent: 2,
  });
  return ceiling;
}

/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential
 * Backoff And Jitter"): a random wait between 0 and min(cap, base × 2^n), so
 * many failures at once do not come back at once.
 */
export function fullJitterDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * exponentialCeiling(attempt, baseMs, capMs));
}

/** The base and cap of in-call waits, the random for their jitter, and how to read a failure's Retry-After. */
export interface InCallBackoffOptions {
  readonly baseMs: number;
  readonly capMs: number;
  readonly random: () => number;
  /** What the failed try asked for (Retry-After), in ms; 0 when nothing. */
  readonly retryAfterMs: (error: unknown) => number;
}

/**
 * The waits of cockatiel's retry policy inside one call: full jitter, but
 * never shorter than the server's Retry-After, and never beyond the cap.
 */
export function inCallBackoff(options: InCallBackoffOptions): IBackoffFactory<IRetryBackoffContext<unknown>> {
  return new DelegateBackoff((context) => {
    const error = 'error' in context.result ? context.result.error : undefined;
    const jitter = fullJitterDelay(context.attempt - 1, options.baseMs, options.capMs, options.random);
    return Math.min(Math.max(jitter, options.retryAfterMs(error)), options.capMs);
  });
}

/** The policy's backoff, in seconds. */
export interface BackoffSeconds {
  readonly backoffBaseSeconds: number;
  readonly backoffMaxSeconds: number;
}

/**
 * Wait before attempt n+1 after n attempts: exponential with "equal jitter"
 * (half fixed, half random), so a retry never comes straight back and many
 * do not come back together. Seconds; `jitter` in [0, 1).
 */
export function equalJitterSeconds(attemptsMade: number, backoff: BackoffSeconds, jitter: number): number {
  if (attemptsMade <= 0) return 0;
  const ceiling = exponentialCeiling(attemptsMade - 1, backoff.backoffBaseSeconds, backoff.backoffMaxSeconds);
  return Math.ceil(ceiling / 2 + (jitter * ceiling) / 2);
}

/** `equalJitterSeconds` with the jitter fixed by the failure's key and the attempt: the same on every redelivery. */
export function redeliverySeconds(key: string, attemptsMade: number, backoff: BackoffSeconds): number {
  return equalJitterSeconds(attemptsMade, backoff, stableJitter(key, attemptsMade));
}

/** A number in [0, 1) fixed by failure and attempt, so every redelivery computes the same jitter. */
export function stableJitter(key: string, attempt: number): number {
  return createHash('sha256').update(`${key}#${attempt}`).digest().readUInt32BE(0) / 2 ** 32;
}
