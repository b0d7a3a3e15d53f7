/**
 * Every retry the simulated Workspace applied, in order, including those whose
 * answer a fault lost afterwards: the evidence a test uses to prove that no
 * script ran twice (docs/workspace-api.md, "What a retry does").
 */

export interface RetryTargetIds {
  readonly recordId?: string;
  readonly taskId?: string;
}

/**
 * One execution a retry started again: the record it re-ran and the record of
 * the new run (the same record when it runs again in place), and both runs'
 * keys (`<record id>#<run number>`).
 */
export interface Rerun {
  readonly originalId: string;
  readonly newRecordId: string;
  readonly originalRun: string;
  readonly newRun: string;
  readonly scriptId?: string | undefined;
  readonly resourceId?: string | undefined;
  /**
   * Why the desktop could not run the script when the retry came (its run failed at once): an attempt spent for
   * nothing.
   */
  readonly desktopRefused?: string | undefined;
}

/** One applied retry, as Workspace did it (whether or not its answer reached the caller). */
export interface AppliedRetry {
  readonly projectId: string;
  readonly target: RetryTargetIds;
  readonly newTaskId: string;
  readonly reruns: readonly Rerun[];
  readonly at: Date;
  readonly ak?: string | undefined;
  /** True when a fault lost the answer after the retry was applied. */
  readonly answerLost: boolean;
  /** The fault that lost it. */
  readonly lostBy?: string | undefined;
}

export class RetryLog {
  /** Applied retries, oldest first. */
  readonly entries: AppliedRetry[] = [];

  add(entry: AppliedRetry): void {
    this.entries.push(entry);
  }

  /** Applied retries that named this record or task id. */
  retryCount(id: string): number {
    return this.entries.filter((r) => r.target.recordId === id || r.target.taskId === id).length;
  }

  /** Applied retries that ran this record's execution again (by record, or as a failed record of a retried task). */
  rerunsOf(recordId: string): number {
    return this.entries.filter((r) => r.reruns.some((rerun) => rerun.originalId === recordId)).length;
  }

  /** Applied retries that ran this run again: more than one means a failed run was retried twice. */
  rerunsOfRun(runKey: string): number {
    return this.entries.filter((r) => r.reruns.some((rerun) => rerun.originalRun === runKey)).length;
  }

  /** Every run our retries started, and the run each one re-ran: the true lineage of every run. */
  parents(): Map<string, string> {
    return new Map(this.entries.flatMap((r) => r.reruns.map((rerun) => [rerun.newRun, rerun.originalRun] as const)));
  }

  /** Runs our retries started on a desktop that could not run the script then. */
  onUnreadyDesktops(): Rerun[] {
    return this.entries.flatMap((r) => r.reruns.filter((rerun) => rerun.desktopRefused !== undefined));
  }

  /** Applied retries whose answer a fault lost. */
  lost(): AppliedRetry[] {
    return this.entries.filter((r) => r.answerLost);
  }

  clear(): void {
    this.entries.length = 0;
  }
}
