/**
 * Maps items through an async function with at most `limit` running at once,
 * keeping the order of the results. Items with the same `keyOf` run one after
 * another (copies of one failure in one batch: the second sees what the first
 * did, instead of racing it and waiting out its claim).
 */
export async function mapWithConcurrency<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>, keyOf?: (item: T) => string | undefined): Promise<R[]> {
  const results = new Array<R>(items.length);
  const groups = new Map<string, number[]>();
  items.forEach((item, index) => {
    const key = keyOf?.(item) ?? `#${index}`;
    groups.set(key, [...(groups.get(key) ?? []), index]);
  });
  const queue = [...groups.values()];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < queue.length) {
      for (const index of queue[next++]!) results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), queue.length) }, worker));
  return results;
}
