import type { SQSRecord } from 'aws-lambda';
import { runManual } from '../../lib/ways-in/manual.js';
import { processQueueBatch } from '../../lib/ways-in/queue-batch.js';
import { runSweep } from '../../lib/ways-in/sweep.js';
import { PROJECT_ID } from '../helpers/factories.js';
import type { CrashPoint } from './invocation.js';
import type { World } from './world.js';

/**
 * The three ways in, run by the real handlers' code over the models, and the
 * things around them the platform does: Lambda's event source mapping
 * (receive, then delete only what the partial batch response allows, nothing
 * when the process died), an operator's DLQ replay, and the final drain.
 */

export type Actor =
  | { readonly kind: 'queue'; readonly picks: readonly number[]; readonly crash: CrashPoint }
  /** SQS delivers a copy of the first queue actor's messages to another invocation (at-least-once). */
  | { readonly kind: 'copy'; readonly crash: CrashPoint }
  | { readonly kind: 'sweep'; readonly crash: CrashPoint }
  | {
      readonly kind: 'console';
      readonly pick: number;
      readonly force: boolean;
      readonly byTask: boolean;
      readonly dryRun?: boolean;
    };

export function describeActor(actor: Actor): string {
  const crash = (c: CrashPoint) =>
    c === 'none' ? '' : ` crash ${typeof c === 'object' ? `after op ${c.afterOp}` : c}`;
  switch (actor.kind) {
    case 'queue':
      return `queue(picks ${actor.picks.join(',')}${crash(actor.crash)})`;
    case 'copy':
      return `copy-of-first-batch(${crash(actor.crash).trim() || 'no crash'})`;
    case 'sweep':
      return `sweep(${crash(actor.crash).trim() || 'no crash'})`;
    case 'console':
      return `console(${actor.byTask ? 'task of ' : ''}record pick ${actor.pick}${actor.force ? ' force' : ''}${actor.dryRun ? ' dry_run' : ''})`;
  }
}

/** Starts every actor at once and lets the scheduler interleave their calls; resolves when all are done. */
export function launch(world: World, actors: readonly Actor[]): Promise<unknown> {
  let firstBatch: SQSRecord[] = [];
  const runs = actors.map((actor) => {
    if (actor.kind === 'queue' || actor.kind === 'copy') {
      const records =
        actor.kind === 'queue'
          ? receive(world, actor.picks)
          : firstBatch.map((r) => world.source.receive(world.source.messages.get(r.messageId)!));
      if (actor.kind === 'queue' && firstBatch.length === 0) firstBatch = records;
      return deliver(world, records, actor.crash);
    }
    if (actor.kind === 'sweep') return sweep(world, actor.crash);
    return consoleRun(world, actor);
  });
  return Promise.all(runs);
}

function receive(world: World, picks: readonly number[]): SQSRecord[] {
  const chosen = new Set<string>();
  for (const pick of picks) {
    const visible = world.source.visible().filter((m) => !chosen.has(m.id));
    if (visible.length === 0) break;
    chosen.add(visible[pick % visible.length]!.id);
  }
  return [...chosen].map((id) => world.source.receive(world.source.messages.get(id)!));
}

export async function deliver(world: World, records: SQSRecord[], crash: CrashPoint): Promise<void> {
  if (records.length === 0) return;
  const invocation = world.invocation('queue', crash);
  let failed: Set<string>;
  try {
    const response = await processQueueBatch({ Records: records }, world.deps(invocation));
    failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
  } catch {
    // The handler threw: the middleware reports every record as failed.
    return;
  }
  if (!invocation.answered) return;
  for (const record of records) if (!failed.has(record.messageId)) world.source.delete(record.messageId);
}

async function sweep(world: World, crash: CrashPoint): Promise<void> {
  const invocation = world.invocation('sweep', crash);
  await runSweep({ ...world.deps(invocation), sweep: world.sweep, remainingMs: () => 900_000 }).catch(() => undefined);
}

async function consoleRun(world: World, actor: Extract<Actor, { kind: 'console' }>): Promise<void> {
  const record = world.record(actor.pick, (r) => r.status === 'FAILED' && world.known(r));
  if (!record) return;
  const target = actor.byTask ? { task_id: record.script_task_id } : { record_id: record.id };
  if (actor.force && !actor.dryRun)
    for (const r of world.ws.records.values())
      if (actor.byTask ? r.script_task_id === record.script_task_id : r.id === record.id)
        world.forced.add(world.ws.rootOf(world.ws.runOf(r.id)));
  if (actor.dryRun)
    return dryRun(world, {
      project_id: PROJECT_ID,
      ...target,
      dry_run: true,
      ...(actor.force ? { force: true, reason: 'model: operator forces' } : {}),
    });
  await operatorAsks(world, {
    project_id: PROJECT_ID,
    ...target,
    ...(actor.force ? { force: true, reason: 'model: operator forces' } : {}),
  });
}

/** A console dry run reads and never writes, calls the retry API or sends. */
async function dryRun(world: World, payload: Record<string, unknown>): Promise<void> {
  const invocation = world.invocation('console-dry-run', 'none');
  await runManual(payload, world.deps(invocation));
  const effects = invocation.calls.filter((label) => !/^(read|getRecord|list) /.test(label));
  if (effects.length > 0)
    world.violations.push(`dry run: console ${JSON.stringify(payload)} made ${effects.join(', ')}`);
}

/**
 * The console answers a deferral with "invoke again": the operator does, once per answer (the drain repeats the rest).
 */
async function operatorAsks(world: World, payload: Record<string, unknown>): Promise<void> {
  const answer = await runManual(payload, world.deps(world.invocation('console', 'none')));
  if (!answer.ok) throw new Error(`console refused the model's payload: ${JSON.stringify(answer.errors)}`);
  for (const result of answer.results) {
    if (result.outcome !== 'deferred') continue;
    const { task_id: _task, record_id: _record, ...rest } = payload;
    world.askAgain.push({
      ...rest,
      ...(result.record_id ? { record_id: result.record_id } : { task_id: result.task_id }),
    });
  }
}

/** An operator redrives one dead letter to the source queue, attributes and all. */
export function replay(world: World, pick: number): void {
  const letters = [...world.dlq.messages.values()];
  if (letters.length === 0) return;
  const letter = world.dlq.take(letters[pick % letters.length]!.id)!;
  const message = world.source.add(letter.body, letter.attributes);
  world.replays.push({
    messageId: message.id,
    decidedAt: Date.parse(letter.attributes['decided_at']?.StringValue ?? ''),
    body: letter.body,
  });
}

/**
 * Faults off, then time past every lease, delay and visibility timeout, and
 * every visible message delivered (10 at a time) and every console answer
 * "deferred: invoke again" asked again, until the queue is empty and no
 * answer is deferred, or the rounds run out (P3 then reports what is left).
 */
export async function drain(world: World, waitFor: <T>(p: Promise<T>) => Promise<T>, rounds = 30): Promise<void> {
  world.disarm();
  for (let round = 0; round < rounds && (world.source.messages.size > 0 || world.askAgain.length > 0); round++) {
    world.advance(901);
    for (const payload of world.askAgain.splice(0)) await waitFor(operatorAsks(world, payload));
    const visible = world.source.visible();
    for (let i = 0; i < visible.length; i += 10) {
      const records = visible.slice(i, i + 10).map((m) => world.source.receive(m));
      await waitFor(deliver(world, records, 'none'));
    }
  }
}
