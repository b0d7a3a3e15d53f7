/**
 * What `npm run stack` prepares for `osls invoke local --stage local`: the
 * simulator seeded with the records the sample events name, a webhook token
 * in the Secrets Manager stand-in, the functions' environment in
 * local/.stack.env, a current SQS event and a webhook delivery next to it, and
 * the commands to run, exactly as they run (test/integration/invoke-local.test.ts
 * runs each one).
 */

import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { normaliseBody } from '../lib/events/normalise.js';
import { EVENTS_DIR, sampleSqsEvent, sampleWebhookEvent } from './sample-events.js';
import type { LocalStack } from './stack.js';

export const SAMPLE_PROJECT = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';

export interface PreparedStack {
  readonly envFile: string;
  readonly env: Record<string, string>;
  /** `npx osls invoke local …` lines, to run after `set -a; . <envFile>; set +a`. */
  readonly commands: readonly string[];
}

async function seedSamples(stack: LocalStack): Promise<void> {
  for (const dir of [join(EVENTS_DIR, 'queue'), EVENTS_DIR]) {
    for (const file of await readdir(dir)) {
      if (!file.endsWith('.json')) continue;
      const parsed = JSON.parse(await readFile(join(dir, file), 'utf8')) as { items?: unknown[] };
      for (const item of parsed.items ?? [parsed]) {
        const result = normaliseBody(JSON.stringify(item), { checkRegion: () => undefined });
        if (!result.ok) continue;
        const f = result.failure;
        if (f.recordId)
          stack.simulator.seedRecords(f.projectId, [
            {
              id: f.recordId,
              status: 'FAILED',
              script_task_id: f.taskId,
              start_time: `${new Date().toISOString().slice(0, 19)}Z`,
              reason: f.reason ?? 'Script execution timed out',
            },
          ]);
        else if (f.taskId) stack.simulator.seedTask(f.projectId, f.taskId);
      }
    }
  }
}

/** Seeds, writes the files into `dir` (local/ for `npm run stack`), and returns the commands. */
export async function prepareLocalStack(stack: LocalStack, dir: string): Promise<PreparedStack> {
  await seedSamples(stack);
  const tokenSecret = `workspace-script-retry/ingress-token-${stack.tableName.slice(-12)}`;
  const token = randomBytes(24).toString('hex');
  stack.secrets.putSecret(tokenSecret, { token });
  const env = {
    ...stack.env,
    SWEEP_PROJECTS: JSON.stringify([{ project_id: SAMPLE_PROJECT }]),
    RETRIES_ENABLED_PARAMETER: stack.killSwitchParameter,
    INGRESS_TOKEN_SECRET_ID: tokenSecret,
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
  const envFile = join(dir, '.stack.env');
  const sqsEventFile = join(dir, '.sqs-event.json');
  const webhookFile = join(dir, '.ingress-event.json');
  await writeFile(
    envFile,
    Object.entries(env)
      .map(([k, v]) => `${k}='${v}'`)
      .join('\n') + '\n',
  );
  await writeFile(sqsEventFile, `${JSON.stringify(await sampleSqsEvent(Date.now()), null, 2)}\n`);
  await writeFile(webhookFile, `${JSON.stringify(await sampleWebhookEvent(token), null, 2)}\n`);
  const path = (file: string) => relative(process.cwd(), file) || file;
  const invoke = (fn: string, event: string) => `npx osls invoke local --stage local -f ${fn} -p ${event}`;
  return {
    envFile,
    env,
    commands: [
      invoke('retryManually', 'events/manual-dry-run.json'),
      invoke('sweepOnSchedule', 'events/schedule.json'),
      invoke('retryFromQueue', path(sqsEventFile)),
      invoke('ingestEvents', path(webhookFile)),
    ],
  };
}
