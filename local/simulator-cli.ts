/**
 * Runs the Workspace simulator on its own: `npm run simulator`.
 * Prints the base URL and the key it accepts; Ctrl-C stops it.
 *
 *   SIM_AK / SIM_SK      the key pair it accepts (defaults below, for local use only)
 *   SIM_SEED_PROJECT     a project id to seed with SIM_SEED_COUNT failed records (default 20)
 *
 * What it serves and which faults it can inject: docs/workspace-api.md ("What the simulator models").
 */
import { WorkspaceSimulator } from './workspace-simulator.js';

const ak = process.env['SIM_AK'] ?? 'LOCALSIMULATORAK';
const sk = process.env['SIM_SK'] ?? 'local-simulator-secret-key';
const simulator = await WorkspaceSimulator.start({ credentials: [{ ak, sk }] });
const project = process.env['SIM_SEED_PROJECT'];
if (project) {
  const count = Number(process.env['SIM_SEED_COUNT'] ?? 20);
  simulator.seedRecords(
    project,
    Array.from({ length: count }, (_, i) => ({
      id: `sim-record-${i}`,
      script_task_id: `sim-task-${i % 5}`,
      script_id: `sim-script-${i % 3}`,
      resource_id: `sim-desktop-${i}`,
      resource_type: 'DESKTOP',
      status: 'FAILED',
      start_time: new Date().toISOString().slice(0, 19) + 'Z',
      reason: 'Script execution timed out',
    })),
  );
}
console.log(`Workspace simulator listening on ${simulator.url}`);
console.log(`  accepts AK ${ak} (set SIM_AK/SIM_SK to change)`);
console.log(`  point the function at it with WORKSPACE_ENDPOINTS='{"cn-north-4":"${simulator.url}"}'`);
process.on('SIGINT', () => void simulator.stop().then(() => process.exit(0)));
