/**
 * The console way in (`retryManually`): a small JSON payload naming failures,
 * answered synchronously with one result per item. `dry_run` shows the
 * decision and the exact request without sending anything; `force` is an
 * operator's override of the policy's verdict, recorded in the ledger with
 * the given reason, that never overrides dry run, the kill switch or the
 * duplicate guard.
 */

import { safeIdSchema } from '../events/identifiers.js';
import { withoutNulls } from '../events/normalise.js';
import { isJsonObject } from '../events/safe-json.js';
import type { PipelineDeps } from '../pipeline/context.js';
import { type Outcome, reportOutcome } from '../pipeline/outcome.js';
import { resolveFailure, syntheticSource } from '../pipeline/runner.js';
import { type Forwarders, type Settling, settleAll } from '../pipeline/settlement.js';
import { mapWithConcurrency } from '../platform/concurrency.js';
import { logger } from '../platform/observability.js';
import * as v from '../platform/valibot.js';
import type { PreparedRequest } from '../workspace/client.js';
import { validateRegion } from '../workspace/endpoints.js';
import { tooLateToStart } from './time-budget.js';

const MAX_ITEMS = 100;

const itemSchema = v.pipe(
  v.strictObject({
    project_id: safeIdSchema,
    region: v.optional(v.pipe(v.string(), v.maxLength(32))),
    task_id: v.optional(safeIdSchema),
    record_id: v.optional(safeIdSchema),
    dry_run: v.optional(v.boolean()),
    force: v.optional(v.boolean()),
    reason: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(500))),
  }),
  v.check((item) => item.task_id !== undefined || item.record_id !== undefined, 'needs task_id or record_id'),
  v.check((item) => item.task_id === undefined || item.record_id === undefined, 'give task_id or record_id, not both'),
  v.forward(
    v.check((item) => !item.force || Boolean(item.reason), 'is required with force: true (it is kept in the ledger)'),
    ['reason'],
  ),
);

const batchSchema = v.strictObject({
  items: v.pipe(
    v.array(v.unknown()),
    v.minLength(1, 'must list at least one item'),
    v.maxLength(MAX_ITEMS, `must list at most ${MAX_ITEMS} items`),
  ),
});

type ManualItem = v.InferOutput<typeof itemSchema>;

/** One field that is wrong, and why. */
export interface FieldProblem {
  readonly field: string;
  readonly problem: string;
}

/** The answer for one item. */
export interface ManualResult {
  readonly project_id: string;
  readonly record_id?: string | undefined;
  readonly task_id?: string | undefined;
  /**
   * The same word the logs, the metrics and the sweep's summary use for this
   * outcome; or, for a request that names nothing to retry, the console's own
   * answer (`not-found`, `nothing-to-retry`: see ConsoleAnswer).
   */
  readonly outcome: Outcome['kind'] | ConsoleAnswer['outcome'];
  readonly reason?: string | undefined;
  readonly rule_id?: string | undefined;
  readonly new_task_id?: string | undefined;
  readonly attempt?: number | undefined;
  readonly forced?: boolean | undefined;
  /** Deferred: invoke again after this many seconds (the console never re-enqueues). */
  readonly retry_after_seconds?: number | undefined;
  /** Dry runs: what would be sent (never a signature or a key). */
  readonly request?:
    | {
        readonly method: string;
        readonly url: string;
        readonly body?: string | undefined;
        readonly signed_headers: readonly string[];
      }
    | undefined;
}

/** The console's answer: one result per item, or the payload's problems by field (nothing was done). */
export type ManualAnswer =
  | { readonly ok: true; readonly results: ManualResult[] }
  | { readonly ok: false; readonly errors: FieldProblem[] };

/** What the console way in needs besides the pipeline's dependencies. */
export interface ManualDeps extends PipelineDeps {
  readonly forwarders: Forwarders;
  /** Milliseconds the invocation has left; an item not started this close to the end is answered `deferred`. */
  readonly remainingMs?: (() => number) | undefined;
}

/** Each issue as the field it names and what is wrong; the fields an object does not know, listed together on it. */
function problems(prefix: string, issues: readonly v.BaseIssue<unknown>[]): FieldProblem[] {
  const fieldOf = (keys: ReadonlyArray<string | number>) =>
    [prefix, ...keys.map(String)].filter(Boolean).join('.') || '(payload)';
  const found: FieldProblem[] = [];
  const unknownOn = new Map<string, string[]>();
  for (const issue of issues) {
    const keys = v.issuePath(issue);
    if (!(issue.type === 'strict_object' && issue.expected === 'never')) {
      found.push({ field: fieldOf(keys), problem: issue.message });
      continue;
    }
    const on = fieldOf(keys.slice(0, -1));
    unknownOn.set(on, [...(unknownOn.get(on) ?? []), String(keys.at(-1))]);
  }
  for (const [field, names] of unknownOn) found.push({ field, problem: `unknown field(s) ${names.join(', ')}` });
  return found;
}

