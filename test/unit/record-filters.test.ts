import { describe, expect, it } from 'vitest';
import { inListOrder } from '../../local/record-filters.js';

/** The simulator's list orders (local/record-filters.ts): Workspace documents none, so the sweep is tested in each. */

const records = [
  { id: 'b', start_time: '2026-11-29T10:00:02Z' },
  { id: 'c', start_time: '2026-11-29T10:00:01Z' },
  { id: 'a', start_time: '2026-11-29T10:00:03Z' },
  { id: 'd', start_time: '2026-11-29 10:00:01' },
];

describe('the order the list call pages in', () => {
  it.each([
    ['created', ['b', 'c', 'a', 'd']],
    ['oldest-first', ['c', 'd', 'b', 'a']],
    ['newest-first', ['a', 'b', 'c', 'd']],
    ['by-id', ['a', 'b', 'c', 'd']],
  ] as const)('%s', (order, ids) => {
    expect(inListOrder(records, order).map((r) => r.id)).toEqual(ids);
  });

  it('leaves the records it was given as they were', () => {
    inListOrder(records, 'by-id');
    expect(records.map((r) => r.id)).toEqual(['b', 'c', 'a', 'd']);
  });
});
