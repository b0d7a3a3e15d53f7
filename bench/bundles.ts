import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as esbuild from 'esbuild';
import { ROOT } from './stack-process.js';

/**
 * The three functions bundled with the esbuild options serverless.yml deploys
 * with (esbuild.config.cjs), each with the chunks it loads later beside it,
 * and their sizes: the bundle itself, what a cold start reads (the bundle and
 * the chunks it imports statically) and what is loaded only when first
 * needed (the SQS client). `readable` builds the same bundle without
 * minification, for the import profile to name lines.
 */

export const FUNCTIONS = ['queue', 'schedule', 'manual'] as const;

export const esbuildOptions = (
  createRequire(import.meta.url)(join(ROOT, 'esbuild.config.cjs')) as { esbuildOptions: esbuild.BuildOptions }
).esbuildOptions;

export interface Bundle {
  fn: (typeof FUNCTIONS)[number];
  /** The function's own `.mjs`. */
  kb: number;
  /** Read and compiled at cold start: the bundle and every chunk it imports statically. */
  startKb: number;
  /** Chunks loaded only by an import() when first needed. */
  laterKb: number;
  file: string;
}

export async function buildBundles(): Promise<{ bundles: Bundle[]; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'wsr-bench-'));
  const bundles: Bundle[] = [];
  for (const fn of FUNCTIONS) {
    const { file, metafile } = await build(fn, dir, {});
    bundles.push({ fn, file, ...sizes(metafile, relative(process.cwd(), file)) });
  }
  return { bundles, dir };
}

export async function buildReadable(fn: Bundle['fn'], dir: string): Promise<string> {
  return (await build(fn, join(dir, 'readable'), { minify: false })).file;
}

/** One function's bundle in `dir`, its chunks beside it as it ships. */
async function build(
  fn: Bundle['fn'],
  dir: string,
  overrides: esbuild.BuildOptions,
): Promise<{ file: string; metafile: esbuild.Metafile }> {
  const result = await esbuild.build({
    ...esbuildOptions,
    ...overrides,
    entryPoints: [join(ROOT, 'functions', `${fn}.ts`)],
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    metafile: true,
  });
  return { file: join(dir, `${fn}.mjs`), metafile: result.metafile };
}

/**
 * What a cold start reads of the bundle `entry` (as `metafile` names it): it and the chunks it imports statically; the
 * rest is loaded later.
 */
export function sizes(metafile: esbuild.Metafile, entry: string): Pick<Bundle, 'kb' | 'startKb' | 'laterKb'> {
  const outputs = metafile.outputs;
  const start = new Set<string>();
  const visit = (file: string) => {
    if (start.has(file)) return;
    start.add(file);
    for (const i of outputs[file]?.imports ?? []) if (i.kind === 'import-statement' && outputs[i.path]) visit(i.path);
  };
  visit(entry);
  const code = Object.keys(outputs).filter((f) => !f.endsWith('.map'));
  const kb = (files: string[]) => Math.round(files.reduce((sum, f) => sum + outputs[f]!.bytes, 0) / 1024);
  return { kb: kb([entry]), startKb: kb([...start]), laterKb: kb(code.filter((f) => !start.has(f))) };
}
