/**
 * What Workspace's retry answers have shown in this container
 * (docs/workspace-api.md, "What a retry does"). Huawei does not document
 * whether a retry starts a new task, adds a record to the original one, or
 * runs the failed record again in place; one answer naming a task other than
 * the retried run's rules the last out for good: a retry then never re-runs a
 * record in place, and the start of a run it retries need not be looked up.
 */
export class RetryReadings {
  private newTaskSeen = false;

  /** Notes one accepted retry: the task of the run it retried and the task its answer named. */
  observe(retriedTask: string | undefined, answeredTask: string): void {
    if (retriedTask !== undefined && retriedTask !== answeredTask) this.newTaskSeen = true;
  }

  /** False once an answer named a new task: records are then never run again in place. */
  get mayRunInPlace(): boolean {
    return !this.newTaskSeen;
  }
}
