import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT } from './fixtures.js';

/**
 * One batch through the bundled queue function in a fresh Node process, as a
 * fresh Lambda container would run it: its peak RSS, and (through the stack's
 * counters) the connections it opens.
 */

export async function runBundledBatch(queueBundle: string, dir: string, env: Record<string, string>, records: number, nodeFlags: string[] = []): Promise<{ maxRssMb: number }> {
  const driver = join(dir, `driver-${records}.mjs`);
  await writeFile(
    driver,
    `import { handler } from ${JSON.stringify(queueBundle)};
const now = String(Date.now());
const Records = Array.from({ length: ${records} }, (_, i) => ({ messageId: 'run' + i, receiptHandle: 'r', messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:0:q', awsRegion: 'us-east-1',
  attributes: { ApproximateReceiveCount: '1', SentTimestamp: now, SenderId: 'b', ApproximateFirstReceiveTimestamp: now },
  body: JSON.stringify({ project_id: ${JSON.stringify(PROJECT)}, record_id: 'run' + now + 'x' + i, task_id: 'runtask' + (i % 50), status: 'FAILED', reason: 'Script execution timed out' }) }));
const context = { functionName: 'retryFromQueue', awsRequestId: 'run', getRemainingTimeInMillis: () => 600000 };
const response = await handler({ Records }, context);
process.stderr.write(JSON.stringify({ failures: response.batchItemFailures.length, maxRssKb: process.resourceUsage().maxRSS }) + '\\n');
process.exit(0);
`,
  );
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [...nodeFlags, driver], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const line = JSON.parse(stderr.trim().split('\n').pop()!) as { failures: number; maxRssKb: number };
  if (line.failures) throw new Error(`bundled run of ${records} records had ${line.failures} failures; its last log lines:\n${stdout.trim().split('\n').slice(-3).join('\n')}`);
  return { maxRssMb: Math.round(line.maxRssKb / 1024) };
}
