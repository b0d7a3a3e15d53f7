import type { ExecutionRecord } from '../../lib/workspace/types.js';

/** A project id in Huawei's format: 32 lower-case hex characters. */
export const PROJECT_ID = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
export const OTHER_PROJECT_ID = 'ffeeddccbbaa99887766554433221100';

let sequence = 0;

/** A time in Workspace's format (`2021-10-01T12:00:00Z`), some minutes ago. */
export function minutesAgo(minutes: number): string {
  return `${new Date(Date.now() - minutes * 60_000).toISOString().slice(0, 19)}Z`;
}

/** A failed execution record as Workspace's list API returns it. */
export function failedRecord(overrides: Partial<ExecutionRecord> = {}): ExecutionRecord {
  sequence++;
  return {
    id: `rec${sequence}`,
    script_id: 'script-1',
    script_name: 'install-agent.ps1',
    script_task_id: `task${sequence}`,
    resource_id: `desktop-${sequence}`,
    resource_name: `DESKTOP-${sequence}`,
    resource_type: 'DESKTOP',
    start_time: minutesAgo(2),
    end_time: minutesAgo(1),
    status: 'FAILED',
    execute_order: 0,
    result_code: 'WKS.SCRIPT_TIMEOUT',
    reason: 'Script execution timed out',
    ...overrides,
  };
}

/** A plain failure event body, as the queue receives it. */
export function plainFailure(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  sequence++;
  return {
    project_id: PROJECT_ID,
    record_id: `r${sequence}x${Date.now().toString(36)}`,
    task_id: `t${sequence}x${Date.now().toString(36)}`,
    resource_id: `desk${sequence}`,
    script_id: 'script-1',
    status: 'FAILED',
    reason: 'Script execution timed out',
    ...overrides,
  };
}

export function body(value: unknown): string {
  return JSON.stringify(value);
}

/** The execution record Workspace keeps for a plain failure event (same record, task, desktop, script, reason). */
export function recordFor(failure: Record<string, unknown>): ExecutionRecord {
  const text = (key: string) => (typeof failure[key] === 'string' ? (failure[key] as string) : undefined);
  return failedRecord({
    id: String(failure['record_id'] ?? failure['id']),
    script_task_id: text('task_id') ?? text('script_task_id'),
    resource_id: text('resource_id'),
    script_id: text('script_id'),
    reason: text('reason'),
  });
}
