/** `keyOf`: items with the same key run one after another; `ahead`: told of an item before its turn. */
export interface MapOptions<T> {
  readonly keyOf?: ((item: T) => string | undefined) | undefined;
  readonly ahead?: ((item: T, index: number) => void) | undefined;
}

/**
 * Maps items through an async function with at most `limit` running at once,
 * keeping the order of the results. Items with the same `keyOf` run one after
 * another (copies of one failure in one batch: the second sees what the first
 * did, instead of racing it and waiting out its claim).
 *
 * An item may give its place to the next one before it is done: `free`, the
 * third argument of `fn`, lets the next item start while this one finishes
 * its last steps, and the map still waits for both. Only the last item of a
 * key frees its place early; a copy starts when the one before it is done.
 *
 * `ahead` is told of an item before its turn (the first item of each key,
 * once), so work the item will need can be under way: at least `limit` items
 * ahead, told `limit` at a time, so what they start can go together.
 *
 * Rejects when a call of `fn` rejects.
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number, free: () => void) => Promise<R>,
  options: MapOptions<T> = {},
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const groups = new Map<string, number[]>();
  items.forEach((item, index) => {
    const key = options.keyOf?.(item) ?? `#${index}`;
    groups.set(key, [...(groups.get(key) ?? []), index]);
  });
  const queue = [...groups.values()];
  const width = Math.min(Math.max(1, limit), queue.length);
  let next = 0;
  let told = 0;
  const tellUpTo = (end: number): void => {
    for (; told < Math.min(end, queue.length); told++) options.ahead?.(items[queue[told]![0]!]!, queue[told]![0]!);
  };
  /** Items that gave their place away and are still finishing. */
  const finishing: Array<Promise<void>> = [];
  const worker = async (): Promise<void> => {
    while (next < queue.length) {
      const group = queue[next++]!;
      if (told - next < width) tellUpTo(next + 2 * width);
      for (const [position, index] of group.entries()) {
        const last = position === group.length - 1;
        let freed: () => void = () => undefined;
        const free = last ? new Promise<void>((resolve) => (freed = resolve)) : undefined;
        const done = fn(items[index]!, index, freed).then((result) => {
          results[index] = result;
        });
        if (!free) {
          await done;
          continue;
        }
        // (The race handles `done`: a rejection while later items run is not unhandled; it fails the map below.)
        await Promise.race([done, free]);
        finishing.push(done);
      }
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  await Promise.all(finishing);
  return results;
}

/** One of a Places' places, held until released; a second release does nothing. */
export interface Place {
  release(): void;
}

/**
 * `size` places, taken first come, first served. The runner holds the
 * Workspace calls of an invocation to MAX_CONCURRENCY with them while more
 * failures than that are under way (lib/pipeline/runner.ts, "claims made
 * ahead"): a failure waits here for its call, never for its ledger work.
 */
export class Places {
  private free: number;
  private readonly waiting: Array<(place: Place) => void> = [];

  constructor(size: number) {
    this.free = Math.max(1, size);
  }

  /** A place now, or once one is released to this taker (in the order they asked). */
  take(): Promise<Place> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(this.held());
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** How many are waiting for a place. */
  get waiters(): number {
    return this.waiting.length;
  }

  private held(): Place {
    let holding = true;
    return {
      release: () => {
        if (!holding) return;
        holding = false;
        const next = this.waiting.shift();
        if (next) next(this.held());
        else this.free++;
      },
    };
  }
}
