import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failedRecord } from '../helpers/factories.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { zipEntries } from '../helpers/zip-entries.js';

/** `osls invoke local --stage local` runs the bundled functions against the local stack, as the README shows. */
let h: Harness;
const SAMPLE_PROJECT = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';

beforeAll(async () => {
  h = await startHarness({ name: `invoke-${process.pid}` });
  h.stack.simulator.seedRecords(SAMPLE_PROJECT, [
    failedRecord({ id: '3f1c9a7e5b2d4c6e8a0f1b3d5e7c9a11' }),
    failedRecord({ id: 'invoke-local-sweep', start_time: `${new Date(Date.now() - 60_000).toISOString().slice(0, 19)}Z` }),
  ]);
});
afterAll(() => h.stop());

async function invokeLocal(fn: string, eventFile: string): Promise<unknown> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...h.stack.env, SWEEP_PROJECTS: JSON.stringify([{ project_id: SAMPLE_PROJECT }]), POWERTOOLS_LOG_LEVEL: 'WARN', POWERTOOLS_METRICS_DISABLED: 'true' };
  const { stdout } = await promisify(execFile)('node_modules/.bin/osls', ['invoke', 'local', '--stage', 'local', '-f', fn, '-p', eventFile], { env, timeout: 120_000 });
  // osls prints the handler's answer pretty-printed, after any log lines.
  return JSON.parse(stdout.slice(stdout.lastIndexOf('{\n    "')));
}

describe('osls invoke local', () => {
  it('runs retryManually with the sample payload and retries the record', async () => {
    const answer = await invokeLocal('retryManually', 'events/manual-single.json');
    expect(answer).toMatchObject({ ok: true, results: [{ outcome: 'retried', record_id: '3f1c9a7e5b2d4c6e8a0f1b3d5e7c9a11' }] });
    expect(h.stack.simulator.retryCount('3f1c9a7e5b2d4c6e8a0f1b3d5e7c9a11')).toBe(1);
  }, 150_000);

  it('runs sweepOnSchedule with the sample schedule event and sweeps the project', async () => {
    const summary = await invokeLocal('sweepOnSchedule', 'events/schedule.json');
    expect(summary).toMatchObject({ projects: [{ projectId: SAMPLE_PROJECT, complete: true }] });
    expect(h.stack.simulator.retryCount('invoke-local-sweep')).toBe(1);
  }, 150_000);
});

describe('a deploy package built after osls invoke local', () => {
  it('carries none of the .js bundles the local stage built: every artifact holds .mjs files and their maps only', async () => {
    // Prepare: the invocations above built the local stage's .js bundles (and left them behind)
    const out = await mkdtemp(join(tmpdir(), 'wsr-after-invoke-'));
    try {
      // Act
      await promisify(execFile)('node_modules/.bin/osls', ['package', '--package', out, '--stage', 'prod'], { env: { ...process.env, AWS_PROFILE: 'none' }, timeout: 240_000 });

      // Assess
      const artifacts = (await readdir(out)).filter((file) => file.endsWith('.zip'));
      expect(artifacts.sort()).toEqual(['ingestEvents.zip', 'retryFromQueue.zip', 'retryManually.zip', 'sweepOnSchedule.zip']);
      for (const artifact of artifacts) expect((await zipEntries(join(out, artifact))).map((e) => e.name).filter((name) => !/\.mjs(\.map)?$/.test(name))).toEqual([]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 300_000);
});
