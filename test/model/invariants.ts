import { normaliseBody } from '../../lib/events/normalise.js';
import { type Chain, isChain, isLink, recordKey, taskKey } from '../../lib/ledger/chain.js';
import { runsOf } from '../../lib/ledger/runs.js';
import { PROJECT_ID } from '../helpers/factories.js';
import { MODEL_DESKTOP_WAIT_MAX_SECONDS, type World } from './world.js';

/**
 * The protocol's promises, checked after a run has been drained. Each returns
 * the violations it found, in words that say which record or chain and why.
 */

/** P1: Workspace applied at most one retry to each failed run. */
export function p1OneRetryPerRun(world: World): string[] {
  return [...world.ws.applied]
    .filter(([, n]) => n > 1)
    .map(([run, n]) => `P1: run ${run} was retried ${n} times by our retries`);
}

/** P2: per true chain, retries applied ≤ max_attempts; the ledger's attempts never above it (forced chains aside). */
export function p2AttemptsBounded(world: World): string[] {
  const max = world.spec.maxAttempts;
  const perRoot = new Map<string, number>();
  for (const [run, n] of world.ws.applied)
    perRoot.set(world.ws.rootOf(run), (perRoot.get(world.ws.rootOf(run)) ?? 0) + n);
  const problems = [...perRoot]
    .filter(([root, n]) => n > max && !world.forced.has(root))
    .map(([root, n]) => `P2: chain of ${root} got ${n} retries, max_attempts is ${max}`);
  for (const [pk, attempts] of world.store.maxAttempts) {
    const root = `${pk.split('#record#')[1]!}#0`;
    if (attempts > max && !world.forced.has(world.ws.rootOf(root)))
      problems.push(`P2: ledger item ${pk} reached attempts ${attempts}, max_attempts is ${max}`);
  }
  return problems;
}

/** Record a message body names (undefined when it is not a failure event). */
function named(body: string): { recordId?: string | undefined; taskId?: string | undefined } | undefined {
  const normalised = normaliseBody(body, { checkRegion: () => undefined });
  return normalised.ok ? { recordId: normalised.failure.recordId, taskId: normalised.failure.taskId } : undefined;
}

/**
 * P3: the queue is empty, and every failed run an event named was retried, or
 * dead-lettered with a reason by a letter decided once it had failed.
 */
export function p3NothingLost(world: World): string[] {
  const problems = [...world.source.messages.values()].map(
    (m) => `P3: message ${m.id} (${m.body.slice(0, 120)}) is still on the queue`,
  );
  const letters = [...world.dlq.messages.values()]
    .filter((m) => (m.attributes['reason']?.StringValue ?? '') !== '')
    .map((m) => ({ names: named(m.body), decidedAt: Date.parse(m.attributes['decided_at']?.StringValue ?? '') }));
  const lettered = (recordId: string, taskId: string, failedAt: number) =>
    letters.some(
      ({ names, decidedAt }) =>
        (names?.recordId === recordId || (names?.recordId === undefined && names?.taskId === taskId)) &&
        !(decidedAt < failedAt),
    );
  for (const run of new Set(world.named)) {
    const recordId = run.split('#')[0]!;
    const record = world.ws.records.get(recordId)!;
    if (
      (world.ws.applied.get(run) ?? 0) === 0 &&
      !lettered(recordId, record.script_task_id, world.ws.failedAt.get(run) ?? 0)
    ) {
      problems.push(
        `P3: run ${run} (task ${record.script_task_id}) failed, its event was sent, and it was neither retried nor dead-lettered; ledger: ${describeChainOf(world, recordId)}`,
      );
    }
  }
  return problems;
}