/** Validates the payload: every bad field of every item is named, nothing runs unless all are good. */
export function parseManualPayload(
  payload: unknown,
  checkRegion: (region: string) => string | undefined,
): { items: ManualItem[] } | { errors: FieldProblem[] } {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    return { errors: [{ field: '(payload)', problem: 'must be a JSON object' }] };
  const multiple = 'items' in payload;
  if (multiple) {
    const batch = v.safeParse(batchSchema, payload);
    if (!batch.success) return { errors: problems('', batch.issues) };
  }
  const raw = multiple ? (payload as { items: unknown[] }).items : [payload];
  const items: ManualItem[] = [];
  const errors: FieldProblem[] = [];
  raw.forEach((value, index) => {
    const prefix = multiple ? `items.${index}` : '';
    // A null field is absent, as in an event: `"task_id": null` beside a record id is not a second target.
    const parsed = v.safeParse(itemSchema, isJsonObject(value) ? withoutNulls(value) : value);
    if (!parsed.success) return errors.push(...problems(prefix, parsed.issues));
    const regionProblem = parsed.output.region === undefined ? undefined : checkRegion(parsed.output.region);
    if (regionProblem)
      return errors.push({ field: [prefix, 'region'].filter(Boolean).join('.'), problem: regionProblem });
    items.push(parsed.output);
  });
  return errors.length ? { errors } : { items };
}

function describeRequest(preview: PreparedRequest | undefined): ManualResult['request'] {
  return (
    preview && {
      method: preview.method,
      url: preview.url,
      body: preview.body,
      signed_headers: preview.signedHeaderNames,
    }
  );
}

/**
 * Handles one console payload: parses it, puts every item through the pipeline, and answers one result per item in the
 * payload's order. A payload with problems is answered with them, and nothing is done.
 */
export async function runManual(payload: unknown, deps: ManualDeps): Promise<ManualAnswer> {
  const parsed = parseManualPayload(payload, (region) => validateRegion(region, deps.config.endpoints));
  if ('errors' in parsed) return { ok: false, errors: parsed.errors };
  const now = (deps.now ?? Date.now)();
  const resolve = (item: ManualItem, run?: { recordId: string; taskId?: string | undefined }): Promise<Settling> => {
    const failure = {
      projectId: item.project_id,
      region: item.region,
      recordId: run?.recordId ?? item.record_id,
      taskId: run?.taskId ?? item.task_id,
      shape: run ? 'manual>task' : 'manual',
    };
    const source = syntheticSource(`manual:${item.project_id}:${failure.recordId ?? failure.taskId}`, {
      ...item,
      ...(run ? { record_id: run.recordId } : {}),
    });
    return resolveFailure(
      {
        failure,
        firstSeenAt: now,
        dryRun: item.dry_run,
        force: item.force ? { reason: item.reason! } : undefined,
        manual: true,
      },
      source,
      deps,
    );
  };
  // An item not started before the time runs out is answered, never left half done by the Lambda timeout.
  const notStarted = (
    projectId: string,
    recordId: string | undefined,
    taskId: string | undefined,
    reason: string,
  ): ManualResult => ({ project_id: projectId, record_id: recordId, task_id: taskId, outcome: 'deferred', reason });
  const lateReason =
    'time-budget: the invocation was about to time out before this item started; invoke again (those handled are duplicates then)';
  const first = await mapWithConcurrency(
    parsed.items,
    deps.config.maxConcurrency,
    async (item): Promise<Settling | ManualResult> =>
      tooLateToStart(deps) ? notStarted(item.project_id, item.record_id, item.task_id, lateReason) : resolve(item),
  );
  // A task is answered per desktop: each of its failed records goes through the pipeline as its own failure.
  const slots = first.map((answer, index) => {
    if (!('resolution' in answer) || answer.resolution.kind !== 'expand') return [answer];
    const item = parsed.items[index]!;
    return answer.resolution.records.map((record) => ({
      item,
      run: { recordId: record.id, taskId: record.script_task_id },
    }));
  });
  let budget = MAX_ITEMS;
  const resolved = await mapWithConcurrency(slots.flat(), deps.config.maxConcurrency, async (slot) => {
    if (!('run' in slot)) return slot;
    const { item, run } = slot;
    if (budget-- <= 0)
      return notStarted(
        item.project_id,
        run.recordId,
        run.taskId,
        `not handled: more than ${MAX_ITEMS} failed records; invoke again (those handled are duplicates then)`,
      );
    return tooLateToStart(deps)
      ? notStarted(item.project_id, run.recordId, run.taskId, lateReason)
      : resolve(item, run);
  });
  const settlings = resolved.filter((r): r is Settling => 'resolution' in r);
  const answers = new Map<Settling, ManualResult>();
  for (const settling of settlings) {
    const answer = consoleAnswer(settling);
    if (answer) answers.set(settling, await answerInstead(settling, answer, deps));
  }
  // The console answers a deferral ("invoke again") instead of re-enqueueing it, and never forwards a dry run.
  const toSettle = settlings.filter((s) => !answers.has(s));
  const settled = await settleAll(
    toSettle,
    { deadLetters: deps.forwarders.deadLetters, forwardDryRuns: false },
    deps.ledger,
  );
  for (const item of settled) reportOutcome(item.outcome, item, 'manual');
  settled.forEach((s, index) =>
    answers.set(toSettle[index]!, toResult(s.failure!, s.durable ? s.outcome : unsettled(s.outcome))),
  );
  return { ok: true, results: resolved.map((r) => ('resolution' in r ? answers.get(r)! : r)) };
}

