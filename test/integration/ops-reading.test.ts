import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import type { RetryReading, WorkspaceStateOptions } from '../../local/workspace-state.js';
import { main } from '../../ops/cli.js';
import { failedRecord, minutesAgo, PROJECT_ID } from '../helpers/factories.js';

/**
 * `npm run ops -- reading`, against the simulator under each reading of
 * Workspace's retry (docs/workspace-api.md, "Settling the reading on an
 * account"): it tells the reading the simulator plays, and sends nothing
 * without --confirm-retry.
 */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ops-reading-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function readingOf(
  options: WorkspaceStateOptions,
  ...flags: string[]
): Promise<{ code: number; out: string; stack: LocalStack }> {
  const stack = await startLocalStack({
    name: `reading-${options.reading ?? 'new-task'}-${flags.length}-${Date.now()}`,
    simulator: options,
  });
  const envFile = join(dir, `${stack.tableName}.env`);
  await writeFile(
    envFile,
    Object.entries(stack.env)
      .map(([k, v]) => `${k}='${v}'`)
      .join('\n'),
  );
  stack.simulator.seedRecords(PROJECT_ID, [
    failedRecord({
      id: 'chosen',
      script_task_id: 'chosen-task',
      resource_id: 'desk',
      script_id: 'script',
      start_time: minutesAgo(10),
      end_time: minutesAgo(9),
    }),
  ]);
  const out: string[] = [];
  const code = await main(['--local', '--stack-env', envFile, 'reading', PROJECT_ID, 'chosen', ...flags], {
    out: (t) => out.push(t),
    err: (t) => out.push(t),
    now: Date.now,
  });
  return { code, out: out.join('\n'), stack };
}

describe('ops reading', () => {
  it.each([
    ['new-task', { reading: 'new-task' }, /reading: new-task/, /listed only with show_history: no/],
    [
      'new-task, superseded runs hidden',
      { reading: 'new-task', hideSuperseded: true },
      /reading: new-task/,
      /listed only with show_history: yes/,
    ],
    ['original-task', { reading: 'original-task' }, /reading: original-task/, /listed only with show_history: yes/],
    ['in-place', { reading: 'in-place' }, /reading: in-place/, /listed only with show_history: yes/],
  ] as Array<[string, { reading: RetryReading; hideSuperseded?: boolean }, RegExp, RegExp]>)(
    'tells the reading the simulator plays: %s',
    async (_, options, verdict, hidden) => {
      const { code, out, stack } = await readingOf(options, '--confirm-retry');
      try {
        expect(code).toBe(0);
        expect(out).toMatch(verdict);
        expect(out).toMatch(hidden);
        expect(stack.simulator.retryCount('chosen')).toBe(1);
      } finally {
        await stack.stop();
      }
    },
  );

  it('without --confirm-retry shows the record and its runs and sends no retry', async () => {
    const { code, out, stack } = await readingOf({ reading: 'in-place' });
    try {
      expect(code).toBe(0);
      expect(out).toMatch(/record chosen: task chosen-task, desktop desk, script script/);
      expect(out).toMatch(/nothing sent: add --confirm-retry/);
      expect(stack.simulator.retries).toHaveLength(0);
    } finally {
      await stack.stop();
    }
  });
});
