import { equalJitterSeconds, stableJitter } from '../platform/backoff.js';
import { describeFailure } from '../events/failure.js';
import { countApiError } from '../platform/observability.js';
import { MAX_DELAY_SECONDS } from '../platform/queue-sender.js';
import type { FailureContext } from './process-failure.js';
import type { Resolution } from './resolution.js';
import { isWorkspaceApiError, type WorkspaceApiError } from '../workspace/errors.js';

/**
 * A Workspace read the protocol needed (record detail, a task's failed
 * records, the lost-answer lookup) failed. Refused for good: surfaced once on
 * the DLQ with the evidence. Anything else: try again later. Errors that are
 * not Workspace's (ledger, secret) are thrown on: the record stays on the queue.
 */
export function lookupFailure(error: unknown, ctx: FailureContext): Resolution {
  if (!isWorkspaceApiError(error)) throw error;
  countApiError(error.code);
  const what = describeFailure(ctx.input.failure);
  if (error.kind === 'permanent') {
    const reason = `workspace-refused: ${describeApiError(error)} while looking up ${what}`;
    return { kind: 'dead-letter', letter: ctx.letter(reason, error.code, 'lookup-refused', 0) };
  }
  const delaySeconds = Math.min(MAX_DELAY_SECONDS, equalJitterSeconds(1, ctx.deps.config.policy, stableJitter(what, 0)));
  return { kind: 'requeue', reason: `lookup-failed: ${describeApiError(error)} while looking up ${what}`, delaySeconds, attempt: 0 };
}

export function describeApiError(error: WorkspaceApiError): string {
  return `${error.status ?? '-'} ${error.code}${error.requestId ? ` (X-Request-Id ${error.requestId})` : ''}`;
}
