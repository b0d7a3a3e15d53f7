import type { AppConfig } from '../config/app-config.js';

/**
 * Time kept in hand at the end of an invocation: a failure started later
 * could be cut off mid-call by the Lambda timeout (a holder that dies leaves
 * no `unknown` and no answer). The worst-case call (every in-call retry, the
 * 401 path) plus the ledger's writes and the forwards.
 */
export function safetyMarginMs(config: Pick<AppConfig, 'worstCaseCallMs'>): number {
  return config.worstCaseCallMs + 5_000;
}

/** True when a failure must not be started now: the invocation has less than the margin left. */
export function tooLateToStart(deps: {
  readonly config: Pick<AppConfig, 'worstCaseCallMs'>;
  readonly remainingMs?: (() => number) | undefined;
}): boolean {
  return deps.remainingMs !== undefined && deps.remainingMs() < safetyMarginMs(deps.config);
}

/** Why a failure is not started now (`time-budget: …`, then what becomes of it), or undefined when there is time. */
export function lateReason(deps: Parameters<typeof tooLateToStart>[0], then: string): string | undefined {
  return tooLateToStart(deps) ? `time-budget: the invocation is about to time out; ${then}` : undefined;
}
