import type { ExecutionRecord } from '../../lib/workspace-types.js';

/** A project id in Huawei's format: 32 lower-case hex characters. */
export const PROJECT_ID = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
export const OTHER_PROJECT_ID = 'ffeeddccbbaa99887766554433221100';

let sequence = 0;

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
    start_time: '2026-11-29T00:00:00Z',
    end_time: '2026-11-29T00:01:00Z',
    status: 'FAILED',
    execute_order: 0,
    result_code: 'WKS.SCRIPT_TIMEOUT',
    reason: 'Script execution timed out',
    ...overrides,
  };
}
