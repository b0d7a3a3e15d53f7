/**
 * `npm run ops -- reading <project_id> <record_id> --confirm-retry`: settles,
 * on a real account, what Workspace's retry does (docs/workspace-api.md,
 * "What a retry does"), which Huawei documents only as "Script execution task
 * ID". It retries the one failed record the operator chose, then compares
 * the answer's task id with the record's, and lists the record's desktop and
 * script with and without `show_history`, before and after. Without
 * `--confirm-retry` it only shows the record and the listings.
 */

import { runStateOf } from '../lib/events/run-status.js';
import type { WorkspaceClient } from '../lib/workspace/client.js';
import type { SigningCredentials } from '../lib/workspace/signer.js';
import type { ExecutionRecord, ProjectRef } from '../lib/workspace/types.js';
import { OpsError } from './ops-error.js';

/** The three readings of docs/workspace-api.md, or none the evidence shows. */
export type Verdict = 'new-task' | 'original-task' | 'in-place' | 'undetermined';

/** One run as a listing shows it: `<record id>@<start_time>`. */
export type RunLabel = string;

export interface Listings {
  readonly current: readonly RunLabel[];
  readonly history: readonly RunLabel[];
}

export interface Evidence {
  readonly record: ExecutionRecord;
  readonly answeredTask: string;
  /** The record's detail after the retry. */
  readonly recordAfter: ExecutionRecord;
  readonly before: Listings;
  readonly after: Listings;
}

export interface ReadingVerdict {
  readonly verdict: Verdict;
  /** Whether the retried run is listed only with `show_history` afterwards (undefined: cannot tell). */
  readonly supersededHidden?: boolean | undefined;
  readonly why: string;
}

const label = (record: ExecutionRecord): RunLabel => `${record.id}@${record.start_time ?? '?'}`;

/** Pure: which reading the evidence of one retry shows. */
export function verdictOf(evidence: Evidence): ReadingVerdict {
  const { record, answeredTask, recordAfter, before, after } = evidence;
  const retried = label(record);
  const newRuns = after.history.filter((run) => !before.history.includes(run));
  const hidden = (run: RunLabel) => (after.history.includes(run) ? !after.current.includes(run) : undefined);
  const ranAgain = recordAfter.start_time !== record.start_time;
  if (answeredTask !== record.script_task_id) {
    const created = newRuns.filter((run) => !run.startsWith(`${record.id}@`));
    if (created.length > 0 && !ranAgain)
      return {
        verdict: 'new-task',
        supersededHidden: hidden(retried),
        why: `the answer names task ${answeredTask}, not the record's ${record.script_task_id}; new run ${created.join(', ')}`,
      };
    return {
      verdict: 'undetermined',
      why: `the answer names task ${answeredTask}, but ${ranAgain ? 'the record itself ran again' : 'no new run of the desktop and script is listed yet'}`,
    };
  }
  if (ranAgain)
    return {
      verdict: 'in-place',
      supersededHidden: hidden(retried),
      why: `the answer names the record's own task and the record ran again: start ${record.start_time} → ${recordAfter.start_time}`,
    };
  const added = newRuns.filter((run) => !run.startsWith(`${record.id}@`));
  if (added.length > 0)
    return {
      verdict: 'original-task',
      supersededHidden: hidden(retried),
      why: `the answer names the record's own task ${answeredTask}, and a new record runs in it: ${added.join(', ')}`,
    };
  return {
    verdict: 'undetermined',
    why: "the answer names the record's own task, but no new run is listed yet and the record did not run again",
  };
}

export interface ReadingProbe {
  readonly workspace: Pick<WorkspaceClient, 'getRecord' | 'listRecords' | 'retry'>;
  readonly project: ProjectRef;
  readonly credentials: SigningCredentials;
  readonly sleep: (ms: number) => Promise<void>;
  /** How long to wait for the retry's run to be listed. */
  readonly waitMs: number;
}

export type ReadingReport =
  | { readonly retried: false; readonly record: ExecutionRecord; readonly before: Listings }
  | ({ readonly retried: true } & Evidence & ReadingVerdict);

/** Reads the record and its desktop and script's runs; with `confirmRetry`, retries it and tells the reading. */
export async function checkReading(
  probe: ReadingProbe,
  recordId: string,
  confirmRetry: boolean,
): Promise<ReadingReport> {
  const { workspace, project, credentials } = probe;
  const record = await workspace.getRecord(project, recordId, credentials);
  if (runStateOf(record.status) !== 'failed' || record.status === undefined)
    throw new OpsError(
      'usage',
      `record ${recordId} is ${record.status ?? 'of no status'}: choose a record whose run FAILED (its retry is real)`,
    );
  if (!record.resource_id || !record.script_id || !record.script_task_id)
    throw new OpsError('not-found', `record ${recordId} names no desktop, script or task: nothing to compare`);
  const listings = () => listingsOf(probe, record.resource_id!, record.script_id!);
  const before = await listings();
  if (!confirmRetry) return { retried: false, record, before };
  const { taskId } = await workspace.retry(project, { recordId }, credentials);
  let evidence: Evidence | undefined;
  for (let waited = 0; ; waited += 2_000) {
    const [recordAfter, after] = await Promise.all([workspace.getRecord(project, recordId, credentials), listings()]);
    evidence = { record, answeredTask: taskId, recordAfter, before, after };
    if (verdictOf(evidence).verdict !== 'undetermined' || waited >= probe.waitMs) break;
    await probe.sleep(2_000);
  }
  return { retried: true, ...evidence, ...verdictOf(evidence) };
}

async function listingsOf(probe: ReadingProbe, resourceId: string, scriptId: string): Promise<Listings> {
  const runs = async (showHistory: boolean) => {
    const seen: RunLabel[] = [];
    for await (const record of probe.workspace.listRecords(
      probe.project,
      { resourceIds: [resourceId], scriptIds: [scriptId], showHistory },
      probe.credentials,
    ))
      seen.push(label(record));
    return seen;
  };
  const [current, history] = await Promise.all([runs(false), runs(true)]);
  return { current, history };
}

export function renderReadingReport(report: ReadingReport): string {
  const r = report.record;
  const lines = [
    `record ${r.id}: task ${r.script_task_id}, desktop ${r.resource_id}, script ${r.script_id}, started ${r.start_time}, ${r.status}`,
  ];
  const listing = (name: string, l: Listings) => [
    `${name}, default listing:      ${l.current.join(' ') || '(none)'}`,
    `${name}, with show_history: ${l.history.join(' ') || '(none)'}`,
  ];
  lines.push(...listing('before', report.before));
  if (!report.retried)
    return [...lines, '', 'nothing sent: add --confirm-retry to retry this record once and tell the reading'].join(
      '\n',
    );
  lines.push(
    `retry answered task ${report.answeredTask}; the record now: task ${report.recordAfter.script_task_id}, started ${report.recordAfter.start_time}, ${report.recordAfter.status}`,
  );
  lines.push(...listing('after', report.after));
  const hidden = report.supersededHidden === undefined ? 'cannot tell' : report.supersededHidden ? 'yes' : 'no';
  lines.push(
    '',
    `reading: ${report.verdict} (${report.why})`,
    `the retried run is listed only with show_history: ${hidden}`,
  );
  return lines.join('\n');
}
