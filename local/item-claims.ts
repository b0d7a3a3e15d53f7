/**
 * Which items are busy, for the conflicts DynamoDB reports around transactions: an item a transaction holds
 * (from taking its items until its writes are applied) refuses single-item writes and other transactions; an
 * item with a single-item write in progress refuses transactions. Writes to one item do not refuse each other
 * (dynalite serialises them). Keys are opaque strings naming an item across tables.
 */

/** A claim on items, given back once the work that took it is done. */
export interface Claim {
  release(): void;
}

/** The items held by transactions and by single-item writes in progress. */
export class ItemClaims {
  private readonly heldByTransactions = new Set<string>();
  private readonly writesInProgress = new Map<string, number>();

  /** Takes every key for a transaction, or none: then the positions of the keys that are busy. */
  claimForTransaction(keys: readonly string[]): { claim: Claim } | { busy: number[] } {
    const busy = keys.flatMap((key, i) => (this.isBusy(key) ? [i] : []));
    if (busy.length > 0) return { busy };
    for (const key of keys) this.heldByTransactions.add(key);
    let released = false;
    return {
      claim: {
        release: () => {
          if (released) return;
          released = true;
          for (const key of keys) this.heldByTransactions.delete(key);
        },
      },
    };
  }

  /** Marks a single-item write of `key` in progress, or answers undefined while a transaction holds the item. */
  claimForWrite(key: string): Claim | undefined {
    if (this.heldByTransactions.has(key)) return undefined;
    this.writesInProgress.set(key, (this.writesInProgress.get(key) ?? 0) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.writesInProgress.get(key) ?? 1) - 1;
        if (left > 0) this.writesInProgress.set(key, left);
        else this.writesInProgress.delete(key);
      },
    };
  }

  private isBusy(key: string): boolean {
    return this.heldByTransactions.has(key) || this.writesInProgress.has(key);
  }
}
