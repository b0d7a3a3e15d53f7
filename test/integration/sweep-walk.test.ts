import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProjectSummary } from '../../lib/ways-in/sweep.js';
import type { ExecutionRecord } from '../../lib/workspace/types.js';
import { lambdaContext } from '../../local/poller.js';
import { type ListOrder, parseRecordQuery } from '../../local/record-filters.js';
import type { SimulatorRoute } from '../../local/simulator-faults.js';
import type { WorkspaceState } from '../../local/workspace-state.js';
import { failedRecord } from '../helpers/factories.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { seededRandom } from '../helpers/random.js';

/**
 * The sweep never skips a failed record, whatever order Workspace's list call
 * pages in, while records leave the FAILED listing under it, and when it is
 * cut short by its time budget and resumed (lib/ways-in/sweep-slices.ts).
 * Played over HTTP against the simulator.
 */

type Sweep = (event: unknown, context: Context) => Promise<{ projects: ProjectSummary[] }>;

const PROJECT = 'abcdef0123456789abcdef0123456789';
const ORDERS: readonly ListOrder[] = ['created', 'oldest-first', 'newest-first', 'by-id'];
const at = (minutesAgo: number, secondsMore = 0) =>
  `${new Date(Date.now() - minutesAgo * 60_000 + secondsMore * 1000).toISOString().slice(0, 19)}Z`;

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/**
 * Re-runs a record in place, as a retry may (same id and task, a new start time, RUNNING): it leaves the FAILED
 * listing.
 */
function rerunInPlace(state: WorkspaceState, record: ExecutionRecord): void {
  state.seedRecords(PROJECT, [{ ...record, status: 'RUNNING', start_time: at(0), end_time: undefined }]);
}

/**
 * Before each list call: every record the sweep retried so far runs again in
 * place; at the third list call another client re-runs the `others`; and at
 * the first call for a later page of each listing, another client re-runs
 * the first ten records that listing holds, so the rest shift back by ten.
 */
function churn(others: readonly ExecutionRecord[], rerunByOthers: Set<string>) {
  const shifted = new Set<string>();
  return (
    { route, routeCall, query }: { route: SimulatorRoute; routeCall: number; query: URLSearchParams },
    state: WorkspaceState,
  ) => {
    if (route !== 'list-records') return;
    for (const retry of state.log.entries) {
      const record = retry.target.recordId === undefined ? undefined : state.record(PROJECT, retry.target.recordId);
      if (record?.status === 'FAILED') rerunInPlace(state, record);
    }
    if (routeCall === 3) for (const record of others) rerunInPlace(state, record);
    const listing = `${query.get('execute_time_start')}..${query.get('execute_time_end')}`;
    if (Number(query.get('offset')) > 0 && !shifted.has(listing)) {
      shifted.add(listing);
      const parsed = parseRecordQuery(query);
      if (!parsed.ok) throw new Error(parsed.message);
      for (const record of state.listRecords(PROJECT, { ...parsed.query, offset: 0, limit: 10 }).script_records) {
        rerunByOthers.add(record.id);
        rerunInPlace(state, record);
      }
    }
  };
}

/**
 * 180 failed records in the last hour: 20 at scattered seconds, 120 in one second (a task on 120 desktops), 40 more
 * scattered; ids in no time order.
 */
function failedRecords(random: () => number) {
  const id = () =>
    Math.floor(random() * 2 ** 48)
      .toString(16)
      .padStart(12, '0');
  const before = Array.from({ length: 20 }, (_, i) => failedRecord({ id: `b${id()}`, start_time: at(50, i * 60) }));
  const crowded = Array.from({ length: 120 }, () =>
    failedRecord({ id: `c${id()}`, script_task_id: 'fanout', start_time: at(30) }),
  );
  const after = Array.from({ length: 40 }, (_, i) => failedRecord({ id: `a${id()}`, start_time: at(29, i * 30) }));
  const others = Array.from({ length: 5 }, (_, i) => failedRecord({ id: `o${id()}`, start_time: at(2, i) }));
  const succeeded = Array.from({ length: 5 }, (_, i) =>
    failedRecord({ id: `k${id()}`, status: 'SUCCESS', start_time: at(20, i) }),
  );
  return { ours: [...before, ...crowded, ...after], after, others, succeeded };
}

/** Created in no particular order, so `created` is neither time nor id order. */
function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

describe.each(ORDERS)('the sweep, with the list paging %s', (listOrder) => {
  it('retries every failed record exactly once while retried records leave the listing, across a cut-short and a resumed run', async () => {
    // Prepare
    const random = seededRandom(7);
    const { ours, after, others, succeeded } = failedRecords(random);
    const rerunByOthers = new Set<string>();
    h = await startHarness({ simulator: { listOrder, onRequest: churn(others, rerunByOthers) } });
    h.stack.simulator.seedRecords(PROJECT, shuffle([...ours, ...others, ...succeeded], random));
    const sweep = await h.loadHandler<Sweep>('schedule', {
      SWEEP_PROJECTS: JSON.stringify([{ project_id: PROJECT }]),
      MAX_CONCURRENCY: '10',
      SWEEP_SAFETY_SECONDS: '10',
    });
    // The time budget runs short once the walk is past the crowded second.
    const past = () => after.some((r) => h!.stack.simulator.retryCount(r.id) > 0);
    const short = {
      ...lambdaContext('sweepOnSchedule', 300_000),
      getRemainingTimeInMillis: () => (past() ? 5_000 : 60_000),
    };

    // Act
    const cut = await sweep({}, short);
    const resumed = await sweep({}, lambdaContext('sweepOnSchedule', 300_000));

    // Assess: nothing skipped, nothing twice. What another client re-ran is no longer a failure: retried once if the
    // sweep
    // had read it before, else left alone; what succeeded is left alone.
    const first = cut.projects[0]!;
    const ourRetries = (records: readonly ExecutionRecord[]) =>
      records.map((r) => [r.id, h!.stack.simulator.retryCount(r.id)] as const);
    expect(ourRetries(ours.filter((r) => !rerunByOthers.has(r.id))).filter(([, n]) => n !== 1)).toEqual([]);
    expect(ourRetries(ours.filter((r) => rerunByOthers.has(r.id))).filter(([, n]) => n > 1)).toEqual([]);
    expect(rerunByOthers.size).toBeGreaterThanOrEqual(20);
    expect(ourRetries([...others, ...succeeded]).filter(([, n]) => n !== 0)).toEqual([]);
    expect(first).toMatchObject({ complete: false, 'dead-lettered': 0 });
    expect(first.retried).toBeGreaterThan(0);
    expect(resumed.projects[0]).toMatchObject({ complete: true, duplicate: 0, 'dead-lettered': 0 });
    expect(first.retried + resumed.projects[0]!.retried).toBe(ourRetries(ours).reduce((sum, [, n]) => sum + n, 0));
  });
});
