/** The one shape every way in produces: "a Workspace script execution failed". */
export interface ScriptFailure {
  readonly projectId: string;
  /** Picks the endpoint through configuration; absent means WORKSPACE_REGION. */
  readonly region?: string | undefined;
  /** The execution record that failed (one desktop), when known. */
  readonly recordId?: string | undefined;
  /** The script execution task, when known. */
  readonly taskId?: string | undefined;
  readonly status?: string | undefined;
  readonly resultCode?: string | undefined;
  readonly reason?: string | undefined;
  readonly scriptId?: string | undefined;
  readonly resourceId?: string | undefined;
  /** When the execution failed (epoch ms), when the event says. */
  readonly failedAt?: number | undefined;
  /**
   * When the run started (Workspace's `start_time`, epoch ms), when the event says: with the record, the run's
   * identity.
   */
  readonly startedAt?: number | undefined;
  /** When the run ended (Workspace's `end_time`, epoch ms), when the event carries Workspace's record. */
  readonly endedAt?: number | undefined;
  /** The event's own id, when it has one (duplicate deliveries share it). */
  readonly eventId?: string | undefined;
  /** Which shape it arrived in, e.g. `sns>record`. */
  readonly shape: string;
}

/**
 * What identifies a failure across every way in: project plus record id
 * (one desktop's run), else project plus task id.
 */
export function failureKey(failure: Pick<ScriptFailure, 'projectId' | 'recordId' | 'taskId'>): string {
  return failure.recordId !== undefined
    ? `${failure.projectId}#record#${failure.recordId}`
    : `${failure.projectId}#task#${failure.taskId}`;
}

/** What the retry API is called with: the record when known (one desktop), else the task. */
export function retryTargetOf(failure: ScriptFailure): { recordId: string } | { taskId: string } {
  return failure.recordId !== undefined ? { recordId: failure.recordId } : { taskId: failure.taskId! };
}

/** A short human label: `project/record r1` or `project/task t1`. */
export function describeFailure(failure: Pick<ScriptFailure, 'projectId' | 'recordId' | 'taskId'>): string {
  return failure.recordId !== undefined
    ? `${failure.projectId}/record ${failure.recordId}`
    : `${failure.projectId}/task ${failure.taskId}`;
}
