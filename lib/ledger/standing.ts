/**
 * Pure: what a failure event may do, given its chain and the generation of
 * the run it names (docs/ledger-protocol.md, "Standing"). No I/O.
 */

import { type Chain, handlingGeneration } from './chain.js';

/** What a failure event may do with its chain, by kind. */
export type Standing =
  /** Decide under the policy with these attempts; a claim must find the chain at `rev` (undefined: not yet written). */
  | {
      readonly kind: 'fresh';
      readonly attemptsMade: number;
      readonly lastAttemptAt?: number | undefined;
      readonly rev: number | undefined;
      readonly reopened?: 'replay' | 'force' | undefined;
    }
  /** Already handled: nothing to do. `relink` asks to re-assert the link of the retry this run received. */
  | { readonly kind: 'duplicate'; readonly reason: string; readonly relink?: boolean | undefined }
  /** Another delivery holds a live claim: come back when it ends. */
  | { readonly kind: 'in-flight'; readonly until: number }
  /** A retry call's outcome is unknown (answer lost, or its holder died): ask Workspace before anything else. */
  | { readonly kind: 'unresolved'; readonly rev: number; readonly claimedAt: number; readonly attemptsMade: number };

/**
 * What standing depends on besides the chain: the time, the clock skew allowed, and an operator's force or a replay.
 */
export interface StandingContext {
  readonly now: number;
  /** Clocks of other containers may run this far ahead: a claim counts as live until its lease end plus this. */
  readonly clockSkewMs?: number | undefined;
  /** An operator's `force`: reopens a dead-lettered run (never one retried or in flight). */
  readonly force?: boolean | undefined;
  /** This delivery is a replayed dead letter, decided at this time (its `decided_at`). */
  readonly replayOf?: number | undefined;
}

/** The standing of the run of `generation` in `chain` (no chain: fresh, nothing attempted). */
export function standingOf(chain: Chain | undefined, generation: number, context: StandingContext): Standing {
  if (!chain) return { kind: 'fresh', attemptsMade: 0, rev: undefined };
  const handling = handlingGeneration(chain);
  const until = (chain.lease_until ?? 0) + (context.clockSkewMs ?? 0);
  const live = until > context.now;
  const fresh = (reopened?: 'replay' | 'force'): Standing => ({
    kind: 'fresh',
    attemptsMade: chain.attempts,
    lastAttemptAt: chain.last_attempt_at,
    rev: chain.rev,
    reopened,
  });
  const unresolved = (): Standing =>
    live
      ? { kind: 'in-flight', until }
      : { kind: 'unresolved', rev: chain.rev, claimedAt: chain.claimed_at ?? 0, attemptsMade: chain.attempts - 1 };

  if (generation < handling) {
    const relink = chain.state === 'retried' && generation === chain.attempts - 1;
    return {
      kind: 'duplicate',
      reason: `run ${generation + 1} of this failure was already handled (${chain.attempts} retr${chain.attempts === 1 ? 'y' : 'ies'} made)`,
      relink,
    };
  }
  if (generation > handling) {
    // A run newer than the chain knows: only a retry whose settle was lost makes one, so resolve it first.
    if (chain.state === 'unknown' || (chain.state === 'claimed' && chain.intent === 'retry')) return unresolved();
    return {
      kind: 'duplicate',
      reason: `run ${generation + 1} is newer than the ledger's chain (${chain.attempts} retries): left alone`,
    };
  }
  switch (chain.state) {
    case 'open':
    case 'retried':
      return fresh();
    case 'claimed':
      if (live) return { kind: 'in-flight', until };
      // A give-up's holder died before its dead letter was accepted: decide again; nothing was called.
      return chain.intent === 'give-up' ? fresh() : unresolved();
    case 'unknown':
      return unresolved();
    case 'dead-lettered':
      if (context.force) return fresh('force');
      if (context.replayOf !== undefined && context.replayOf === chain.dead_lettered_at) return fresh('replay');
      return {
        kind: 'duplicate',
        reason: `this failure was already dead-lettered (${chain.reason ?? 'no reason kept'})`,
      };
  }
}
