/**
 * One circuit breaker (cockatiel) per Workspace endpoint and access key, kept
 * for the life of the container. After `consecutiveFailures` transient
 * failures in a row it opens: failures for that endpoint are deferred without
 * a call for `halfOpenAfterMs`, then one probe call decides whether it closes.
 * Whether a call may go is cockatiel's state alone (closed, open, half-open
 * with its one probe), measured by cockatiel's clock, Date.now (tests fake
 * it). A key Workspace refuses even after a fresh read of the secret is
 * refused here for `authCooldownMs`, so this function never walks a key into
 * Huawei's five-refusals lockout: that is a deadline, not a circuit (no
 * failures counted, no probe).
 */

import { createHash } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
} from 'cockatiel';
import { METRIC } from '../platform/metric-names.js';
import { logger, metrics } from '../platform/observability.js';
import { isTransient } from './errors.js';

/** When a breaker opens, how long it stays open, and how long a refused key is not used. */
export interface BreakerOptions {
  readonly consecutiveFailures: number;
  readonly halfOpenAfterMs: number;
  readonly authCooldownMs: number;
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
  /** Until when the key is refused (the auth cool-down), epoch ms. */
  refusedUntil: number;
}

/**
 * The container's breakers, by `keyFor(endpoint, ak)`; `execute` runs a call through one, `refuseKey` starts a key's
 * auth cool-down.
 */
export class CircuitBreakers {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: BreakerOptions) {}

  /** The breaker key: endpoint origin plus a fingerprint of the access key (it is logged, so never the key itself). */
  static keyFor(endpoint: string, ak: string): string {
    return `${endpoint} key#${createHash('sha256').update(ak).digest('hex').slice(0, 12)}`;
  }

  /**
   * Runs a call through the key's breaker; throws CircuitOpenError without calling while it is open or the key refused.
   */
  async execute<T>(key: string, call: () => Promise<T>): Promise<T> {
    const entry = this.entry(key);
    const refused = entry.refusedUntil - Date.now();
    if (refused > 0) throw new CircuitOpenError(key, refused);
    try {
      return await entry.policy.execute(call);
    } catch (error) {
      // Open, or opened again by the probe this call waited for: the rest of the cool-down.
      if (error instanceof BrokenCircuitError) throw new CircuitOpenError(key, Math.max(1, this.waitOf(entry)));
      throw error;
    }
  }

  /** Milliseconds until a call for this key may be tried again (0 when it may now). */
  waitFor(key: string): number {
    const entry = this.entries.get(key);
    return entry ? this.waitOf(entry) : 0;
  }

  /** Stops using a key Workspace refused, for the auth cool-down. */
  refuseKey(key: string): void {
    const entry = this.entry(key);
    const now = Date.now();
    if (entry.refusedUntil > now) return;
    entry.refusedUntil = now + this.options.authCooldownMs;
    logger.warn('access key refused by Workspace: not used again until the cool-down ends', {
      breaker: key,
      cooldownMs: this.options.authCooldownMs,
    });
  }

  private waitOf(entry: Entry): number {
    const now = Date.now();
    return Math.max(0, entry.refusedUntil - now, openUntil(entry.policy, this.options.halfOpenAfterMs) - now);
  }

  private entry(key: string): Entry {
    let entry = this.entries.get(key);
    if (entry) return entry;
    const policy = circuitBreaker(handleWhen(isTransient), {
      halfOpenAfter: this.options.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(this.options.consecutiveFailures),
    });
    policy.onBreak(() => {
      logger.warn('circuit breaker opened', { breaker: key, halfOpenAfterMs: this.options.halfOpenAfterMs });
      metrics.addMetric(METRIC.circuitOpened, MetricUnit.Count, 1);
    });
    policy.onHalfOpen(() => logger.info('circuit breaker half-open: one probe call', { breaker: key }));
    policy.onReset(() => logger.info('circuit breaker closed', { breaker: key }));
    entry = { policy, refusedUntil: 0 };
    this.entries.set(key, entry);
    return entry;
  }
}

/**
 * When cockatiel's open circuit lets its probe through: the time it opened
 * plus the half-open wait (0 unless open). cockatiel keeps that time in its
 * state and shows it only in its serialised form (`toJSON`, the form it takes
 * back as `initialState`), so it is read from there rather than kept twice.
 */
function openUntil(policy: CircuitBreakerPolicy, halfOpenAfterMs: number): number {
  if (policy.state !== CircuitState.Open) return 0;
  const openedAt = (policy.toJSON() as { readonly ownState?: { readonly openedAt?: unknown } }).ownState?.openedAt;
  return typeof openedAt === 'number' ? openedAt + halfOpenAfterMs : 0;
}
