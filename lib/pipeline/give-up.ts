/**
 * A run given up on after its standing was read (the policy's verdict, or
 * the desktop check's): its dead letter, and the give-up claimed for it, so
 * the chain says dead-lettered once the DLQ accepted the letter.
 */

import type { Chain } from '../ledger/chain.js';
import type { Located } from '../ledger/locate.js';
import type { Standing } from '../ledger/standing.js';
import type { Decision } from '../policy/policy.js';
import type { FailureContext } from './context.js';
import type { DeadLetter } from './dead-letter.js';
import type { GiveUpCode, Resolution } from './resolution.js';

type Fresh = Extract<Standing, { kind: 'fresh' }>;

/** The dead letter of a give-up decided now: the failure's first sighting is the chain's when that is older. */
export function giveUpLetter(
  ctx: FailureContext,
  standing: Fresh,
  chain: Chain | undefined,
  reason: string,
  errorCode: string,
  ruleId: string,
): DeadLetter {
  const firstSeenAt = Math.min(ctx.input.firstSeenAt, chain?.first_seen_at ?? ctx.input.firstSeenAt);
  // A give-up decided again because its letter was never confirmed keeps its first decision time: either letter's
  // replay then matches.
  const again =
    standing.reopened === undefined &&
    chain?.decided_at !== undefined &&
    (chain.state === 'claimed' || chain.state === 'open')
      ? chain.decided_at
      : undefined;
  return {
    ...ctx.letter(reason, errorCode, ruleId, standing.attemptsMade),
    firstSeenAt,
    ...(again !== undefined ? { decidedAt: again } : {}),
  };
}

/** Claims the give-up for its letter; 'conflict' when another delivery wrote first. */
export async function claimGiveUp(
  located: Located,
  standing: Fresh,
  ctx: FailureContext,
  code: GiveUpCode,
  letter: DeadLetter,
  more: { readonly decision?: Decision | undefined; readonly base?: Chain | undefined } = {},
): Promise<Resolution | 'conflict'> {
  const claim = await ctx.deps.ledger.claim(located, standing.rev, 'give-up', {
    base: more.base,
    decidedAt: letter.decidedAt,
  });
  return claim ? { kind: 'dead-letter', code, letter, decision: more.decision, claim } : 'conflict';
}
