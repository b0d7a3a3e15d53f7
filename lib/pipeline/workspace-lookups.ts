/**
 * The read calls the protocol makes to Workspace (docs/ledger-protocol.md):
 * completing an event that lacks its task, desktop, script or start,
 * expanding a task-level event into its failed records, and listing the runs
 * of a script on a desktop to find whether a retry whose answer was lost
 * landed after all.
 */

import { runStateOf } from '../events/run-status.js';
import { parseWorkspaceTime } from '../events/workspace-time.js';
import type { RunFacts } from '../ledger/chain.js';
import type { RecordNow } from '../ledger/locate.js';
import type { WorkspaceClient } from '../workspace/client.js';
import type { SigningCredentials } from '../workspace/signer.js';
import type { ExecutionRecord, ProjectRef } from '../workspace/types.js';

/** The two read calls of the Workspace client that the lookups use. */
export type WorkspaceReader = Pick<WorkspaceClient, 'getRecord' | 'listRecords'>;

/** What an execution record says about its run. */
export function factsOf(projectId: string, record: ExecutionRecord, region?: string): RunFacts {
  return {
    projectId,
    recordId: record.id,
    taskId: record.script_task_id,
    resourceId: record.resource_id,
    scriptId: record.script_id,
    region,
    failedAt: timeOf(record.end_time),
    startedAt: timeOf(record.start_time),
    endedAt: timeOf(record.end_time),
  };
}

function timeOf(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseWorkspaceTime(text);
}

/**
 * Whether a record's status says its run failed (lib/events/run-status.ts; no status is taken as the event's word:
 * failed).
 */
export function runFailed(record: Pick<ExecutionRecord, 'status'>): boolean {
  return runStateOf(record.status) === 'failed';
}

/** Record detail: the record's current run, its task, desktop, script and start, and whether it failed. */
export async function lookUpRun(
  workspace: WorkspaceReader,
  project: ProjectRef,
  recordId: string,
  credentials: SigningCredentials,
): Promise<RecordNow> {
  const record = await workspace.getRecord(project, recordId, credentials);
  return { ...factsOf(project.projectId, record, project.region), failed: runFailed(record) };
}

/** Every failed record of a task, all pages. */
export async function failedRecordsOf(
  workspace: WorkspaceReader,
  project: ProjectRef,
  taskId: string,
  credentials: SigningCredentials,
): Promise<ExecutionRecord[]> {
  const records: ExecutionRecord[] = [];
  for await (const record of workspace.listRecords(project, { status: 'FAILED', scriptTaskId: taskId }, credentials))
    records.push(record);
  return records;
}

/** Whether the task has any execution record Workspace lists (of any status). */
export async function hasRecords(
  workspace: WorkspaceReader,
  project: ProjectRef,
  taskId: string,
  credentials: SigningCredentials,
): Promise<boolean> {
  for await (const _record of workspace.listRecords(project, { scriptTaskId: taskId, pageSize: 1 }, credentials))
    return true;
  return false;
}

/** Which runs to list: a script's on a desktop, since a time. */
export interface RunsQuery {
  readonly resourceId: string;
  readonly scriptId: string;
  /** Runs that started from then on (Workspace's clock). */
  readonly since: number;
}

/** Every run of the script on the desktop that started since `since`, superseded runs included (`show_history`). */
export async function runsSince(
  workspace: WorkspaceReader,
  project: ProjectRef,
  query: RunsQuery,
  credentials: SigningCredentials,
): Promise<RunFacts[]> {
  const runs: RunFacts[] = [];
  const filters = {
    resourceIds: [query.resourceId],
    scriptIds: [query.scriptId],
    executeTimeStart: new Date(query.since),
    showHistory: true,
  };
  for await (const record of workspace.listRecords(project, filters, credentials))
    runs.push(factsOf(project.projectId, record, project.region));
  return runs;
}
