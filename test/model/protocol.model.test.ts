import { fc } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RetryReading } from '../../local/workspace-state.js';
import { commandArbs, emit, type Real } from './commands.js';
import { SHAPES, type Shape } from './envelopes.js';
import { allViolations } from './invariants.js';
import { quietPipeline } from './quiet-pipeline.js';
import { readingsToRun } from './readings.js';
import { story } from './story.js';
import { drain } from './ways-in.js';
import { DESKTOP_CONDITIONS, type DesktopCondition, type ReasonKind, World, type WorldSpec } from './world.js';

/**
 * The attempt-ledger protocol, proven by a model: random sequences of
 * deliveries (some at once, interleaved call by call by fast-check's
 * scheduler), SQS copies and redeliveries, other envelopes of one failure,
 * task-level and record-level events, sweeps, console runs with and without
 * force, DLQ replays, clock jumps past leases and delays, crashes at each
 * step, ledger faults and answers lost after Workspace applied the retry.
 * The real pipeline runs over in-memory stand-ins; after each run the faults
 * stop, the queue is drained, and P1-P4 and the ledger's consistency are
 * checked. MODEL_RUNS sets the number of runs, MODEL_SEED replays one seed.
 */

/**
 * A failure prints `path` and the commands' `replayPath`: MODEL_PATH and MODEL_REPLAY replay exactly that
 * counterexample.
 */
const PATH = process.env['MODEL_PATH'];
const REPLAY = process.env['MODEL_REPLAY'];
const RUNS = Number(process.env['MODEL_RUNS'] ?? 300);
// Inside `npm test` the seed is fixed (the suite must not flake): 173755319, the seed whose runs found a record re-run
// twice (a holder died mid-call, a console `force` raced the lost-answer resolution, and the re-failed run's next
// event,
// naming no desktop or script, started a chain of its own); it is kept as the regression. `npm run test:model`
// (MODEL_RUNS set) explores fresh seeds.
const SEED = Number(
  process.env['MODEL_SEED'] ?? (process.env['MODEL_RUNS'] ? Math.floor(Math.random() * 2 ** 31) : 173755319),
);
/**
 * What Workspace's retry does (docs/workspace-api.md, "What a retry does"): every reading, or the one MODEL_READING
 * names.
 */
const READINGS = readingsToRun(process.env['MODEL_READING']);

let current: World | undefined;
const newStats = () => ({
  runs: 0,
  applied: 0,
  crashes: 0,
  replays: 0,
  ledgerFaults: 0,
  desktopStarts: 0,
  outcomes: {} as Record<string, number>,
});
/**
 * The run with desktops that may not be ready has a seed of its own (MODEL_DESKTOP_SEED), so the seed above keeps the
 * runs it found its counterexample in.
 */
const DESKTOP_SEED = Number(
  process.env['MODEL_DESKTOP_SEED'] ?? (process.env['MODEL_RUNS'] ? Math.floor(Math.random() * 2 ** 31) : 20261204),
);

let undo: () => void;
beforeAll(() => {
  undo = quietPipeline(() => current);
});
afterAll(() => undo());

const specArb = (reading: RetryReading): fc.Arbitrary<WorldSpec & { readonly shapes: readonly Shape[] }> =>
  fc.record({
    reading: fc.constant(reading),
    // Workspace's clock runs ahead or behind ours, within CLOCK_SKEW_SECONDS (120).
    workspaceSkewSeconds: fc.integer({ min: -100, max: 100 }),
    maxAttempts: fc.integer({ min: 1, max: 3 }),
    tasks: fc.array(
      fc.record({
        desktops: fc.integer({ min: 1, max: 2 }),
        reason: fc.constantFrom<ReasonKind>('retry', 'retry', 'later', 'giveUp'),
      }),
      { minLength: 1, maxLength: 2 },
    ),
    shapes: fc.array(fc.constantFrom<Shape>(...SHAPES), { minLength: 2, maxLength: 2 }),
    // One script on one desktop in several tasks: its cases are test/model/shared-desktop-cases.test.ts;
    // MODEL_SHARED_DESKTOPS=true explores it
    // (under new-task it finds the window docs/ledger-protocol.md keeps: two holders of one desktop and script dying in
    // the same second).
    sharedDesktops: fc.constant(process.env['MODEL_SHARED_DESKTOPS'] === 'true'),
    // Runs the ledger has not linked yet may fail and be reported too (the pending marker written with each retry claim
    // places them); MODEL_FAIL_UNLINKED=false leaves them out.
    failUnlinkedRuns: fc.constant(process.env['MODEL_FAIL_UNLINKED'] !== 'false'),
    // One or two records at a time: the next records' ledger reads are made ahead and judged at any age; ten: all at
    // once.
    concurrency: fc.constantFrom(1, 2, 10),
  });

