/**
 * Items cut into consecutive batches, in order, each holding at most
 * `maxCount` items and at most `maxSize` of their summed `sizeOf`. An item
 * larger than `maxSize` on its own goes alone, for the receiver to judge.
 */
export function inBatches<T>(
  items: Iterable<T>,
  maxCount: number,
  maxSize: number,
  sizeOf: (item: T) => number,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const itemSize = sizeOf(item);
    if (current.length > 0 && (current.length >= maxCount || size + itemSize > maxSize)) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += itemSize;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
