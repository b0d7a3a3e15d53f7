import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The functions run with --enable-source-maps (serverless.yml), and esbuild.config.cjs slims their maps: a frame in our
 * code must still name its TypeScript file and line. A module is bundled with the options that ship, and its trace read.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const { esbuildOptions } = createRequire(import.meta.url)(join(ROOT, 'esbuild.config.cjs')) as {
  esbuildOptions: esbuild.BuildOptions;
};
const FIXTURE = 'test/fixtures/stack-trace-fixture.ts';
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsr-maps-'));
  await esbuild.build({
    ...esbuildOptions,
    entryPoints: [join(ROOT, FIXTURE)],
    outdir: dir,
    outExtension: { '.js': '.mjs' },
  });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The stack of the error the bundled handler throws, run as the functions run. */
function trace(): string {
  const file = join(dir, 'stack-trace-fixture.mjs');
  const out = spawnSync(
    process.execPath,
    [
      '--enable-source-maps',
      '--input-type=module',
      '-e',
      `const { handler } = await import(${JSON.stringify(file)}); await handler({}).catch((e) => console.log(e.stack));`,
    ],
    { encoding: 'utf8' },
  );
  return out.stdout;
}

describe('source maps as they ship', () => {
  it('point a frame in our code at its TypeScript file and line, the throw and its caller', async () => {
    const lines = (await readFile(join(ROOT, FIXTURE), 'utf8')).split('\n');
    const at = (text: string) => lines.findIndex((line) => line.includes(text)) + 1;
    const stack = trace();
    expect(stack).toContain('refused: no reason given');
    expect(stack).toMatch(new RegExp(`${FIXTURE.replaceAll('.', '\\.')}:${at('throw new Error(message)')}:\\d+`));
    expect(stack).toMatch(new RegExp(`${FIXTURE.replaceAll('.', '\\.')}:${at('return refuseWithTrace(reason)')}:\\d+`));
  });

  it('name the function a frame is in as the source names it', () => {
    expect(trace()).toMatch(/at refuseWithTrace \(/);
  });
});
