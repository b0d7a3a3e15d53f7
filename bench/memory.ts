import { runBundledBatch } from './bundled-run.js';
import type { StackProcess } from './stack-process.js';

/** Peak RSS of a fresh process handling one 10,000-record batch with the bundled queue function. */

export const HEAP_FOR_128MB = ['--max-old-space-size=90', '--max-semi-space-size=2'];

export interface MemoryFigures {
  /** V8 sized for this machine: it grows the heap lazily, so RSS says little about need. */
  peakRssMbDefaultHeap: number;
  /** V8 sized as for a 128 MB function. */
  peakRssMbHeapFor128MbFunction: number;
}

export async function memory(
  stack: StackProcess,
  queueBundle: string,
  dir: string,
  env: Record<string, string>,
): Promise<MemoryFigures> {
  await stack.command('latency 0');
  const unconstrained = await runBundledBatch(stack, queueBundle, dir, env, 10_000);
  const constrained = await runBundledBatch(stack, queueBundle, dir, env, 10_000, HEAP_FOR_128MB);
  return { peakRssMbDefaultHeap: unconstrained.maxRssMb, peakRssMbHeapFor128MbFunction: constrained.maxRssMb };
}
