import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bundle } from './bundles.js';
import { median, round1 } from './fixtures.js';

/**
 * Cold import: a fresh Node process imports each bundle (median of 7), against
 * an empty module, with the flag the functions run with (serverless.yml's
 * NODE_OPTIONS: --enable-source-maps, so the bundle's map is found and read).
 */

export interface ColdStart {
  emptyImportMs: number;
  bundles: Array<Omit<Bundle, 'file'> & { importMs: number; overEmptyMs: number }>;
}

export function importMs(file: string, env: Record<string, string>, runs = 7): number {
  return median(
    Array.from({ length: runs }, () => {
      const out = spawnSync(
        process.execPath,
        [
          '--enable-source-maps',
          '--input-type=module',
          '-e',
          `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`,
        ],
        {
          env: { ...process.env, ...env, SWEEP_PROJECTS: '[]' },
          encoding: 'utf8',
        },
      );
      return Number(out.stdout.trim().split('\n').pop());
    }),
  );
}

export async function coldStart(bundles: Bundle[], dir: string, env: Record<string, string>): Promise<ColdStart> {
  const empty = join(dir, 'empty.mjs');
  await writeFile(empty, 'export const handler = async () => ({});\n');
  const emptyImportMs = round1(importMs(empty, env));
  return {
    emptyImportMs,
    bundles: bundles.map(({ file, ...bundle }) => {
      const ms = round1(importMs(file, env));
      return { ...bundle, importMs: ms, overEmptyMs: round1(ms - emptyImportMs) };
    }),
  };
}
