/** Shapes of Huawei Cloud Workspace's script-execution API (docs/workspace-api.md, "Calls"). */

/** An execution record as the list and detail calls return it. */
export interface ExecutionRecord {
  readonly id: string;
  readonly script_id?: string;
  readonly script_name?: string;
  readonly script_task_id?: string;
  readonly resource_id?: string;
  readonly resource_name?: string;
  readonly resource_type?: string;
  readonly start_time?: string;
  readonly end_time?: string;
  /** An open string: SUCCESS, FAILED, RUNNING, WAITING, FINISH, INIT, … */
  readonly status?: string;
  readonly execute_order?: number;
  readonly result_code?: string;
  readonly reason?: string;
  readonly output?: string;
}

/** Which project, and in which region; the region picks the endpoint from configuration. */
export interface ProjectRef {
  readonly projectId: string;
  readonly region?: string | undefined;
}

/** The retry API takes a record id or a task id (plain strings, as the SDKs send them). */
export type RetryTarget =
  | { readonly recordId: string; readonly taskId?: undefined }
  | { readonly taskId: string; readonly recordId?: undefined };

/** Filters of GET /v2/{project_id}/script-execution-records. */
export interface RecordFilters {
  readonly status?: string;
  readonly scriptTaskId?: string;
  readonly scriptIds?: readonly string[];
  readonly resourceIds?: readonly string[];
  readonly taskType?: 'SCRIPT' | 'COMMAND';
  /** Inclusive window on execute time. */
  readonly executeTimeStart?: Date;
  readonly executeTimeEnd?: Date;
  /** Also runs a later run superseded (`show_history`): needs exactly one desktop and one script. */
  readonly showHistory?: boolean;
  /** Page size, 1–100 (default 100). */
  readonly pageSize?: number;
  /** Start this many records into the listing (resuming a walk). */
  readonly offset?: number;
}

/** The answer of a successful retry. */
export interface RetryAccepted {
  readonly taskId: string;
  readonly requestId?: string | undefined;
}
