import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The folders of lib/ are layers: a folder may import only the folders
 * listed for it (docs/architecture.md explains each one). Anything else, a
 * sibling reaching sideways or a lower layer reaching up, is a cycle waiting
 * to happen, so the check fails naming the file and the import.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  platform: [],
  events: ['platform'],
  ledger: ['platform'],
  workspace: ['platform', 'events'],
  policy: ['platform', 'events'],
  config: ['platform', 'workspace', 'policy', 'events'],
  pipeline: ['platform', 'events', 'ledger', 'workspace', 'policy', 'config'],
  'ways-in': ['platform', 'events', 'ledger', 'workspace', 'policy', 'config', 'pipeline'],
  ingress: ['platform'],
};

const LIB = path.resolve(__dirname, '../../lib');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

/** Every relative module a file names: static imports, re-exports, type imports and dynamic import() calls. */
function relativeImports(source: string): string[] {
  const found = source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\1/g);
  return [...found].map((m) => m[2]!);
}

/** The layer a path in lib/ belongs to, or 'outside' (functions/, local/, test/: lib/ must never import those). */
function layerOf(file: string): string {
  const rel = path.relative(LIB, file);
  if (rel.startsWith('..')) return 'outside';
  const [first, ...rest] = rel.split(path.sep);
  return rest.length === 0 ? '(lib root)' : first!;
}

function crossings(files: readonly string[], read: (file: string) => string): string[] {
  const problems: string[] = [];
  for (const file of files) {
    const from = layerOf(file);
    for (const spec of relativeImports(read(file))) {
      const to = layerOf(path.resolve(path.dirname(file), spec));
      if (to === from) continue;
      if (!(MAY_IMPORT[from] ?? []).includes(to))
        problems.push(`${path.relative(LIB, file)} imports ${spec} (${from} → ${to})`);
    }
  }
  return problems;
}

describe('the folders of lib/ import one way', () => {
  const files = sourceFiles(LIB);

  it('every file in lib/ sits in one of the known folders', () => {
    // Act
    const unknown = files.map(layerOf).filter((layer) => !(layer in MAY_IMPORT));

    // Assess
    expect(unknown).toEqual([]);
  });

  it('no folder imports one it may not (and nothing in lib/ imports functions/, local/ or test/)', () => {
    // Act
    const problems = crossings(files, (file) => readFileSync(file, 'utf8'));

    // Assess
    expect(problems).toEqual([]);
  });

  it('the check catches a sideways import and an upward one', () => {
    // Prepare: a ledger file reaching into workspace/, and a platform file reaching up into pipeline/
    const fake: Record<string, string> = {
      [path.join(LIB, 'ledger/x.ts')]: "import type { WorkspaceClient } from '../workspace/client.js';",
      [path.join(LIB, 'platform/y.ts')]: "const m = await import('../pipeline/settlement.js');",
      [path.join(LIB, 'ways-in/z.ts')]: "export { handler } from '../../functions/queue.js';",
    };

    // Act
    const problems = crossings(Object.keys(fake), (file) => fake[file]!);

    // Assess
    expect(problems).toEqual([
      'ledger/x.ts imports ../workspace/client.js (ledger → workspace)',
      'platform/y.ts imports ../pipeline/settlement.js (platform → pipeline)',
      'ways-in/z.ts imports ../../functions/queue.js (ways-in → outside)',
    ]);
  });
});

/** The import cycles among these files (each as the files around it, the first repeated at the end). */
function cycles(files: readonly string[], read: (file: string) => string): string[] {
  const known = new Set(files);
  const edges = new Map(
    files.map((file) => [
      file,
      relativeImports(read(file))
        .map((spec) => path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts'))
        .filter((to) => known.has(to)),
    ]),
  );
  const found: string[] = [];
  const done = new Set<string>();
  const visit = (file: string, trail: string[]): void => {
    const at = trail.indexOf(file);
    if (at >= 0) {
      found.push([...trail.slice(at), file].map((f) => path.relative(LIB, f)).join(' → '));
      return;
    }
    if (done.has(file)) return;
    for (const next of edges.get(file) ?? []) visit(next, [...trail, file]);
    done.add(file);
  };
  for (const file of files) visit(file, []);
  return found;
}

describe('no file of lib/ imports itself through others', () => {
  it('lib/ has no import cycle, inside a folder or across folders (type imports included)', () => {
    // Act
    const found = cycles(sourceFiles(LIB), (file) => readFileSync(file, 'utf8'));

    // Assess
    expect(found).toEqual([]);
  });

  it('the check catches a circle of three files', () => {
    // Prepare
    const [a, b, c] = ['pipeline/a.ts', 'pipeline/b.ts', 'pipeline/c.ts'].map((f) => path.join(LIB, f));
    const fake: Record<string, string> = {
      [a!]: "import { b } from './b.js';",
      [b!]: "import type { C } from './c.js';",
      [c!]: "export { a } from './a.js';",
    };

    // Act
    const found = cycles(Object.keys(fake), (file) => fake[file]!);

    // Assess
    expect(found).toEqual(['pipeline/a.ts → pipeline/b.ts → pipeline/c.ts → pipeline/a.ts']);
  });
});

describe('the operator tools stand on lib/ alone', () => {
  it('ops/ imports nothing from local/, functions/ or test/ (an operator runs it against AWS, without the local stack)', () => {
    // Prepare
    const OPS = path.resolve(__dirname, '../../ops');
    const forbidden = ['local', 'functions', 'test'].map(
      (folder) => path.resolve(__dirname, '../..', folder) + path.sep,
    );

    // Act
    const problems = sourceFiles(OPS).flatMap((file) =>
      relativeImports(readFileSync(file, 'utf8'))
        .filter((spec) => forbidden.some((dir) => path.resolve(path.dirname(file), spec).startsWith(dir)))
        .map((spec) => `${path.relative(OPS, file)} imports ${spec}`),
    );

    // Assess
    expect(problems).toEqual([]);
  });
});
