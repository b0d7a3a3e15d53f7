import { describe, expect, it } from 'vitest';
import { failedSlices, isAfter, PAGE_OVERLAP, type PageReader, positionOf } from '../../lib/ways-in/sweep-slices.js';
import type { ExecutionRecord } from '../../lib/workspace/types.js';
import { seededRandom } from '../helpers/random.js';

/**
 * The sweep's walk of a window (lib/ways-in/sweep-slices.ts) against an
 * in-memory listing that pages in a given order, with time bounds read
 * inclusively or not: Workspace documents neither.
 */

const T0 = Date.UTC(2026, 10, 29, 10, 0, 0);
const time = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;

interface Listing {
  readonly records: ExecutionRecord[];
  readonly inclusive: boolean;
  readonly order: (a: ExecutionRecord, b: ExecutionRecord) => number;
  reads: number;
}

function reader(listing: Listing, beforeRead?: (offset: number) => void): PageReader {
  return async (fromMs, toMs, offset, limit) => {
    beforeRead?.(offset);
    listing.reads++;
    const within = (at: number) => (listing.inclusive ? at >= fromMs && at <= toMs : at > fromMs && at < toMs);
    return listing.records
      .filter((r) => within(positionOf(r).at))
      .sort(listing.order)
      .slice(offset, offset + limit);
  };
}

async function walk(read: PageReader, fromMs: number, toMs: number): Promise<ExecutionRecord[]> {
  const seen: ExecutionRecord[] = [];
  for await (const slice of failedSlices(read, fromMs, toMs)) seen.push(...slice.records);
  return seen;
}

function records(random: () => number, scattered: number, crowded: number): ExecutionRecord[] {
  const id = () => Math.floor(random() * 2 ** 40).toString(36);
  return [
    ...Array.from({ length: scattered }, () => ({
      id: id(),
      start_time: time(T0 + Math.floor(random() * 3600) * 1000),
      status: 'FAILED',
    })),
    ...Array.from({ length: crowded }, () => ({ id: id(), start_time: time(T0 + 1800_000), status: 'FAILED' })),
  ];
}

const ORDERS = {
  created: () => 0,
  'oldest first': (a: ExecutionRecord, b: ExecutionRecord) => positionOf(a).at - positionOf(b).at,
  'newest first': (a: ExecutionRecord, b: ExecutionRecord) => positionOf(b).at - positionOf(a).at,
  'by id': (a: ExecutionRecord, b: ExecutionRecord) => (a.id < b.id ? -1 : 1),
};

describe('walking a window a slice at a time', () => {
  const cases = [0, 1, 99, 100, 101, 250].flatMap((scattered) =>
    [0, 230].map((crowded) => [scattered, crowded] as const),
  );

  describe.each(Object.entries(ORDERS))('with the listing paging %s', (_name, order) => {
    it.each(cases)(
      'reads %i scattered and %i crowded records each once, in start-time-then-id order, whether the bounds are inclusive or not',
      async (scattered, crowded) => {
        for (const inclusive of [true, false]) {
          // Prepare
          const listing: Listing = {
            records: records(seededRandom(scattered * 1000 + crowded), scattered, crowded),
            inclusive,
            order,
            reads: 0,
          };

          // Act
          const seen = await walk(reader(listing), T0, T0 + 3599_000);

          // Assess
          const expected = [...listing.records].sort(
            (a, b) => positionOf(a).at - positionOf(b).at || (a.id < b.id ? -1 : 1),
          );
          expect(seen.map((r) => r.id)).toEqual(expected.map((r) => r.id));
        }
      },
    );
  });

  it('reads a window whose records fit in a page in one request', async () => {
    const listing: Listing = {
      records: records(seededRandom(1), 60, 0),
      inclusive: true,
      order: ORDERS.created,
      reads: 0,
    };

    await walk(reader(listing), T0, T0 + 3599_000);

    expect(listing.reads).toBe(1);
  });

  it(`misses nothing of a crowded second when up to ${PAGE_OVERLAP} of the records read leave the listing before the next page is read`, async () => {
    // Prepare: 230 runs of one task in one second; before each later page, another client re-runs the first records
    // listed.
    const listing: Listing = {
      records: records(seededRandom(2), 0, 230),
      inclusive: true,
      order: ORDERS['by id'],
      reads: 0,
    };
    const stillFailed = new Set(listing.records.map((r) => r.id));
    const leave = (offset: number) => {
      if (offset === 0) return;
      const gone = listing.records.splice(0, PAGE_OVERLAP);
      for (const r of gone) stillFailed.delete(r.id);
    };
    listing.records.sort(ORDERS['by id']);
    const listed = new Set(listing.records.map((r) => r.id));

    // Act
    const seen = new Set((await walk(reader(listing, leave), T0 + 1800_000, T0 + 1800_000)).map((r) => r.id));

    // Assess: every record still failed when the walk ended was read; what was read was listed.
    expect([...stillFailed].filter((id) => !seen.has(id))).toEqual([]);
    expect([...seen].every((id) => listed.has(id))).toBe(true);
  });

  it('orders positions by start time, then id', () => {
    const cursor = positionOf({ id: 'm', start_time: time(T0) });
    expect(isAfter({ id: 'a', start_time: time(T0 + 1000) }, cursor)).toBe(true);
    expect(isAfter({ id: 'n', start_time: time(T0) }, cursor)).toBe(true);
    expect(isAfter({ id: 'm', start_time: time(T0) }, cursor)).toBe(false);
    expect(isAfter({ id: 'z', start_time: time(T0 - 1000) }, cursor)).toBe(false);
    expect(isAfter({ id: 'z', start_time: time(T0 - 1000) }, undefined)).toBe(true);
  });
});
