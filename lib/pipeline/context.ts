/**
 * What the pipeline works with (the ways in build it once per invocation),
 * what one failure event brings, and what the steps of one failure share.
 */

import type { AppConfig } from '../config/app-config.js';
import type { ScriptFailure } from '../events/failure.js';
import type { AttemptLedger } from '../ledger/attempt-ledger.js';
import type { ReadAhead } from '../ledger/locate.js';
import type { Places } from '../platform/concurrency.js';
import type { CircuitBreakers } from '../workspace/circuit-breakers.js';
import type { WorkspaceClient } from '../workspace/client.js';
import type { WorkspaceCredentials } from '../workspace/credentials.js';
import type { InvocationDesktops } from '../workspace/desktop-reads.js';
import type { ErrorBudget } from '../workspace/error-budget.js';
import type { KeyedCalls } from '../workspace/key-calls.js';
import type { InvocationKeyGate } from '../workspace/key-gate.js';
import type { RetryReadings } from '../workspace/retry-readings.js';
import type { SigningCredentials } from '../workspace/signer.js';
import type { DeadLetter } from './dead-letter.js';

/** The pipeline's dependencies for one invocation (lib/ways-in/runtime.ts builds them). */
export interface PipelineDeps {
  readonly config: AppConfig;
  readonly workspace: WorkspaceClient;
  readonly ledger: AttemptLedger;
  readonly credentials: WorkspaceCredentials;
  readonly breakers: CircuitBreakers;
  /** This invocation's tolerance for failed calls. */
  readonly errorBudget: ErrorBudget;
  /**
   * One call first per key fingerprint not yet accepted; refusals shared across containers (lib/workspace/key-gate.ts).
   */
  readonly keyGate?: InvocationKeyGate | undefined;
  /**
   * This invocation's desktop reads (one per desktop, those of one turn together) and starts
   * (lib/workspace/desktop-reads.ts).
   */
  readonly desktops: InvocationDesktops;
  /** What the container has seen Workspace's retries do (lib/workspace/retry-readings.ts); none: nothing assumed. */
  readonly readings?: RetryReadings | undefined;
  readonly now?: () => number;
}

/** One failure event and how it came in. */
export interface FailureInput {
  readonly failure: ScriptFailure;
  /** When the failure was first seen (the first message's send time); the ledger's first sighting wins when older. */
  readonly firstSeenAt: number;
  /** An operator's override of the policy's verdict (console); never of dry run, the kill switch or a duplicate. */
  readonly force?: { readonly reason: string } | undefined;
  /** Decide and describe only (console `dry_run`), on top of the global switch. */
  readonly dryRun?: boolean | undefined;
  /** Asked for by an operator (console): see DecisionInput.requestedByOperator. */
  readonly manual?: boolean | undefined;
  /** A replayed dead letter: the `decided_at` it carries. */
  readonly replayOf?: number | undefined;
  /** An accepted retry the ledger could not record, carried by the re-enqueued message. */
  readonly carried?: { readonly taskId: string; readonly rev: number } | undefined;
}

/**
 * What the runner (lib/pipeline/runner.ts) gives one failure beyond its input: its place among the MAX_CONCURRENCY
 * running.
 */
export interface ItemSlot {
  /** Its first ledger reads, made while the failures before it were being handled. */
  readonly ahead?: ReadAhead | undefined;
  /** Gives its place to the next failure: called once the retry call is answered, while its outcome is written. */
  readonly free?: (() => void) | undefined;
  /**
   * The invocation's call places, when more failures are under way than calls go out at once: every signed call
   * holds one (lib/pipeline/runner.ts, "claims made ahead").
   */
  readonly places?: Places | undefined;
  /** Called once its retry call has its place: the failure is no longer preparing, and the next one may start. */
  readonly prepared?: (() => void) | undefined;
  /** Asked again once a claim made ahead has its call's place: a reason not to call now (the invocation's end). */
  readonly tooLate?: (() => string | undefined) | undefined;
}

/** Everything the steps of one failure share. */
export interface FailureContext {
  readonly input: FailureInput;
  readonly deps: PipelineDeps;
  readonly slot: ItemSlot;
  readonly now: number;
  readonly dryRun: boolean;
  readonly project: { readonly projectId: string; readonly region?: string | undefined };
  /** How this failure's signed calls go (lib/workspace/key-calls.ts): its project's keys, to its endpoint. */
  readonly keys: KeyedCalls;
  /** The project's current keys, for what a dry run shows of a request (never sent with them). */
  readonly credentials: SigningCredentials;
  /** Builds the dead letter for a decision taken now. */
  readonly letter: (reason: string, errorCode: string, ruleId: string, attempts: number) => DeadLetter;
}

/** Whether this failure only decides and describes: the global dry run, or the console's. */
export function isDryRun(input: FailureInput, deps: PipelineDeps): boolean {
  return deps.config.dryRun || input.dryRun === true;
}

/** The dead letter of a decision taken at `now` for this input. */
export function letterOf(input: FailureInput, now: number): FailureContext['letter'] {
  return (reason, errorCode, ruleId, attempts) => ({
    reason,
    errorCode,
    attempts,
    ruleId,
    firstSeenAt: input.firstSeenAt,
    decidedAt: now,
  });
}

/** What the steps of one failure share, with the project's keys read once. */
export async function failureContext(
  input: FailureInput,
  deps: PipelineDeps,
  now: number,
  slot: ItemSlot = {},
): Promise<FailureContext> {
  const { projectId, region } = input.failure;
  const project = { projectId, region };
  const { credentials } = await deps.credentials.forProject(projectId);
  const endpoint = deps.workspace.endpointOf(project);
  const keys: KeyedCalls = {
    credentials: deps.credentials,
    keyGate: deps.keyGate,
    breakers: deps.breakers,
    projectId,
    endpoint,
    places: slot.places,
  };
  return {
    input,
    deps,
    slot,
    now,
    dryRun: isDryRun(input, deps),
    project,
    keys,
    credentials,
    letter: letterOf(input, now),
  };
}
