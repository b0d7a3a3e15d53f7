/**
 * The failed records of a sweep window, one slice of time at a time, each
 * slice read whole just before it is handled (docs/workspace-api.md,
 * "Walking the failed records"). Workspace documents no order for the list
 * call, and records leave the FAILED listing while it is walked (a retry that
 * re-runs a record in place changes its status and start time), so paging a
 * window by offset skips records. A slice that fits in one page is read in
 * one request, so neither the order nor a record leaving can skip one. A
 * crowded slice is split in two by start time; a single second holding more
 * than a page is read in overlapping pages.
 */

import { parseWorkspaceTime } from '../events/workspace-time.js';
import type { ExecutionRecord } from '../workspace/types.js';

/**
 * Reads up to `limit` records whose start time is in [fromMs, toMs] (whole seconds, both ends inclusive), `offset`
 * records in.
 */
export type PageReader = (
  fromMs: number,
  toMs: number,
  offset: number,
  limit: number,
) => Promise<readonly ExecutionRecord[]>;

/** The page size: the most the list call gives. */
export const PAGE_SIZE = 100;
/**
 * Pages of one crowded second start this many records before the last one ended: that many may leave between two reads
 * without one being skipped.
 */
export const PAGE_OVERLAP = 20;

/** A record's place in the sweep's own order: its start time, then its id. */
export interface SweepPosition {
  readonly at: number;
  readonly id: string;
}

/** One slice of the window, read whole: its bounds and its records. */
export interface Slice {
  readonly fromMs: number;
  readonly toMs: number;
  /** In the sweep's order. */
  readonly records: readonly ExecutionRecord[];
}

/** A record's place in the sweep's order: its start time (0 when it has none), then its id. */
export function positionOf(record: ExecutionRecord): SweepPosition {
  return { at: parseWorkspaceTime(record.start_time ?? '') ?? 0, id: record.id };
}

/** Whether `record` comes after `cursor` in the sweep's order (everything does when there is no cursor). */
export function isAfter(record: ExecutionRecord, cursor: SweepPosition | undefined): boolean {
  if (cursor === undefined) return true;
  const { at, id } = positionOf(record);
  return at > cursor.at || (at === cursor.at && id > cursor.id);
}

const SECOND = 1000;
const runKey = (record: ExecutionRecord) => `${record.id}@${record.start_time ?? ''}`;

function inSweepOrder(records: readonly ExecutionRecord[]): ExecutionRecord[] {
  const ordered = records.map((record) => ({ record, ...positionOf(record) }));
  ordered.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return ordered.map(({ record }) => record);
}

/**
 * The slices of [fromMs, toMs] (whole seconds), earliest first. Each read asks
 * for a second more on either side and keeps the records of its slice, so the
 * answer does not hang on whether Workspace's time bounds are inclusive.
 */
export async function* failedSlices(read: PageReader, fromMs: number, toMs: number): AsyncGenerator<Slice> {
  const inSlice = (record: ExecutionRecord) => {
    const at = positionOf(record).at;
    return at >= fromMs && at < toMs + SECOND;
  };
  const first = await read(fromMs - SECOND, toMs + SECOND, 0, PAGE_SIZE);
  if (first.length < PAGE_SIZE) {
    yield { fromMs, toMs, records: inSweepOrder(first.filter(inSlice)) };
  } else if (toMs - fromMs < SECOND) {
    yield {
      fromMs,
      toMs,
      records: inSweepOrder((await readEveryPage(read, fromMs - SECOND, toMs + SECOND, first)).filter(inSlice)),
    };
  } else {
    const mid = fromMs + Math.floor((toMs - fromMs) / 2 / SECOND) * SECOND;
    yield* failedSlices(read, fromMs, mid);
    yield* failedSlices(read, mid + SECOND, toMs);
  }
}

/** Every record of a crowded second, in pages that overlap by PAGE_OVERLAP, each record once. */
async function readEveryPage(
  read: PageReader,
  fromMs: number,
  toMs: number,
  first: readonly ExecutionRecord[],
): Promise<ExecutionRecord[]> {
  const seen = new Map(first.map((record) => [runKey(record), record]));
  for (let offset = PAGE_SIZE - PAGE_OVERLAP; ; offset += PAGE_SIZE - PAGE_OVERLAP) {
    const page = await read(fromMs, toMs, offset, PAGE_SIZE);
    const before = seen.size;
    for (const record of page) seen.set(runKey(record), record);
    // A short page is the end; a page with nothing new means the listing is not moving on (it ignores the offset).
    if (page.length < PAGE_SIZE || seen.size === before) return [...seen.values()];
  }
}
