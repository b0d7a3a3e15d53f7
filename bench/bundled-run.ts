import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { batch, retryingAll, type Seeder } from './fixtures.js';

/**
 * One batch through the bundled queue function in a fresh Node process, as a
 * fresh Lambda container would run it: its peak RSS, and (through the stack's
 * counters) the connections it opens.
 */

export async function runBundledBatch(
  stack: Seeder,
  queueBundle: string,
  dir: string,
  env: Record<string, string>,
  records: number,
  nodeFlags: string[] = [],
): Promise<{ maxRssMb: number }> {
  const driver = join(dir, `driver-${records}.mjs`);
  const eventFile = join(dir, `event-${records}.json`);
  await writeFile(eventFile, JSON.stringify(await batch(stack, records)));
  await writeFile(
    driver,
    `import { readFileSync } from 'node:fs';
import { handler } from ${JSON.stringify(queueBundle)};
const event = JSON.parse(readFileSync(${JSON.stringify(eventFile)}, 'utf8'));
const context = { functionName: 'retryFromQueue', awsRequestId: 'run', getRemainingTimeInMillis: () => 600000 };
const response = await handler(event, context);
process.stderr.write(JSON.stringify({ failures: response.batchItemFailures.length, maxRssKb: process.resourceUsage().maxRSS }) + '\\n');
process.exit(0);
`,
  );
  const run = () =>
    promisify(execFile)(process.execPath, [...nodeFlags, driver], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
  const { stdout, stderr } = await retryingAll(stack, records, `the bundled queue function, ${records} records`, run);
  const line = JSON.parse(stderr.trim().split('\n').pop()!) as { failures: number; maxRssKb: number };
  if (line.failures)
    throw new Error(
      `bundled run of ${records} records had ${line.failures} failures; its last log lines:\n${stdout.trim().split('\n').slice(-3).join('\n')}`,
    );
  return { maxRssMb: Math.round(line.maxRssKb / 1024) };
}