/** P4: a replayed dead letter is decided again, never answered "already dead-lettered" by the decision it carries. */
export function p4ReplayDecidedAgain(world: World): string[] {
  const problems: string[] = [];
  for (const replay of world.replays) {
    // The replay and every copy of it a deferral re-enqueued (they carry its id as their origin).
    const answers = world.outcomes.filter(
      (o) => o.messageId === replay.messageId || o.originMessageId === replay.messageId,
    );
    const stale = answers.find((o) => o.kind === 'duplicate' && /already dead-lettered/.test(o.reason ?? ''));
    if (!stale) continue;
    const recordId = named(replay.body)?.recordId;
    const chain = recordId ? chainOf(world, recordId) : undefined;
    if (chain?.dead_lettered_at === replay.decidedAt)
      problems.push(
        `P4: replayed dead letter ${replay.messageId} (record ${recordId}) was answered "${stale.reason}" and never decided again`,
      );
  }
  return problems;
}

/**
 * The ledger agrees with itself and with Workspace: a retried chain's new task links back, attempts equal the retries
 * that ran.
 */
export function ledgerConsistent(world: World): string[] {
  const problems: string[] = [];
  for (const item of world.store.items.values()) {
    if (!isChain(item)) continue;
    // A retry that answered a new task links it back; one that answered a task of an earlier run must not.
    const earlierTask = runsOf(item).some((run) => run.g < item.attempts && run.task === item.new_task_id);
    if (item.state === 'retried' && item.new_task_id && !earlierTask) {
      const link = world.store.items.get(taskKey(item.project_id, item.new_task_id));
      if (!isLink(link) || link.link_to !== item.pk)
        problems.push(
          `ledger: chain ${item.pk} was retried into task ${item.new_task_id} but no link points back (${JSON.stringify(link)})`,
        );
    }
    // A claim a crashed sweep left behind waits for the next sight of its record; P3 judges the runs events named.
    if (item.state === 'claimed' || item.state === 'unknown') continue;
    const root = world.ws.rootOf(`${item.root_record}#0`);
    const ran = [...world.ws.applied]
      .filter(([run]) => world.ws.rootOf(run) === root)
      .reduce((sum, [, n]) => sum + n, 0);
    if (item.attempts !== ran)
      problems.push(
        `ledger: chain ${item.pk} counts ${item.attempts} attempts, Workspace ran ${ran} retries of its lineage`,
      );
  }
  return problems;
}

function chainOf(world: World, recordId: string): Chain | undefined {
  let item = world.store.items.get(recordKey(PROJECT_ID, recordId));
  const record = world.ws.records.get(recordId);
  if (!item && record) item = world.store.items.get(taskKey(PROJECT_ID, record.script_task_id));
  if (isLink(item)) item = world.store.items.get(item.link_to);
  return isChain(item) ? item : undefined;
}

function describeChainOf(world: World, recordId: string): string {
  const chain = chainOf(world, recordId);
  return chain
    ? `${chain.pk} ${chain.state} attempts ${chain.attempts} history ${JSON.stringify(chain.history.map((h) => `${h.attempt}:${h.outcome}`))}`
    : 'no chain';
}

/** P5: no retry was applied while its desktop could not run the script (an attempt spent for nothing). */
export function p5NoAttemptOnUnreadyDesktop(world: World): string[] {
  return world.ws.unreadyRetries.map((retry) => `P5: a retry was spent on a desktop that was not ready: run ${retry}`);
}

/** P6: our pipeline started each desktop at most once per window (the policy's wait_max_seconds). */
export function p6OneStartPerWindow(world: World): string[] {
  const problems: string[] = [];
  const last = new Map<string, number>();
  for (const start of world.starts) {
    const before = last.get(start.desktop);
    if (before !== undefined && start.at - before < MODEL_DESKTOP_WAIT_MAX_SECONDS * 1000)
      problems.push(
        `P6: desktop ${start.desktop} was started again ${(start.at - before) / 1000} s after our last start`,
      );
    last.set(start.desktop, start.at);
  }
  return problems;
}

export function allViolations(world: World): string[] {
  return [
    ...world.violations,
    ...p1OneRetryPerRun(world),
    ...p2AttemptsBounded(world),
    ...p3NothingLost(world),
    ...p4ReplayDecidedAgain(world),
    ...ledgerConsistent(world),
    ...p5NoAttemptOnUnreadyDesktop(world),
    ...p6OneStartPerWindow(world),
  ];
}