/**
 * Desktops that may not be ready, each in one state at the start (ready the most likely); woken or not by the policy.
 */
const desktopsArb = fc.record({
  states: fc.array(
    fc.oneof(
      { weight: 2, arbitrary: fc.constant<DesktopCondition>('ready') },
      fc.constantFrom<DesktopCondition>(...DESKTOP_CONDITIONS),
    ),
    { minLength: 1, maxLength: 4 },
  ),
  wake: fc.boolean(),
  failFirstStart: fc.array(fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, fc.constant(true)), {
    minLength: 1,
    maxLength: 3,
  }),
});

describe.each(READINGS)(
  'the attempt-ledger protocol under a model of queue, ledger and Workspace (retry reading: %s)',
  (reading) => {
    it(`keeps P1-P4 over ${RUNS} random runs (seed ${SEED})`, async () => {
      await checkModel(reading, specArb(reading), {}, SEED);
    }, 3_600_000);

    it(`keeps P1-P6 with desktops that are not ready over ${RUNS} random runs (seed ${DESKTOP_SEED})`, async () => {
      const spec = fc.tuple(specArb(reading), desktopsArb).map(([base, desktops]) => ({ ...base, desktops }));
      await checkModel(reading, spec, { desktops: true }, DESKTOP_SEED);
    }, 3_600_000);
  },
);

async function checkModel(
  reading: RetryReading,
  specs: fc.Arbitrary<WorldSpec & { readonly shapes: readonly Shape[] }>,
  options: { readonly desktops?: boolean },
  seed: number,
): Promise<void> {
  // Prepare
  const label = `model (${reading}${options.desktops ? ', desktops' : ''})`;
  const seedVariable = options.desktops ? 'MODEL_DESKTOP_SEED' : 'MODEL_SEED';
  console.log(
    `${label}: ${RUNS} runs, seed ${seed} (MODEL_READING=${reading} ${seedVariable}=${seed} MODEL_RUNS=${RUNS} replays it)`,
  );
  const stats = newStats();
  const started = performance.now();
  const property = fc.asyncProperty(
    fc.scheduler(),
    specs,
    fc.commands(commandArbs(options), { maxCommands: 30, size: '+1', ...(REPLAY ? { replayPath: REPLAY } : {}) }),
    async (s, spec, commands) => {
      const world = new World(spec, (label) => s.schedule(Promise.resolve(label), label).then(() => undefined));
      current = world;
      // The seeded failures' events: a task event, or one event per record.
      const tasks = new Map<string, string[]>();
      for (const r of world.ws.records.values())
        tasks.set(r.script_task_id, [...(tasks.get(r.script_task_id) ?? []), r.id]);
      [...tasks.values()].forEach((ids, i) =>
        spec.shapes[i] === 'task'
          ? emit(world, ids[0]!, 'task')
          : ids.forEach((id) => emit(world, id, spec.shapes[i]!)),
      );
      const real: Real = { world, waitFor: (p) => s.waitFor(p) };
      // Act
      await fc.asyncModelRun(() => ({ model: {}, real }), commands);
      await drain(world, real.waitFor);
      // Assess
      stats.runs++;
      for (const o of world.outcomes) {
        const desktop = /^(desktop-[a-z-]+):/.exec(o.reason ?? '')?.[1];
        const kind = o.kind === 'retried' ? `retried via ${o.via}` : desktop ? `${o.kind} ${desktop}` : o.kind;
        stats.outcomes[kind] = (stats.outcomes[kind] ?? 0) + 1;
      }
      stats.crashes += world.started.filter((i) => i.dead || i.crash === 'after-settle').length;
      stats.replays += world.replays.length;
      stats.ledgerFaults += world.store.faultsFired;
      stats.applied += [...world.ws.applied.values()].reduce((a, b) => a + b, 0);
      stats.desktopStarts += world.starts.length;
      const violations = allViolations(world);
      if (violations.length > 0) throw new Error(`${violations.join('\n')}\n${story(world)}`);
    },
  );
  await fc.assert(property, { numRuns: RUNS, seed, verbose: 1, ...(PATH ? { path: PATH, endOnFailure: true } : {}) });
  console.log(`${label}: what the runs did: ${JSON.stringify(stats)}`);
  console.log(`${label}: ${RUNS} runs passed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  expect(true).toBe(true);
}
