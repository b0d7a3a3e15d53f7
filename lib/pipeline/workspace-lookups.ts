import type { RunFacts } from '../ledger/chain.js';
import type { SigningCredentials } from '../workspace/signer.js';
import type { WorkspaceClient } from '../workspace/client.js';
import type { ExecutionRecord, ProjectRef } from '../workspace/types.js';

/**
 * The read calls the protocol makes to Workspace (docs/ledger-protocol.md):
 * completing an event that lacks its task, expanding a task-level event into
 * its failed records, and finding whether a retry whose answer was lost
 * landed after all.
 */

export type WorkspaceReader = Pick<WorkspaceClient, 'getRecord' | 'listRecords'>;

/** What an execution record says about its run. */
export function factsOf(projectId: string, record: ExecutionRecord, region?: string): RunFacts {
  const failedAt = record.end_time ? Date.parse(record.end_time) : undefined;
  return {
    projectId,
    recordId: record.id,
    taskId: record.script_task_id,
    resourceId: record.resource_id,
    scriptId: record.script_id,
    region,
    failedAt: Number.isFinite(failedAt) ? failedAt : undefined,
  };
}

/** Record detail: the run's task, desktop and script. */
export async function lookUpRun(workspace: WorkspaceReader, project: ProjectRef, recordId: string, credentials: SigningCredentials): Promise<RunFacts> {
  return factsOf(project.projectId, await workspace.getRecord(project, recordId, credentials), project.region);
}

/** Every failed record of a task, all pages. */
export async function failedRecordsOf(workspace: WorkspaceReader, project: ProjectRef, taskId: string, credentials: SigningCredentials): Promise<ExecutionRecord[]> {
  const records: ExecutionRecord[] = [];
  for await (const record of workspace.listRecords(project, { status: 'FAILED', scriptTaskId: taskId }, credentials)) records.push(record);
  return records;
}

export interface LandedQuery {
  readonly resourceId: string;
  readonly scriptId: string;
  /** The claim's time less the allowed clock skew: runs that started from then on. */
  readonly since: number;
  /** Runs that are not the retry: the chain's own records and tasks. */
  readonly knownRecords: readonly string[];
  readonly knownTasks: readonly string[];
}

/** A run of the same script on the same desktop that started after the claim: the lost retry's run, if any. */
export async function findLandedRun(workspace: WorkspaceReader, project: ProjectRef, query: LandedQuery, credentials: SigningCredentials): Promise<ExecutionRecord | undefined> {
  const runs = workspace.listRecords(project, { resourceIds: [query.resourceId], scriptIds: [query.scriptId], executeTimeStart: new Date(query.since) }, credentials);
  for await (const run of runs) {
    if (query.knownRecords.includes(run.id)) continue;
    if (run.script_task_id === undefined || query.knownTasks.includes(run.script_task_id)) continue;
    return run;
  }
  return undefined;
}
