/**
 * `npm run stack`: the local stack on its own, for `osls invoke local` and
 * for poking at it by hand. Seeds the simulator with the records the sample
 * events name, writes the function's environment to local/.stack.env, and
 * prints the `osls invoke local` commands to run in another terminal.
 * Ctrl-C stops it.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { normaliseBody } from '../lib/events/normalise.js';
import { startLocalStack } from './stack.js';

const stack = await startLocalStack({ name: 'cli' });
const events = join(import.meta.dirname, '..', 'events');
for (const dir of [join(events, 'queue'), events]) {
  for (const file of await readdir(dir)) {
    if (!file.endsWith('.json')) continue;
    const text = await readFile(join(dir, file), 'utf8');
    const parsed = JSON.parse(text) as { items?: unknown[] };
    for (const item of parsed.items ?? [parsed]) {
      const result = normaliseBody(JSON.stringify(item), { checkRegion: () => undefined });
      if (!result.ok) continue;
      const f = result.failure;
      if (f.recordId) stack.simulator.seedRecords(f.projectId, [{ id: f.recordId, status: 'FAILED', script_task_id: f.taskId, start_time: `${new Date().toISOString().slice(0, 19)}Z`, reason: f.reason ?? 'Script execution timed out' }]);
      else if (f.taskId) stack.simulator.seedTask(f.projectId, f.taskId);
    }
  }
}
const env = { ...stack.env, SWEEP_PROJECTS: JSON.stringify([{ project_id: '0a1b2c3d4e5f60718293a4b5c6d7e8f9' }]), POWERTOOLS_METRICS_DISABLED: 'true' };
const envFile = join(import.meta.dirname, '.stack.env');
await writeFile(envFile, Object.entries(env).map(([k, v]) => `${k}='${v}'`).join('\n') + '\n');
const flags = Object.entries(env).map(([k, v]) => `--env ${k}='${v}'`).join(' ');
console.log(`Local stack up: SQS ${stack.sqsEndpoint}, DynamoDB ${stack.dynamoEndpoint}, Secrets Manager ${stack.secrets.url}, Workspace ${stack.simulator.url}`);
console.log(`Environment written to ${envFile}. In another terminal:\n`);
console.log(`  npx osls invoke local -f retryManually -p events/manual-dry-run.json ${flags}\n`);
console.log(`  npx osls invoke local -f sweepOnSchedule -p events/schedule.json ${flags}\n`);
console.log(`  npx osls invoke local -f retryFromQueue -p events/sqs-event.json ${flags}\n`);
process.on('SIGINT', () => void stack.stop().then(() => process.exit(0)));
process.on('SIGTERM', () => void stack.stop().then(() => process.exit(0)));
