/**
 * Before a retry is claimed, when the policy asks for it (`desktop`, docs/retry-policy.md,
 * "Desktops"): the run's desktop is read (one read per desktop per invocation,
 * lib/workspace/desktop-reads.ts) and the retry goes on only if the desktop
 * can take the script, so no attempt is spent on one that cannot. Otherwise
 * the run waits (re-enqueued, no attempt counted), is given up with the
 * desktop's state, or its desktop is started: at most once per desktop per
 * window (a conditional write on the desktop's ledger item before the start
 * is sent), recorded in the chain's history, never counted as an attempt.
 * A dry run reads the desktop and shows what it would do, the start request
 * included, and writes nothing.
 */

import type { Chain } from '../ledger/chain.js';
import type { Located } from '../ledger/locate.js';
import type { Standing } from '../ledger/standing.js';
import { countDesktop, logger } from '../platform/observability.js';
import type { Decision } from '../policy/policy.js';
import type { DesktopRequirement } from '../policy/policy-config.js';
import { CircuitOpenError } from '../workspace/circuit-breakers.js';
import { describeRefusal, isWorkspaceApiError } from '../workspace/errors.js';
import { KeyRefusedError } from '../workspace/key-calls.js';
import type { FailureContext } from './context.js';
import { type DesktopVerdict, desktopVerdict } from './desktop-verdict.js';
import { claimGiveUp, giveUpLetter } from './give-up.js';
import { lookupFailure } from './lookup-failure.js';
import { type GiveUpCode, hold, type Resolution, requeue } from './resolution.js';

type Fresh = Extract<Standing, { kind: 'fresh' }>;
type RetryNow = Extract<Decision, { kind: 'retry-now' }>;

/** Go on to the claim (`note`: what the desktop read said), or stop with this resolution. */
export type DesktopCheck =
  | { readonly kind: 'go'; readonly note?: string | undefined }
  | { readonly kind: 'stop'; readonly resolution: Resolution | 'conflict' };

const GO: DesktopCheck = { kind: 'go' };
const stop = (resolution: Resolution | 'conflict'): DesktopCheck => ({ kind: 'stop', resolution });

/** The steps of one desktop check share these. */
interface Check {
  readonly located: Located;
  readonly standing: Fresh;
  readonly decision: RetryNow;
  readonly need: DesktopRequirement;
  readonly desktopId: string;
  readonly ctx: FailureContext;
  readonly base?: Chain | undefined;
  /** This run's wait so far, as the chain records it. */
  readonly waiting: boolean;
}

/**
 * Reads the run's desktop before its claim when the decision requires one, and says whether the retry goes on or stops
 * with a resolution (wait, give up, or the desktop's start sent). Without a requirement or a desktop id it always goes.
 */
export async function desktopGate(
  located: Located,
  standing: Fresh,
  decision: RetryNow,
  ctx: FailureContext,
  base?: Chain,
): Promise<DesktopCheck> {
  const need = decision.desktop;
  const chain = base ?? located.chain;
  const desktopId = located.run.resourceId ?? chain?.resource_id;
  // No requirement, or no desktop to read (the record names none): the retry goes as it always has.
  if (!need || desktopId === undefined) return GO;
  const reading = await ctx.deps.desktops.stateOf(ctx.keys, ctx.project, desktopId);
  if (reading.kind === 'unreadable') return stop(lookupFailure(reading.error, ctx, `desktop ${desktopId}`));
  const wait = chain?.desktop_wait?.g === located.generation ? chain.desktop_wait : undefined;
  const verdict = desktopVerdict(desktopId, reading, need, { since: wait?.since, wokenAt: wait?.woken_at }, ctx.now);
  if (verdict.kind === 'ready') return { kind: 'go', note: `desktop ${desktopId} is ${verdict.words}` };
  const check: Check = { located, standing, decision, need, desktopId, ctx, base, waiting: wait !== undefined };
  if (ctx.dryRun) return stop(preview(check, verdict));
  countDesktop('not-ready');
  if (verdict.kind === 'give-up') return stop(await giveUp(check, verdict.code, verdict.reason, verdict.errorCode));
  if (verdict.kind === 'wait') return stop(await waitFor(check, verdict));
  return stop(await wake(check, verdict.words));
}

/** What a dry run shows: the give-up, the wait, or the start it would send (and nothing written). */
function preview(check: Check, verdict: Exclude<DesktopVerdict, { kind: 'ready' }>): Resolution {
  const { ctx, decision, desktopId } = check;
  const letter = (would: string) =>
    giveUpLetter(
      ctx,
      check.standing,
      check.base ?? check.located.chain,
      `dry-run: ${would}`,
      'DRY_RUN',
      decision.ruleId,
    );
  if (verdict.kind === 'give-up')
    return { kind: 'preview', letter: letter(`would give up: ${verdict.reason}`), decision };
  if (verdict.kind === 'wait')
    return { kind: 'preview', letter: letter(`would defer ${verdict.seconds} s: ${verdict.reason}`), decision };
  const start = ctx.deps.desktops.describeStart(ctx.project, desktopId, ctx.credentials);
  return {
    kind: 'preview',
    letter: letter(
      `would start desktop ${desktopId} (${verdict.words}; os-start SOFT), then retry once it is ready (rule ${decision.ruleId})`,
    ),
    preview: start,
    decision,
  };
}

async function giveUp(
  check: Check,
  code: GiveUpCode,
  reason: string,
  errorCode: string,
): Promise<Resolution | 'conflict'> {
  const { ctx, decision } = check;
  const letter = giveUpLetter(
    ctx,
    check.standing,
    check.base ?? check.located.chain,
    reason,
    errorCode,
    decision.ruleId,
  );
  return claimGiveUp(check.located, check.standing, ctx, code, letter, { decision, base: check.base });
}

