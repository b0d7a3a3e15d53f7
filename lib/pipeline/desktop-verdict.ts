/**
 * Pure: what a retry may do, given its desktop as read now and what the
 * policy requires of it (docs/retry-policy.md, "Desktops"). No I/O; the
 * desktop gate (lib/pipeline/desktop-gate.ts) reads, records and acts.
 *
 * - ready (as `require` says): retry;
 * - gone: give up, not found;
 * - in maintenance: wait;
 * - ERROR: give up with the state, or wait (`on_error`);
 * - off or hibernated, nothing in progress, `wake`, not yet started for this
 *   run: start it; otherwise wait;
 * - anything else (powering on, rebooting, not registered yet, a word we do
 *   not know): wait.
 *
 * A wait lasts until `wait_max_seconds` after the run was first found
 * waiting; then the run is given up with the desktop's state.
 */

import type { DesktopRequirement } from '../policy/policy-config.js';
import type { DesktopReading } from '../workspace/desktop-reads.js';
import type { DesktopState } from '../workspace/desktops.js';

/**
 * What a retry may do given its desktop: go, start the desktop, wait for `seconds`, or give up; `words` describes the
 * desktop's state for logs and the ledger.
 */
export type DesktopVerdict =
  | { readonly kind: 'ready'; readonly words: string }
  | { readonly kind: 'wake'; readonly words: string }
  | {
      readonly kind: 'wait';
      readonly code: 'desktop-not-ready' | 'desktop-waking';
      readonly reason: string;
      readonly seconds: number;
      readonly words: string;
    }
  | {
      readonly kind: 'give-up';
      readonly code: 'desktop-not-found' | 'desktop-error' | 'desktop-not-ready';
      readonly reason: string;
      readonly errorCode: string;
    };

/** How long the run has waited for this desktop: since when, and when a start was sent for it (by this chain). */
export interface WaitSoFar {
  readonly since?: number | undefined;
  readonly wokenAt?: number | undefined;
}

/** A desktop's words: `SHUTOFF, powering-on, UNREGISTER, in maintenance`. */
export function desktopWords(state: DesktopState): string {
  const words = [
    state.status || '(no status)',
    state.taskStatus,
    state.login === 'unknown' ? undefined : loginWord(state.login),
    state.inMaintenance ? 'in maintenance' : undefined,
  ];
  return words.filter((word) => word !== undefined).join(', ');
}

function loginWord(login: DesktopState['login']): string {
  return login === 'unregistered' ? 'UNREGISTER' : login.toUpperCase();
}

/**
 * Whether a desktop can take the script now: powered on, nothing in progress, not in maintenance, and registered when
 * `registered` is required.
 */
export function isReady(state: DesktopState, require: DesktopRequirement['require']): boolean {
  if (state.power !== 'active' || state.taskStatus !== undefined || state.inMaintenance) return false;
  return (
    require === 'active' ||
    state.login === 'registered' ||
    state.login === 'connected' ||
    state.login === 'disconnected'
  );
}

/** The verdict for a readable desktop reading under `need`, given how long the run has waited so far. */
export function desktopVerdict(
  desktopId: string,
  reading: Exclude<DesktopReading, { kind: 'unreadable' }>,
  need: DesktopRequirement,
  waited: WaitSoFar,
  now: number,
): DesktopVerdict {
  if (reading.kind === 'gone') {
    return {
      kind: 'give-up',
      code: 'desktop-not-found',
      reason: `desktop-not-found: desktop ${desktopId} no longer exists (${reading.evidence}); there is nothing to run the script on`,
      errorCode: 'DESKTOP_NOT_FOUND',
    };
  }
  const { state } = reading;
  const words = desktopWords(state);
  if (isReady(state, need.require)) return { kind: 'ready', words };
  if (state.power === 'error' && need.onError === 'give-up') {
    return {
      kind: 'give-up',
      code: 'desktop-error',
      reason: `desktop-error: desktop ${desktopId} is ${words}: a person must look at it`,
      errorCode: 'DESKTOP_ERROR',
    };
  }
  const since = waited.since ?? now;
  const waitedSeconds = Math.floor((now - since) / 1000);
  if (waitedSeconds >= need.waitMaxSeconds) {
    const started = waited.wokenAt !== undefined ? `, started ${Math.floor((now - waited.wokenAt) / 1000)} s ago,` : '';
    return {
      kind: 'give-up',
      code: 'desktop-not-ready',
      reason: `desktop-not-ready: desktop ${desktopId}${started} is still ${words} ${waitedSeconds} s after it was first found not ready (wait_max_seconds ${need.waitMaxSeconds})`,
      errorCode: 'DESKTOP_NOT_READY',
    };
  }
  const seconds = Math.max(1, Math.min(need.recheckSeconds, need.waitMaxSeconds - waitedSeconds));
  const asleep =
    (state.power === 'shutoff' || state.power === 'hibernated') &&
    state.taskStatus === undefined &&
    !state.inMaintenance;
  if (asleep && need.wake && waited.wokenAt === undefined) return { kind: 'wake', words };
  const wait = (code: 'desktop-not-ready' | 'desktop-waking', why: string) => ({
    kind: 'wait' as const,
    code,
    reason: `${code}: desktop ${desktopId} is ${words}${why}`,
    seconds,
    words,
  });
  if (waited.wokenAt !== undefined)
    return wait('desktop-waking', `; it was started ${Math.floor((now - waited.wokenAt) / 1000)} s ago`);
  if (state.inMaintenance) return wait('desktop-not-ready', '; it waits until an administrator ends maintenance');
  if (asleep) return wait('desktop-not-ready', '; the policy does not wake it (desktop.wake)');
  return wait('desktop-not-ready', '');
}
