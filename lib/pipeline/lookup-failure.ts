import { describeFailure } from '../events/failure.js';
import { equalJitterSeconds, stableJitter } from '../platform/backoff.js';
import { countApiError } from '../platform/observability.js';
import { describeRefusal, isWorkspaceApiError } from '../workspace/errors.js';
import { KeyRefusedError } from '../workspace/key-calls.js';
import type { FailureContext } from './context.js';
import { type Resolution, requeue } from './resolution.js';

/**
 * A Workspace read the protocol needed (record detail, a task's failed
 * records, the lost-answer lookup, a desktop's state: `what` names it)
 * failed. Refused for good: surfaced once on the DLQ with the evidence. A
 * key the gate refuses for now: wait for it (not an answer from Workspace,
 * so not counted as its error). Anything else from Workspace: try again
 * later. Errors that are not Workspace's (ledger, secret) are thrown on: the
 * record stays on the queue.
 */
export function lookupFailure(
  error: unknown,
  ctx: FailureContext,
  what = describeFailure(ctx.input.failure),
): Resolution {
  if (error instanceof KeyRefusedError)
    return requeue('key-refused', `key-refused: ${error.message} (while looking up ${what})`, {
      ms: error.retryAfterMs,
    });
  if (!isWorkspaceApiError(error)) throw error;
  countApiError(error.code);
  if (error.kind === 'permanent') {
    const reason = `workspace-refused: ${describeRefusal(error)} while looking up ${what}`;
    return {
      kind: 'dead-letter',
      code: 'lookup-refused',
      letter: ctx.letter(reason, error.code, 'lookup-refused', 0),
      refusal: { status: error.status, errorCode: error.code, requestId: error.requestId },
    };
  }
  const seconds = equalJitterSeconds(1, ctx.deps.config.policy, stableJitter(what, 0));
  return requeue('lookup-failed', `lookup-failed: ${describeRefusal(error)} while looking up ${what}`, { seconds });
}
