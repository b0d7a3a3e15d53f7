import { createHash } from 'node:crypto';
import { BrokenCircuitError, circuitBreaker, ConsecutiveBreaker, handleWhen, type CircuitBreakerPolicy, type IBackoff } from 'cockatiel';
import { logger, metrics } from '../platform/observability.js';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { isTransient } from './errors.js';
import { METRIC } from '../platform/metric-names.js';

/**
 * One circuit breaker (cockatiel) per Workspace endpoint and access key, kept
 * for the life of the container. After `consecutiveFailures` transient
 * failures in a row it opens: failures for that endpoint are deferred without
 * a call for `halfOpenAfterMs`, then one probe call decides whether it closes.
 * A key Workspace refuses even after a fresh read of the secret is refused here
 * for `authCooldownMs`, so this function never walks a key into Huawei's
 * five-refusals lockout.
 */

export interface BreakerOptions {
  readonly consecutiveFailures: number;
  readonly halfOpenAfterMs: number;
  readonly authCooldownMs: number;
  /** The clock every cool-down is measured by (tests inject one). */
  readonly now?: () => number;
}

/** Thrown instead of calling while a circuit is open. */
export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError';
  constructor(
    readonly key: string,
    readonly retryAfterMs: number,
  ) {
    super(`circuit open for ${key}: Workspace kept failing, no call for ${Math.ceil(retryAfterMs / 1000)} s`);
  }
}

interface Entry {
  readonly policy: CircuitBreakerPolicy;
  /** Until when calls are skipped (open or refused), epoch ms. */
  closedForUntil: number;
  /** Until when the key is refused (the auth cool-down), epoch ms. */
  refusedUntil: number;
}

export class CircuitBreakers {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(private readonly options: BreakerOptions) {
    this.now = options.now ?? (() => Date.now());
  }

  /** The breaker key: endpoint origin plus a fingerprint of the access key (it is logged, so never the key itself). */
  static keyFor(endpoint: string, ak: string): string {
    return `${endpoint} key#${createHash('sha256').update(ak).digest('hex').slice(0, 12)}`;
  }

  /** Runs a call through the key's breaker; throws CircuitOpenError without calling while it is open. */
  async execute<T>(key: string, call: () => Promise<T>): Promise<T> {
    const entry = this.entry(key);
    const wait = entry.closedForUntil - this.now();
    if (wait > 0) throw new CircuitOpenError(key, wait);
    try {
      return await entry.policy.execute(call);
    } catch (error) {
      if (error instanceof BrokenCircuitError) throw new CircuitOpenError(key, Math.max(1_000, entry.closedForUntil - this.now()));
      throw error;
    }
  }

  /** Milliseconds until a call for this key may be tried again (0 when it may now). */
  waitFor(key: string): number {
    return Math.max(0, (this.entries.get(key)?.closedForUntil ?? 0) - this.now());
  }

  /** Stops using a key Workspace refused, for the auth cool-down. */
  refuseKey(key: string): void {
    const entry = this.entry(key);
    const now = this.now();
    if (entry.refusedUntil > now) return;
    entry.refusedUntil = now + this.options.authCooldownMs;
    entry.closedForUntil = Math.max(entry.closedForUntil, entry.refusedUntil);
    logger.warn('access key refused by Workspace: not used again until the cool-down ends', { breaker: key, cooldownMs: this.options.authCooldownMs });
  }

  private entry(key: string): Entry {
    let entry = this.entries.get(key);
    if (entry) return entry;
    // cockatiel compares its half-open wait (a backoff's duration) with Date.now(); this one answers by the
    // injected clock: "still open" until closedForUntil, then "half-open now", where one probe goes through.
    const now = this.now;
    const halfOpenAfter: IBackoff<unknown> = {
      get duration() {
        return created.closedForUntil > now() ? Number.POSITIVE_INFINITY : 0;
      },
      next: () => halfOpenAfter,
    };
    const policy = circuitBreaker(handleWhen(isTransient), { halfOpenAfter, breaker: new ConsecutiveBreaker(this.options.consecutiveFailures) });
    const created: Entry = { policy, closedForUntil: 0, refusedUntil: 0 };
    policy.onBreak(() => {
      created.closedForUntil = Math.max(created.closedForUntil, this.now() + this.options.halfOpenAfterMs);
      logger.warn('circuit breaker opened', { breaker: key, halfOpenAfterMs: this.options.halfOpenAfterMs });
      metrics.addMetric(METRIC.circuitOpened, MetricUnit.Count, 1);
    });
    policy.onHalfOpen(() => logger.info('circuit breaker half-open: one probe call', { breaker: key }));
    policy.onReset(() => {
      created.closedForUntil = created.refusedUntil;
      logger.info('circuit breaker closed', { breaker: key });
    });
    this.entries.set(key, created);
    return created;
  }
}
