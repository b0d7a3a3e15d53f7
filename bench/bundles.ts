import { createRequire } from 'node:module';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { ROOT } from './stack-process.js';

/**
 * The three functions bundled with the esbuild options serverless.yml deploys
 * with (esbuild.config.cjs), and their sizes. `readable` builds the same
 * bundle without minification, for the import profile to name lines.
 */

export const FUNCTIONS = ['queue', 'schedule', 'manual'] as const;

export const esbuildOptions = (createRequire(import.meta.url)(join(ROOT, 'esbuild.config.cjs')) as { esbuildOptions: esbuild.BuildOptions }).esbuildOptions;

export interface Bundle {
  fn: (typeof FUNCTIONS)[number];
  kb: number;
  file: string;
}

export async function buildBundles(): Promise<{ bundles: Bundle[]; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'wsr-bench-'));
  const bundles: Bundle[] = [];
  for (const fn of FUNCTIONS) {
    const file = join(dir, `${fn}.mjs`);
    await esbuild.build({ ...esbuildOptions, entryPoints: [join(ROOT, 'functions', `${fn}.ts`)], outfile: file });
    bundles.push({ fn, kb: Math.round((await stat(file)).size / 1024), file });
  }
  return { bundles, dir };
}

export async function buildReadable(fn: Bundle['fn'], dir: string): Promise<string> {
  const file = join(dir, `${fn}-readable.mjs`);
  await esbuild.build({ ...esbuildOptions, minify: false, sourcemap: 'external', entryPoints: [join(ROOT, 'functions', `${fn}.ts`)], outfile: file });
  return file;
}
