import { describe, expect, it } from 'vitest';
import { inBatches } from '../../lib/platform/batches.js';

/**
 * Cutting items into batches (lib/platform/batches.ts), the rule both the
 * SendMessageBatch calls and the desktop list queries rely on: in order, at
 * most `maxCount` items and at most `maxSize` of summed size a batch, an item
 * too large on its own alone. Items here are their own size.
 */
const bySize = (items: number[], maxCount: number, maxSize: number) =>
  inBatches(items, maxCount, maxSize, (size) => size);

describe('cutting items into batches', () => {
  it('makes no batch, not an empty one, of no items', () => {
    // Act
    const batches = bySize([], 10, 100);

    // Assess
    expect(batches).toEqual([]);
  });

  it('keeps items of exactly the size limit together, and starts a new batch at the first that would pass it', () => {
    // Act
    const batches = bySize([40, 60, 1, 99, 1], 10, 100);

    // Assess
    expect(batches).toEqual([[40, 60], [1, 99], [1]]);
  });

  it('counts each batch from zero: what went into the one before takes no room in the next', () => {
    // Act
    const batches = bySize([70, 50, 50, 30, 20], 10, 100);

    // Assess
    expect(batches).toEqual([[70], [50, 50], [30, 20]]);
  });

  it('holds exactly maxCount items a batch, never more', () => {
    // Act
    const batches = bySize([1, 1, 1, 1, 1, 1, 1], 3, 100);

    // Assess
    expect(batches).toEqual([[1, 1, 1], [1, 1, 1], [1]]);
  });

  it('sends an item larger than the limit alone, first or later, without an empty batch before it', () => {
    // Act
    const first = bySize([500, 10], 10, 100);
    const later = bySize([10, 500, 10], 10, 100);

    // Assess
    expect(first).toEqual([[500], [10]]);
    expect(later).toEqual([[10], [500], [10]]);
  });

  it('takes the items from any iterable, in the order it gives them, sizing each once', () => {
    // Prepare
    const sized: string[] = [];
    const sizeOf = (id: string) => {
      sized.push(id);
      return id.length;
    };

    // Act
    const batches = inBatches(new Set(['aa', 'bbb', 'aa', 'c']), 2, 100, sizeOf);

    // Assess
    expect(batches).toEqual([['aa', 'bbb'], ['c']]);
    expect(sized).toEqual(['aa', 'bbb', 'c']);
  });
});
