/**
 * Every retry the simulated Workspace applied, in order, including those whose
 * answer a fault lost afterwards: the evidence a test uses to prove that no
 * script ran twice (docs/workspace-api.md, "What a retry does").
 */

export interface RetryTargetIds {
  readonly recordId?: string;
  readonly taskId?: string;
}

/** One execution a retry started again: the record it re-ran and the record of the new run. */
export interface Rerun {
  readonly originalId: string;
  readonly newRecordId: string;
  readonly scriptId?: string | undefined;
  readonly resourceId?: string | undefined;
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

  /** Applied retries whose answer a fault lost. */
  lost(): AppliedRetry[] {
    return this.entries.filter((r) => r.answerLost);
  }

  clear(): void {
    this.entries.length = 0;
  }
}