/**
 * What the console answers where the queue would dead-letter: an operator's
 * request that names something Workspace does not know (a 404, whether from a
 * lookup or from the retry itself) or a task with no failed records is a typo
 * or a question, answered at once, not a failure to surface on the DLQ (and
 * not a page from its alarm).
 */
export interface ConsoleAnswer {
  readonly outcome: 'not-found' | 'nothing-to-retry';
  readonly reason: string;
}

/**
 * The console's answer for a resolution the queue would dead-letter as a not-found or no failed records; undefined for
 * any other resolution.
 */
export function consoleAnswer(settling: Settling): ConsoleAnswer | undefined {
  const r = settling.resolution;
  if (r.kind === 'duplicate' && r.code === 'no-failed-records')
    return { outcome: 'nothing-to-retry', reason: r.reason };
  if (r.kind !== 'dead-letter') return undefined;
  if (r.code === 'no-failed-records') return { outcome: 'nothing-to-retry', reason: r.letter.reason };
  if ((r.code === 'workspace-refused' || r.code === 'lookup-refused') && r.refusal?.status === 404) {
    const evidence = `404 ${r.refusal.errorCode}${r.refusal.requestId ? ` (X-Request-Id ${r.refusal.requestId})` : ''}`;
    return {
      outcome: 'not-found',
      reason: `not-found: Workspace does not know it (${evidence}); check the project, record and task ids. Nothing was retried or dead-lettered`,
    };
  }
  return undefined;
}

/**
 * Answers instead of settling: a claim taken for a retry that Workspace
 * refused with a 404 is given back (the script certainly did not run, so the
 * attempt is not counted), and one log line says what was answered.
 */
async function answerInstead(settling: Settling, answer: ConsoleAnswer, deps: ManualDeps): Promise<ManualResult> {
  const r = settling.resolution;
  const ruleId = r.kind === 'dead-letter' ? r.letter.ruleId : r.kind === 'duplicate' ? r.code : undefined;
  if (r.kind === 'dead-letter' && r.claim) {
    const claim = r.claim;
    await deps.ledger
      .release(claim, { errorCode: r.letter.errorCode, reason: answer.reason, ruleId })
      .catch((error: unknown) => {
        // The claim then expires with its lease; nothing else depends on it.
        logger.warn('could not give back the claim of a request Workspace does not know', {
          chain: claim.chain.pk,
          error: (error as Error).message,
        });
      });
  }
  const f = settling.failure!;
  logger.info('answered', {
    way: 'manual',
    kind: answer.outcome,
    reason: answer.reason,
    projectId: f.projectId,
    recordId: f.recordId,
    taskId: f.taskId,
  });
  return {
    project_id: f.projectId,
    record_id: f.recordId,
    task_id: f.taskId,
    outcome: answer.outcome,
    reason: answer.reason,
    rule_id: ruleId,
  };
}

/**
 * A duplicate that had to write again the link of the retry its run received,
 * and could not: the queue keeps such a message and its redelivery writes the
 * link; the console has no message, so it asks the operator to invoke again.
 * (A retry's own link is written with its outcome: a retried outcome is always durable.)
 */
function unsettled(outcome: Outcome): Outcome {
  if (outcome.kind !== 'duplicate') return outcome;
  return {
    kind: 'deferred',
    code: 'unavailable',
    reason:
      'already handled, but the link from its new task could not be written: invoke again to write it (nothing is retried twice)',
    how: 'answered',
  };
}

function toResult(
  failure: { projectId: string; recordId?: string | undefined; taskId?: string | undefined },
  outcome: Outcome,
): ManualResult {
  const base = { project_id: failure.projectId, record_id: failure.recordId, task_id: failure.taskId };
  switch (outcome.kind) {
    case 'retried':
      return {
        ...base,
        outcome: 'retried',
        rule_id: outcome.ruleId,
        new_task_id: outcome.newTaskId,
        attempt: outcome.attempt,
        forced: outcome.forced,
      };
    case 'previewed':
      return {
        ...base,
        outcome: 'previewed',
        reason: outcome.reason,
        rule_id: outcome.ruleId,
        request: describeRequest(outcome.preview),
      };
    case 'dead-lettered':
      return { ...base, outcome: 'dead-lettered', reason: outcome.reason, rule_id: outcome.ruleId };
    case 'deferred':
      return { ...base, outcome: 'deferred', reason: outcome.reason, retry_after_seconds: outcome.delaySeconds };
    case 'duplicate':
      return { ...base, outcome: 'duplicate', reason: outcome.reason };
    case 'not-failed':
      return { ...base, outcome: 'not-failed', reason: outcome.reason };
  }
}