/** The run waits: the chain records when its wait began (once per run), and the event comes back after `seconds`. */
async function waitFor(
  check: Check,
  wait: {
    readonly code: 'desktop-not-ready' | 'desktop-waking';
    readonly reason: string;
    readonly seconds: number;
    readonly words: string;
  },
): Promise<Resolution | 'conflict'> {
  if (!check.waiting && !(await recordWait(check, wait.words))) return 'conflict';
  return requeue(
    wait.code,
    wait.reason,
    { seconds: wait.seconds },
    { attempt: check.decision.attempt, ruleId: check.decision.ruleId },
  );
}

function recordWait(
  check: Check,
  words: string,
  started?: { readonly jobId?: string | undefined; readonly requestId?: string | undefined },
): Promise<boolean> {
  const details = { g: check.located.generation, desktop: check.desktopId, state: words, started };
  return check.ctx.deps.ledger.recordDesktopWait(check.located, check.standing.rev, details, check.base);
}

/**
 * Starts the desktop, once per desktop per window: the desktop's item in the
 * ledger is taken first, so no other delivery (of this failure or another on
 * the same desktop) sends a start until the window ends; a start that
 * certainly was not sent gives it back.
 */
async function wake(check: Check, words: string): Promise<Resolution | 'conflict'> {
  const { ctx, desktopId, need } = check;
  const { deps } = ctx;
  const by = { chain: check.located.chainKey, g: check.located.generation };
  const claim = await deps.ledger.claimDesktopStart(ctx.project.projectId, desktopId, by, need.waitMaxSeconds * 1000);
  if ('held' in claim) {
    const since = claim.held
      ? `started ${Math.max(0, Math.floor((ctx.now - claim.held.at) / 1000))} s ago by the retry of another failure on it`
      : 'being started by another delivery';
    return waitFor(check, waking(check, words, since));
  }
  const result = await deps.desktops.start(ctx.keys, ctx.project, desktopId);
  switch (result.kind) {
    case 'started':
    case 'unknown': {
      if (result.kind === 'started') countDesktop('woken');
      const requestId =
        result.kind === 'started'
          ? result.requestId
          : isWorkspaceApiError(result.error)
            ? result.error.requestId
            : undefined;
      const started = { jobId: result.kind === 'started' ? result.jobId : undefined, requestId };
      // The start is sent: the window holds whatever the chain's write does (it is tried again on a conflict).
      if (!(await recordWait(check, words, started)))
        logger.warn('desktop started, but its chain could not record it', { chain: check.located.chainKey, desktopId });
      const how =
        result.kind === 'started'
          ? `started now${result.jobId ? ` (job ${result.jobId})` : ''}`
          : `started now, its answer lost (${(result.error as Error).message}); not sent again before the window ends`;
      return requeue(
        'desktop-waking',
        waking(check, words, how).reason,
        { seconds: Math.min(need.recheckSeconds, need.waitMaxSeconds) },
        { attempt: check.decision.attempt, ruleId: check.decision.ruleId },
      );
    }
    case 'already':
      return waitFor(
        check,
        waking(check, words, `already starting or on, by Workspace's answer to a start (${result.evidence})`),
      );
    case 'gone':
      return giveUp(
        check,
        'desktop-not-found',
        `desktop-not-found: desktop ${desktopId} no longer exists (${result.evidence}); there is nothing to run the script on`,
        'DESKTOP_NOT_FOUND',
      );
    case 'refused':
      return giveUp(
        check,
        'desktop-start-refused',
        `desktop-start-refused: Workspace refused to start desktop ${desktopId} (${describeRefusal(result.error)}); the keys need the permission to start desktops (docs/retry-policy.md, "Desktops")`,
        result.error.code,
      );
    case 'not-sent':
      await deps.ledger.releaseDesktopStart(claim.taken);
      return notSent(check, result.error);
  }
}

function waking(
  check: Check,
  words: string,
  how: string,
): { code: 'desktop-waking'; reason: string; seconds: number; words: string } {
  const { need } = check;
  return {
    code: 'desktop-waking',
    reason: `desktop-waking: desktop ${check.desktopId} is ${words}; ${how}`,
    seconds: Math.min(need.recheckSeconds, need.waitMaxSeconds),
    words,
  };
}

/** A start that certainly did not reach Workspace: the event waits as any call kept from Workspace would. */
function notSent(check: Check, error: unknown): Resolution {
  const rule = { attempt: check.decision.attempt, ruleId: check.decision.ruleId };
  const what = `while starting desktop ${check.desktopId}`;
  if (error instanceof KeyRefusedError)
    return requeue('key-refused', `key-refused: ${error.message} (${what})`, { ms: error.retryAfterMs }, rule);
  if (error instanceof CircuitOpenError)
    return requeue('circuit-open', `circuit-open: ${error.message} (${what})`, { ms: error.retryAfterMs }, rule);
  if (isWorkspaceApiError(error)) {
    const seconds = Math.min(check.need.recheckSeconds, error.retryAfterSeconds ?? check.need.recheckSeconds);
    return requeue(
      error.kind === 'auth' ? 'auth-failed' : 'workspace-transient',
      `${error.kind === 'auth' ? 'auth-failed' : 'workspace-transient'}: ${describeRefusal(error)} ${what}`,
      { seconds },
      rule,
    );
  }
  return hold('unavailable', `error: ${(error as Error).name}: ${(error as Error).message} (${what})`);
}
