/**
 * A claim's way to its call (docs/ledger-protocol.md, "Claims made ahead"):
 * its place among the invocation's MAX_CONCURRENCY calls, and then the checks
 * a claim made ahead must pass again before anything is signed, because time
 * went by while it waited. A claim that must not be called now is given back
 * uncalled (not counted), and so is one whose check threw.
 */

import type { Claim } from '../ledger/attempt-ledger.js';
import type { Place } from '../platform/concurrency.js';
import type { Decision } from '../policy/policy.js';
import { type Admitted, admit, stillAdmitted } from '../workspace/key-calls.js';
import type { FailureContext } from './context.js';
import { hold, type Resolution, requeue } from './resolution.js';

/** A wait or a hold: what a claim given back uncalled becomes. */
type Deferred = Extract<Resolution, { kind: 'hold' | 'requeue' }>;

/**
 * A claim ready for its call (its place, when the run has places, the admission to sign with, and what stops the
 * call from being sent again with a rotated key once the claim may no longer be called: `callWith`'s `notAgain`), or
 * given back.
 */
export type CallReadiness =
  | {
      readonly kind: 'go';
      readonly admission: Admitted;
      readonly place?: Place | undefined;
      readonly notAgain: () => string | undefined;
    }
  | { readonly kind: 'given-back'; readonly resolution: Deferred };

/**
 * Takes the claim's call place and checks, once it has it, that the claim may
 * still be called: time left (outOfTime), the error budget, and its key. A
 * key refused or rotated while the claim waited is admitted again with the
 * project's current key, with the place given back meanwhile (no place is
 * held while waiting at the key gate), and the checks made again with the
 * new place; once only, so a key that keeps changing cannot hold a lease.
 */
export async function readyToCall(
  claim: Claim,
  admission: Admitted,
  decision: Extract<Decision, { kind: 'retry-now' }>,
  ctx: FailureContext,
): Promise<CallReadiness> {
  let admitted: Admitted | undefined = admission;
  let place: Place | undefined;
  const giveBack = async (resolution: Deferred): Promise<CallReadiness> => {
    place?.release();
    admitted?.pass.release();
    await ctx.deps.ledger.release(claim, {
      errorCode: 'NOT_CALLED',
      reason: resolution.reason,
      ruleId: decision.ruleId,
    });
    return { kind: 'given-back', resolution };
  };
  const rule = { attempt: decision.attempt, ruleId: decision.ruleId };
  const notAgain = () => outOfTime(claim, ctx)?.reason;
  try {
    for (let round = 0; ; round++) {
      place = await ctx.keys.places?.take();
      ctx.slot.prepared?.();
      // A run without places (the console's) claims only with its call in reach: nothing has waited.
      if (!place) return { kind: 'go', admission: admitted, notAgain };
      const stop = outOfTime(claim, ctx) ?? budgetWait(ctx, rule);
      if (stop) return await giveBack(stop);
      if (await stillAdmitted(ctx.keys, admitted)) return { kind: 'go', admission: admitted, place, notAgain };
      const fingerprint = admitted.pass.fingerprint.slice(0, 12);
      place.release();
      place = undefined;
      admitted.pass.release();
      admitted = undefined;
      const again = round === 0 ? await admit(ctx.keys) : undefined;
      if (again?.kind !== 'go')
        return await giveBack(
          requeue(
            'key-refused',
            `key-refused: key ${fingerprint} was refused, or the secret rotated, while the claim waited for its call place${again ? `; ${again.error.message}` : ''}; given back before its call`,
            again ? { ms: again.error.retryAfterMs } : { seconds: 1 },
            rule,
          ),
        );
      admitted = again;
    }
  } catch (error) {
    await giveBack(hold('unavailable', `not called: ${(error as Error).message}`)).catch(() => undefined);
    throw error;
  }
}

/**
 * Why a claim must not be called now that it has its place: the invocation is about to end, or less of its lease is
 * left than the worst-case call takes (the holder would outlive its lease, and another delivery could call too).
 */
function outOfTime(claim: Claim, ctx: FailureContext): Extract<Resolution, { kind: 'hold' }> | undefined {
  const late = ctx.slot.tooLate?.();
  if (late !== undefined) return hold('time-budget', `${late}; the claim was given back before its call`);
  const left = ctx.deps.ledger.leaseLeftMs(claim);
  if (left >= ctx.deps.config.worstCaseCallMs) return undefined;
  return hold(
    'call-wait',
    `call-wait: the claim waited for a call place until ${Math.max(0, Math.floor(left / 1000))} s of its lease were left, less than a call can take; given back before its call, left for redelivery`,
  );
}

/** Once the calls of this invocation used up its error budget, the rest of the batch waits for the breaker's cool-down. */
export function budgetWait(
  ctx: FailureContext,
  rule: { attempt: number; ruleId: string },
): Extract<Resolution, { kind: 'requeue' }> | undefined {
  const { deps } = ctx;
  if (!deps.errorBudget.exhausted()) return undefined;
  return requeue(
    'error-threshold',
    `error-threshold: ${deps.errorBudget.describe()}; the rest of the batch waits`,
    { seconds: deps.config.breakerCooldownSeconds },
    rule,
  );
}
