/**
 * What Workspace's retry answers have shown (docs/workspace-api.md, "What a
 * retry does"). Huawei does not document whether a retry starts a new task,
 * adds a record to the original one, or runs the failed record again in
 * place. An answer naming a task other than the retried run's shows
 * `new-task`: a retry then never re-runs a record in place, and the start of
 * a run it retries need not be looked up. An answer naming the retried run's
 * own task shows `same-task` (a new record in it, or the record in place): a
 * retry's run is then always tied to its chain. Kept per container, and in
 * the ledger per project (lib/ledger/attempt-ledger.ts), so every container
 * knows once any has seen an answer.
 */

/** What a retry's answer showed: a new task, or the retried run's own task. */
export type Reading = 'new-task' | 'same-task';

/** The readings this container has seen; `observe` says when an answer shows one not seen before. */
export class RetryReadings {
  private readonly seen = new Set<Reading>();

  /** Notes one accepted retry's answer; returns the reading it showed if this container had not seen it yet. */
  observe(retriedTask: string | undefined, answeredTask: string): Reading | undefined {
    if (retriedTask === undefined) return undefined;
    const reading: Reading = retriedTask === answeredTask ? 'same-task' : 'new-task';
    if (this.seen.has(reading)) return undefined;
    this.seen.add(reading);
    return reading;
  }

  /** Takes in what the ledger says other containers saw. */
  learn(readings: Iterable<Reading>): void {
    for (const reading of readings) this.seen.add(reading);
  }

  has(reading: Reading): boolean {
    return this.seen.has(reading);
  }

  /** False once an answer named a new task: records are then never run again in place. */
  get mayRunInPlace(): boolean {
    return !this.seen.has('new-task');
  }
}
