/**
 * Ways for a test to steer the TransactWriteItems stand-in without racing it: hold the next transaction (or
 * single-item write) once it has taken its items, and cancel coming transactions with a TransactionConflict
 * as if another writer had held one of their items.
 */

/** A hold on the next transaction or write: `reached` resolves once it holds its items; `resume` lets it go on. */
export interface Pause {
  readonly reached: Promise<void>;
  resume(): void;
}

/** Which coming transactions to cancel with a TransactionConflict. */
export interface ConflictPlan {
  /** How many transactions to cancel. */
  readonly count: number;
  /** How many matching transactions to let through first (default 0). */
  readonly skip?: number;
  /**
   * Which entries conflict, by their item's hash key value; a transaction with no matching entry passes
   * untouched and is not counted. Without it every transaction matches, on its first entry.
   */
  readonly onKey?: (hashKey: string) => boolean;
}

/** The steering a test can give, as the local stack exposes it. */
export interface DynamoTransactionControls {
  /** Holds the next TransactWriteItems after it has taken its items, before it reads or writes them. */
  pauseNextTransaction(): Pause;
  /** Holds the next single-item PutItem, UpdateItem or DeleteItem after it has claimed its item. */
  pauseNextWrite(): Pause;
  /** Cancels the coming transactions `plan` names with TransactionConflict, writing nothing. */
  conflictTransactions(plan: ConflictPlan): void;
  /**
   * The conflicts answered so far: transactions cancelled because another writer held one of their items, single-item
   * writes refused because a transaction held theirs, and transactions cancelled by `conflictTransactions`.
   */
  readonly conflictsAnswered: { readonly transactions: number; readonly writes: number; readonly scheduled: number };
}

interface PendingPause {
  reached(): void;
  resumed: Promise<void>;
}

function newPause(queue: PendingPause[]): Pause {
  let reached!: () => void;
  let resume!: () => void;
  const reachedPromise = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const resumed = new Promise<void>((resolve) => {
    resume = resolve;
  });
  queue.push({ reached, resumed });
  return { reached: reachedPromise, resume };
}

async function holdIfPaused(queue: PendingPause[]): Promise<void> {
  const pause = queue.shift();
  if (!pause) return;
  pause.reached();
  await pause.resumed;
}

/** The hooks' state, which the stand-in consults at the points the hooks name. */
export class TransactionHooks implements DynamoTransactionControls {
  private readonly transactionPauses: PendingPause[] = [];
  private readonly writePauses: PendingPause[] = [];
  private plan: { count: number; skip: number; onKey?: (hashKey: string) => boolean } | undefined;
  readonly conflictsAnswered = { transactions: 0, writes: 0, scheduled: 0 };

  pauseNextTransaction(): Pause {
    return newPause(this.transactionPauses);
  }

  pauseNextWrite(): Pause {
    return newPause(this.writePauses);
  }

  conflictTransactions(plan: ConflictPlan): void {
    this.plan = { count: plan.count, skip: plan.skip ?? 0, onKey: plan.onKey };
  }

  /** Waits while a test holds this transaction. */
  transactionHeld(): Promise<void> {
    return holdIfPaused(this.transactionPauses);
  }

  /** Waits while a test holds this single-item write. */
  writeHeld(): Promise<void> {
    return holdIfPaused(this.writePauses);
  }

  /** The position of the entry a scheduled conflict strikes in a transaction of these hash keys, if any. */
  scheduledConflict(hashKeys: readonly string[]): number | undefined {
    const plan = this.plan;
    if (!plan || plan.count <= 0) return undefined;
    const at = plan.onKey ? hashKeys.findIndex((key) => plan.onKey!(key)) : 0;
    if (at < 0) return undefined;
    if (plan.skip > 0) {
      plan.skip -= 1;
      return undefined;
    }
    plan.count -= 1;
    this.conflictsAnswered.scheduled += 1;
    return at;
  }
}
