import { runBundledBatch } from './bundled-run.js';
import type { StackProcess } from './stack-process.js';

/**
 * TCP connections to Workspace a fresh container opens for one batch (MAX_CONCURRENCY 10: expect 10), counted by the
 * simulator.
 */

const RECORDS = 2_000;

export async function connectionsOfFreshContainer(
  stack: StackProcess,
  queueBundle: string,
  dir: string,
  env: Record<string, string>,
): Promise<{ records: number; connections: number }> {
  await stack.command('latency 0');
  await stack.command('reset');
  await runBundledBatch(stack, queueBundle, dir, { ...env, MAX_CONCURRENCY: '10' }, RECORDS);
  const stats = await stack.command('reset');
  return { records: RECORDS, connections: stats.connectionsOpened };
}
