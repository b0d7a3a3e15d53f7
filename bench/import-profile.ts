import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decode, type SourceMapMappings } from '@jridgewell/sourcemap-codec';
import { round1 } from './fixtures.js';

/**
 * What each import costs in a bundled function: `node --cpu-prof` of a fresh
 * process importing the bundle (built unminified so lines can be told apart;
 * same options otherwise), each sample mapped through the bundle's source map
 * to the package (or our file) it ran in. Summed over RUNS processes.
 */

const RUNS = 5;
const SAMPLE_INTERVAL_MICROS = 100;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  positionTicks?: Array<{ line: number; ticks: number }>;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ImportCost {
  module: string;
  ms: number;
}

export async function importProfile(bundleFile: string, env: Record<string, string>): Promise<ImportCost[]> {
  const map = JSON.parse(await readFile(`${bundleFile}.map`, 'utf8')) as { sources: string[]; mappings: string };
  const lines = decode(map.mappings);
  const url = pathToFileURL(bundleFile).href;
  const dir = await mkdtemp(join(bundleFile, '..', 'cpuprof-'));
  for (let i = 0; i < RUNS; i++) {
    spawnSync(
      process.execPath,
      [
        '--cpu-prof',
        `--cpu-prof-dir=${dir}`,
        `--cpu-prof-interval=${SAMPLE_INTERVAL_MICROS}`,
        '--input-type=module',
        '-e',
        `await import(${JSON.stringify(bundleFile)});`,
      ],
      {
        env: { ...process.env, ...env, SWEEP_PROJECTS: '[]' },
      },
    );
  }
  const totals = new Map<string, number>();
  const add = (module: string, micros: number) => totals.set(module, (totals.get(module) ?? 0) + micros);
  for (const name of await readdir(dir)) {
    const profile = JSON.parse(await readFile(join(dir, name), 'utf8')) as Profile;
    const self = new Map<number, number>();
    profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    for (const node of profile.nodes) {
      const micros = self.get(node.id) ?? 0;
      if (micros === 0) continue;
      const { url: nodeUrl, functionName, lineNumber, columnNumber } = node.callFrame;
      if (nodeUrl !== url) {
        add(nodeUrl === '' ? `(V8: ${functionName || 'anonymous'})` : nodeWork(node, byId, parent), micros);
        continue;
      }
      // Spread the node's time over the lines it was sampled on (top-level code is one big function).
      const ticks = node.positionTicks?.length ? node.positionTicks : [{ line: lineNumber + 1, ticks: 1 }];
      const sum = ticks.reduce((a, t) => a + t.ticks, 0);
      for (const t of ticks)
        add(
          moduleAt(lines, map.sources, t.line - 1, t.line - 1 === lineNumber ? columnNumber : 0),
          (micros * t.ticks) / sum,
        );
    }
  }
  return [...totals]
    .map(([module, micros]) => ({ module, ms: round1(micros / 1000 / RUNS) }))
    .sort((a, b) => b.ms - a.ms);
}

/**
 * What Node was doing: compiling the bundle (V8's parse shows as the self
 * time of the loader function that asked for it), loading its own modules
 * (the builtins the bundle requires or imports), or the rest (the ESM loader).
 */
function nodeWork(node: ProfileNode, byId: Map<number, ProfileNode>, parent: Map<number, number>): string {
  for (let at: ProfileNode | undefined = node; at; at = byId.get(parent.get(at.id) ?? -1)) {
    const name = at.callFrame.functionName;
    if (name === 'compileSourceTextModule' || name === 'wrapSafe') return '(V8: compiling the bundle)';
    if (name === 'compileForInternalLoader' || name === 'loadBuiltinModule' || name === 'getESMFacade')
      return "(Node.js: loading Node's own modules)";
  }
  return '(Node.js: module loader, other)';
}

/** The package (`@smithy/core`) or our file (`lib/ledger.ts`) a bundle position came from. */
function moduleAt(lines: SourceMapMappings, sources: string[], line: number, column: number): string {
  const segments = lines[line] ?? [];
  let found = segments.find((s) => s.length > 1);
  for (const s of segments) if (s[0] <= column && s.length > 1) found = s;
  if (!found) return '(bundle glue)';
  const source = sources[found[1]!]!;
  const at = source.lastIndexOf('node_modules/');
  if (at < 0) return source.replace(/^(\.\.\/)+/, '').replace(/^.*?\/(lib|functions)\//, '$1/');
  const [first, second] = source.slice(at + 'node_modules/'.length).split('/');
  return first!.startsWith('@') ? `${first}/${second}` : first!;
}
