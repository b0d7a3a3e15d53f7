/**
 * Which fault the Workspace simulator injects into one request, and when: a
 * pure decision (no sockets, no clock), so it is unit-tested as a table.
 *
 * Two families (docs/workspace-api.md, "What the simulator models"):
 * - before-state faults answer (or drop) the request before anything happens:
 *   the retry is NOT applied, whatever the client sees;
 * - after-state faults let the request do its work (a retry creates its new
 *   task and runs the script again), then lose the answer. This is what makes
 *   "did my retry land?" a real question for the client.
 */

export const BEFORE_KINDS = ['429', '500', '502', '503', '504', 'wks-busy', 'reset', 'malformed', 'stall'] as const;
export const AFTER_KINDS = ['stall-after', 'reset-after', 'garbled-after', '5xx-after'] as const;

export type BeforeFaultKind = (typeof BEFORE_KINDS)[number];
export type AfterFaultKind = (typeof AFTER_KINDS)[number];
export type FaultKind = BeforeFaultKind | AfterFaultKind;
/** Kept for callers of the first simulator. */
export type ForcedFault = FaultKind;

/** What a request is, as far as fault plans care. */
export type SimulatorRoute =
  | 'retry'
  | 'stop'
  | 'list-records'
  | 'record-detail'
  | 'desktop-detail'
  | 'list-desktops'
  | 'desktop-action'
  | 'job-detail'
  | 'other';

/** Random faults, each a share (0–1) of requests; after-state kinds are shares of retry POSTs. */
export interface FaultRates {
  /** Added to every request before anything else (not counted as a fault). */
  readonly latencyMs?: number;
  readonly throttle429?: number;
  readonly error500?: number;
  readonly unavailable503?: number;
  readonly reset?: number;
  readonly malformed?: number;
  readonly stall?: number;
  readonly error502?: number;
  readonly error504?: number;
  readonly wksBusy?: number;
  readonly stallAfter?: number;
  readonly resetAfter?: number;
  readonly garbledAfter?: number;
  readonly error5xxAfter?: number;
  /** How long a stall (before or after) holds the socket (default 30 s: past any client timeout). */
  readonly stallMs?: number;
}

/**
 * A planned fault. Without `call` it applies to the next request of its route
 * (after-state kinds default to the `retry` route, before-state kinds to any);
 * with `call` it applies to exactly the n-th request (1-based) of its route,
 * or of all routes when no route is named, counted since start or the last
 * `resetCounters()`. A pinned entry whose call has gone by stays until `clearFaults()`.
 */
export interface PlannedFault {
  readonly kind: FaultKind;
  readonly route?: SimulatorRoute;
  readonly call?: number;
}

/** `planned`: index in the plan of the entry this decision used up, if it came from the plan. */
export type FaultDecision =
  | { readonly timing: 'before'; readonly kind: BeforeFaultKind; readonly planned?: number }
  | { readonly timing: 'after'; readonly kind: AfterFaultKind; readonly planned?: number };

export interface RequestPosition {
  readonly route: SimulatorRoute;
  /** 1-based index of this request among all requests. */
  readonly call: number;
  /** 1-based index of this request among requests of its route. */
  readonly routeCall: number;
}

/** Order matters: a seeded run rolls one number per request and walks these edges in this order. */
const RATE_ORDER: readonly (readonly [FaultKind, keyof FaultRates])[] = [
  ['429', 'throttle429'],
  ['500', 'error500'],
  ['503', 'unavailable503'],
  ['reset', 'reset'],
  ['malformed', 'malformed'],
  ['stall', 'stall'],
  ['502', 'error502'],
  ['504', 'error504'],
  ['wks-busy', 'wksBusy'],
  ['stall-after', 'stallAfter'],
  ['reset-after', 'resetAfter'],
  ['garbled-after', 'garbledAfter'],
  ['5xx-after', 'error5xxAfter'],
];

export function isAfterKind(kind: FaultKind): kind is AfterFaultKind {
  return (AFTER_KINDS as readonly string[]).includes(kind);
}

export function isFaultKind(value: string): value is FaultKind {
  return (BEFORE_KINDS as readonly string[]).includes(value) || isAfterKind(value as FaultKind);
}

/** The route a planned fault waits for when it names none. */
function routeOf(entry: PlannedFault): SimulatorRoute | undefined {
  return entry.route ?? (isAfterKind(entry.kind) && entry.call === undefined ? 'retry' : undefined);
}

function matches(entry: PlannedFault, at: RequestPosition): boolean {
  const route = routeOf(entry);
  if (route !== undefined && route !== at.route) return false;
  if (entry.call === undefined) return true;
  return entry.call === (entry.route === undefined ? at.call : at.routeCall);
}

/**
 * The fault for one request: a plan entry pinned to this call first, then the
 * first unpinned entry for this route, then one roll of `random` against the
 * rates (always exactly one roll, so a seeded run stays repeatable whatever
 * the plan holds). After-state kinds rolled at random apply to retry POSTs only.
 */
export function chooseFault(
  at: RequestPosition,
  plan: readonly PlannedFault[],
  rates: FaultRates,
  random: () => number,
): FaultDecision | undefined {
  const roll = random();
  let index = plan.findIndex((entry) => entry.call !== undefined && matches(entry, at));
  if (index < 0) index = plan.findIndex((entry) => entry.call === undefined && matches(entry, at));
  if (index >= 0) {
    return { ...decide(plan[index]!.kind), planned: index };
  }
  let edge = 0;
  for (const [kind, rate] of RATE_ORDER) {
    edge += (rates[rate] as number | undefined) ?? 0;
    if (roll < edge) {
      return isAfterKind(kind) && at.route !== 'retry' ? undefined : decide(kind);
    }
  }
  return undefined;
}

function decide(kind: FaultKind): FaultDecision {
  return isAfterKind(kind) ? { timing: 'after', kind } : { timing: 'before', kind };
}
