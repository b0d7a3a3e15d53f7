import fc from 'fast-check';
import { PROJECT_ID } from '../helpers/factories.js';
import { envelope, SHAPES, type Shape } from './envelopes.js';
import type { CrashPoint } from './invocation.js';
import type { LedgerFault } from './memory-ledger-store.js';
import { type Actor, describeActor, launch, replay } from './ways-in.js';
import type { RetryFault, StartFault } from './workspace-model.js';
import { REASONS, type ReasonKind, type World } from './world.js';

/**
 * The model's commands: each names what it does in its toString, so a shrunk
 * counterexample reads as a story. Picks are indices taken modulo what exists
 * when the command runs, so every command stays valid while fast-check shrinks.
 */

export interface Real {
  readonly world: World;
  readonly waitFor: <T>(p: Promise<T>) => Promise<T>;
}
type Model = Record<string, never>;

abstract class Step implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  abstract run(model: Model, real: Real): Promise<void>;
  abstract toString(): string;
}

class Concurrently extends Step {
  constructor(readonly actors: readonly Actor[]) {
    super();
  }
  async run(_m: Model, { world, waitFor }: Real): Promise<void> {
    await waitFor(launch(world, this.actors));
  }
  toString(): string {
    return this.actors.length === 1
      ? describeActor(this.actors[0]!)
      : `at once[${this.actors.map(describeActor).join(' | ')}]`;
  }
}

class RunFails extends Step {
  constructor(
    readonly pick: number,
    readonly reason: ReasonKind,
    readonly shape: Shape,
  ) {
    super();
  }
  async run(_m: Model, { world }: Real): Promise<void> {
    const record = world.record(this.pick, (r) => r.status === 'RUNNING' && world.known(r));
    if (!record) return;
    world.ws.fail(record.id, REASONS[this.reason]);
    emit(world, record.id, this.shape);
  }
  toString(): string {
    return `a retried run (pick ${this.pick}) fails: ${this.reason}, event as ${this.shape}`;
  }
}

class AnotherEvent extends Step {
  constructor(
    readonly pick: number,
    readonly shape: Shape,
  ) {
    super();
  }
  async run(_m: Model, { world }: Real): Promise<void> {
    const record = world.record(this.pick, (r) => r.status === 'FAILED');
    if (record) emit(world, record.id, this.shape);
  }
  toString(): string {
    return `another event for failed record pick ${this.pick}, as ${this.shape}`;
  }
}

export function emit(world: World, recordId: string, shape: Shape): void {
  const record = world.ws.records.get(recordId)!;
  world.send(
    envelope(PROJECT_ID, record, shape),
    shape === 'task' ? world.ws.failedRunsOfTask(record.script_task_id) : [world.ws.runOf(recordId)],
  );
}

class Simple extends Step {
  constructor(
    readonly label: string,
    readonly act: (world: World) => void,
  ) {
    super();
  }
  async run(_m: Model, { world }: Real): Promise<void> {
    this.act(world);
  }
  toString(): string {
    return this.label;
  }
}

const crashArb: fc.Arbitrary<CrashPoint> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<CrashPoint>('none') },
  fc.constantFrom<CrashPoint>('before-call', 'after-call', 'after-settle'),
  fc.integer({ min: 1, max: 8 }).map((afterOp): CrashPoint => ({ afterOp })),
);
const pick = fc.nat({ max: 20 });
const queueActor = fc.record({
  kind: fc.constant('queue' as const),
  picks: fc.array(pick, { minLength: 1, maxLength: 3 }),
  crash: crashArb,
});
const otherActor: fc.Arbitrary<Actor> = fc.oneof(
  queueActor,
  fc.record({ kind: fc.constant('copy' as const), crash: crashArb }),
  fc.record({ kind: fc.constant('sweep' as const), crash: crashArb }),
  fc.record({
    kind: fc.constant('console' as const),
    pick,
    force: fc.boolean(),
    byTask: fc.boolean(),
    dryRun: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, fc.constant(true)),
  }),
);
const shapeArb = fc.constantFrom<Shape>(...SHAPES);
const reasonArb = fc.constantFrom<ReasonKind>('retry', 'retry', 'later', 'giveUp');
const retryFaults: RetryFault[] = [
  'before-503',
  'before-429',
  'lose-TIMEOUT',
  'lose-NETWORK',
  'lose-502',
  'lose-MALFORMED',
  'permanent-404',
];

/**
 * What else may happen to a desktop while a run goes: only ever towards ready, so a desktop read ready stays ready for
 * its retry.
 */
function desktopChanges(): Array<fc.Arbitrary<fc.AsyncCommand<Model, Real>>> {
  return [
    pick.map(
      (p) =>
        new Simple(`an administrator ends maintenance of desktop pick ${p}`, (w) => {
          const desktop = w.desktopAt(p);
          if (desktop && w.fleet.detail(PROJECT_ID, desktop)?.in_maintenance_mode)
            w.fleet.setMaintenance(PROJECT_ID, desktop, false);
        }),
    ),
    pick.map(
      (p) =>
        new Simple(`someone else starts desktop pick ${p}`, (w) => {
          const desktop = w.desktopAt(p);
          if (desktop) w.fleet.run(PROJECT_ID, [desktop], 'os-start');
        }),
    ),
    fc
      .constantFrom<StartFault>('before-503', 'lose-TIMEOUT')
      .map((f) => new Simple(`workspace: next desktop start ${f}`, (w) => w.ws.armStart(f))),
  ];
}

/** The commands; with `desktops`, also what happens to desktops that are not ready. */
export function commandArbs(
  options: { readonly desktops?: boolean } = {},
): Array<fc.Arbitrary<fc.AsyncCommand<Model, Real>>> {
  return [
    ...(options.desktops ? desktopChanges() : []),
    fc
      .tuple(queueActor, fc.array(otherActor, { maxLength: 2 }))
      .map(([first, rest]) => new Concurrently([first, ...rest])),
    fc
      .tuple(queueActor, fc.array(otherActor, { maxLength: 2 }))
      .map(([first, rest]) => new Concurrently([first, ...rest])),
    otherActor.map((actor) => new Concurrently([actor])),
    fc.tuple(pick, reasonArb, shapeArb).map(([p, r, s]) => new RunFails(p, r, s)),
    fc.tuple(pick, shapeArb).map(([p, s]) => new AnotherEvent(p, s)),
    pick.map((p) => new Simple(`replay dead letter pick ${p} to the source queue`, (w) => replay(w, p))),
    fc.constantFrom(5, 61, 130, 721, 901).map((s) => new Simple(`advance the clock ${s} s`, (w) => w.advance(s))),
    fc
      .tuple(
        fc.constantFrom<LedgerFault>('read', 'write', 'write-lost'),
        fc.integer({ min: 1, max: 3 }),
        fc.nat({ max: 4 }),
      )
      .map(
        ([f, n, skip]) =>
          new Simple(`ledger: ${n} ${f} call(s) fail after ${skip} more go through`, (w) => w.store.arm(f, n, skip)),
      ),
    fc.constantFrom(...retryFaults).map((f) => new Simple(`workspace: next retry call ${f}`, (w) => w.ws.armRetry(f))),
    fc
      .integer({ min: 1, max: 2 })
      .map((n) => new Simple(`workspace: next ${n} read(s) answer 503`, (w) => w.ws.armRead(n))),
    fc
      .constantFrom('dlq', 'source')
      .map(
        (q) => new Simple(`sqs: next send to ${q} refused`, (w) => (q === 'dlq' ? w.dlq : w.source).armRejection(1)),
      ),
  ];
}
