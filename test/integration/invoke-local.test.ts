import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PreparedStack, prepareLocalStack, SAMPLE_PROJECT } from '../../local/stack-setup.js';
import { failedRecord } from '../helpers/factories.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { zipEntries } from '../helpers/zip-entries.js';

/**
 * The newcomer's path: `npm run stack` prepares the local stack and prints
 * `osls invoke local --stage local` commands (local/stack-setup.ts); each one
 * runs here exactly as printed, in a shell, after sourcing the env file, and
 * does what the sample says.
 */
let h: Harness;
let dir: string;
let prepared: PreparedStack;

beforeAll(async () => {
  h = await startHarness({ name: `invoke-${process.pid}` });
  h.stack.simulator.seedRecords(SAMPLE_PROJECT, [
    failedRecord({
      id: 'invoke-local-sweep',
      start_time: `${new Date(Date.now() - 60_000).toISOString().slice(0, 19)}Z`,
    }),
  ]);
  dir = await mkdtemp(join(tmpdir(), 'wsr-invoke-'));
  prepared = await prepareLocalStack(h.stack, dir);
});
afterAll(async () => {
  await h.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A printed command, run as printed: `set -a; . <env file>; set +a` then the command, from the repository's root. */
async function runPrinted(
  command: string,
  extra = '',
): Promise<{ code: number; killed: boolean; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, POWERTOOLS_LOG_LEVEL: 'WARN' };
  return promisify(execFile)('sh', ['-c', `set -a; . '${prepared.envFile}'; ${extra} set +a; ${command}`], {
    env,
    timeout: 150_000,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, killed: false, stdout, stderr }),
    (error: { code?: number; killed?: boolean; stdout?: string; stderr?: string }) => ({
      code: error.code ?? 1,
      killed: error.killed ?? false,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? '',
    }),
  );
}

/** osls prints the handler's answer pretty-printed, after any log lines. */
const answerOf = (stdout: string): any => JSON.parse(stdout.slice(stdout.lastIndexOf('{\n    "')));
const printed = (fn: string) => prepared.commands.find((c) => c.includes(` -f ${fn} `))!;

describe('osls invoke local, as npm run stack prints it', () => {
  it('prints one runnable command per function, each with --stage local', () => {
    expect(prepared.commands.map((c) => c.split(' -f ')[1]!.split(' ')[0])).toEqual([
      'retryManually',
      'sweepOnSchedule',
      'retryFromQueue',
      'ingestEvents',
    ]);
    for (const command of prepared.commands)
      expect(command).toMatch(/^npx osls invoke local --stage local -f \w+ -p \S+$/);
  });

  it('runs retryManually with the dry-run sample and answers previewed', async () => {
    const run = await runPrinted(printed('retryManually'));
    expect(run.code, run.stderr).toBe(0);
    expect(answerOf(run.stdout)).toMatchObject({
      ok: true,
      results: [{ outcome: 'previewed', record_id: '8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e32' }],
    });
  }, 180_000);

  it('runs sweepOnSchedule with the sample schedule event and sweeps the project', async () => {
    const run = await runPrinted(printed('sweepOnSchedule'));
    expect(run.code, run.stderr).toBe(0);
    expect(answerOf(run.stdout)).toMatchObject({ projects: [{ projectId: SAMPLE_PROJECT, complete: true }] });
    expect(h.stack.simulator.retryCount('invoke-local-sweep')).toBe(1);
  }, 180_000);

  it('runs retryFromQueue with the current sample SQS event: the sample timeout is retried, not too old', async () => {
    const run = await runPrinted(printed('retryFromQueue'));
    expect(run.code, run.stderr).toBe(0);
    expect(answerOf(run.stdout)).toEqual({ batchItemFailures: [] });
    expect(h.stack.simulator.retryCount('3f1c9a7e5b2d4c6e8a0f1b3d5e7c9a11')).toBe(1);
  }, 180_000);

  it('runs ingestEvents with the sample webhook delivery and puts it on the queue', async () => {
    await h.takeAll(h.stack.queueUrl);
    const run = await runPrinted(printed('ingestEvents'));
    expect(run.code, run.stderr).toBe(0);
    const answer = answerOf(run.stdout) as { statusCode: number; body: string };
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ ok: true, enqueued: 1 });
    expect(await h.takeAll(h.stack.queueUrl)).toHaveLength(1);
  }, 180_000);

  it('exits with the error, instead of hanging, when the function fails its cold start', async () => {
    // The local stage reads the queue URLs from the environment: a wrong one fails the cold start.
    const run = await runPrinted(printed('retryManually'), "DLQ_URL='not-a-queue-url';");
    expect(run.killed).toBe(false);
    expect(run.code).not.toBe(0);
    expect(`${run.stdout}${run.stderr}`).toContain('DLQ_URL must be a queue URL, got "not-a-queue-url"');
  }, 180_000);
});

describe('a deploy package built after osls invoke local', () => {
  it('carries none of the .js bundles the local stage built: every artifact holds .mjs files and their maps only', async () => {
    // Prepare: the invocations above built the local stage's .js bundles (and left them behind)
    const out = await mkdtemp(join(tmpdir(), 'wsr-after-invoke-'));
    try {
      // Act
      await promisify(execFile)('node_modules/.bin/osls', ['package', '--package', out, '--stage', 'prod'], {
        env: { ...process.env, AWS_PROFILE: 'none' },
        timeout: 240_000,
      });

      // Assess
      const artifacts = (await readdir(out)).filter((file) => file.endsWith('.zip'));
      expect(artifacts.sort()).toEqual([
        'ingestEvents.zip',
        'retryFromQueue.zip',
        'retryManually.zip',
        'sweepOnSchedule.zip',
      ]);
      for (const artifact of artifacts)
        expect(
          (await zipEntries(join(out, artifact))).map((e) => e.name).filter((name) => !/\.mjs(\.map)?$/.test(name)),
        ).toEqual([]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 300_000);
});
