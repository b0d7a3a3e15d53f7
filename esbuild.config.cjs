/**
 * The esbuild options of the deployed bundles, in one place. serverless.yml's
 * `custom.esbuild.config` points here (serverless-esbuild requires this file
 * and calls its export with the Serverless instance), and `npm run bench`
 * builds its bundles from `esbuildOptions` below, so the bundles it measures
 * are the bundles that ship. A `.cjs` file because serverless-esbuild loads it
 * with require(), and this package is "type": "module".
 */
/**
 * Node's own modules through require(), not `import`. An `import … from
 * "node:x"` left in an ESM bundle is linked before any code runs: every
 * builtin any bundled module names is loaded at cold start, even when only
 * code that never runs uses it (credential providers for other platforms,
 * the SDK's stream helpers), and each gets an ESM namespace that reads every
 * export, including node:http's lazy `WebSocket` getter that loads Node's
 * internal undici (20-30 ms on an idle machine). Handed to require() inside
 * esbuild's lazy module wrappers, a builtin is loaded when the code that
 * needs it first runs, and no namespace is built. An `import("node:x")` is
 * left as it is: it already loads the builtin when it runs, and in a split
 * bundle a shim chunk would answer only a default export, not the builtin's
 * names (`(await import("node:http")).Agent` would be undefined).
 */
const { readdirSync, readFileSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { builtinModules } = require('node:module');
const { basename, extname, join } = require('node:path');

const escape = (name) => name.replace(/[/]/g, '\\/');
const BUILTIN = new RegExp(
  `^(node:.+|${builtinModules
    .filter((m) => !m.startsWith('_'))
    .map(escape)
    .join('|')})$`,
);
const builtinsThroughRequire = {
  name: 'builtins-through-require',
  setup(build) {
    build.onResolve({ filter: BUILTIN }, (args) =>
      // The shim's own require() stays Node's, or it would resolve to itself.
      args.namespace === 'builtin-through-require' || args.kind === 'dynamic-import'
        ? { path: args.path.startsWith('node:') ? args.path : `node:${args.path}`, external: true }
        : { path: args.path.replace(/^node:/, ''), namespace: 'builtin-through-require' },
    );
    build.onLoad({ filter: /.*/, namespace: 'builtin-through-require' }, (args) => ({
      contents: LOADED_ON_FIRST_READ.has(args.path)
        ? loadedOnFirstRead(args.path)
        : `module.exports = require('node:${args.path}');`,
      loader: 'js',
    }));
  },
};
/**
 * Builtins loaded when one of their names is first read, not when the module
 * that imports them is: @middy/core imports web streams and stream/promises at
 * its top for streamed responses, which these functions never send (3-4 ms of
 * a cold start for node:stream/web and its internals). Only modules whose
 * exports are plain functions and classes are listed: a name is read from the
 * loaded module each time, so nothing that needs `this` to be the module, or
 * that is assigned to, may go through it.
 */
const LOADED_ON_FIRST_READ = new Set(['stream/web', 'stream/promises']);
function loadedOnFirstRead(name) {
  const names = Object.keys(require(`node:${name}`));
  return [
    `let loaded; const load = () => (loaded ??= require('node:${name}'));`,
    `for (const name of ${JSON.stringify(names)})`,
    '  Object.defineProperty(exports, name, { enumerable: true, get: () => load()[name] });',
  ].join('\n');
}

/**
 * One function's files, and only those, in its artifact. Code a function
 * loads with import() only when it needs it (the SQS client, on the first
 * send: lib/platform/sqs-client.ts) goes into a chunk of its own, so a cold
 * start neither reads nor compiles it. Each function is bundled on its own,
 * and its chunks go in `<function>.chunks/` beside its bundle: with
 * `package.individually`, serverless-esbuild leaves every file named
 * `<other function>.…` out of a function's zip, so each zip holds its bundle
 * and its own chunks, and none of the others'. Before a function is built,
 * what an earlier build left under its name is removed (`functions/queue.js`
 * and its chunks from `osls invoke local --stage local`, which builds `.js`
 * in the same folder and never cleans it): a deploy artifact never carries
 * another stage's bundle.
 */
const oneFunctionsFiles = {
  name: 'one-functions-files',
  setup(build) {
    const name = functionOf(build);
    build.initialOptions.chunkNames = `${name}.chunks/[name]-[hash]`;
    build.onStart(() => ownFiles(build, name).forEach((file) => rmSync(file, { recursive: true, force: true })));
  },
};
/** The function a build bundles (`queue` for functions/queue.ts): serverless-esbuild builds each on its own. */
function functionOf(build) {
  const entries = [build.initialOptions.entryPoints ?? []].flat();
  if (entries.length !== 1)
    throw new Error(`esbuild.config.cjs: one function per build, got ${entries.length} entry points`);
  const entry = typeof entries[0] === 'string' ? entries[0] : entries[0].in;
  return basename(entry, extname(entry));
}
/** What lies in the output folder under the function's name (`queue.mjs`, `queue.mjs.map`, `queue.chunks`), not another function's. */
function ownFiles(build, name) {
  const dir = build.initialOptions.outdir;
  if (!dir) return [];
  try {
    return readdirSync(dir)
      .filter((file) => file.startsWith(`${name}.`))
      .map((file) => join(dir, file));
  } catch {
    return [];
  }
}

/**
 * Source maps that stay useful without doubling the artifact or a cold
 * start. Lambda runs with --enable-source-maps (serverless.yml), so a stack
 * trace names the TypeScript file, line and function of every frame in our
 * own code (lib/, functions/), and its column to the nearest named token
 * (test/integration/source-maps.test.ts). A frame in a dependency names its
 * package: each run of a dependency's code is mapped to
 * `node_modules/<package>`, not to its lines, and no source text is
 * embedded. A full map was five times the bundle (1.2 MB beside 228 KB).
 * Node decodes a map whole when its module loads, so every segment is paid
 * for at a cold start: in our code only the first segment of each original
 * line and the named ones are kept (26,000 segments down to 12,000; the
 * queue function's cold import over an empty module went from 57-60 ms to
 * 44-48 ms, docs/performance.md).
 */
const packageOf = (source) => {
  const at = source.lastIndexOf('node_modules/');
  if (at < 0) return undefined;
  const [scope, name] = source.slice(at + 'node_modules/'.length).split('/');
  return `node_modules/${scope.startsWith('@') ? `${scope}/${name}` : scope}`;
};
function slimMap(file) {
  const { decode, encode } = require('@jridgewell/sourcemap-codec');
  const map = JSON.parse(readFileSync(file, 'utf8'));
  const sources = [];
  const names = [];
  const indexOf = (list, value) => (list.includes(value) ? list.indexOf(value) : list.push(value) - 1);
  const source = map.sources.map((s) => ({
    index: indexOf(sources, packageOf(s) ?? s),
    dependency: packageOf(s) !== undefined,
  }));
  const lines = decode(map.mappings).map((segments) => {
    let run;
    let line;
    return segments.flatMap((segment) => {
      if (segment.length === 1) return ((run = line = undefined), [segment]);
      const { index, dependency } = source[segment[1]];
      if (dependency) return run === index ? [] : ((run = index), (line = undefined), [[segment[0], index, 0, 0]]);
      run = undefined;
      // Our code: the first segment of each run on one original line, and every named one (Node names a frame's
      // function from the segment at the function's start). A position between two kept segments still maps to its
      // own file and line; only its column is the run's first.
      const here = `${index}:${segment[2]}`;
      if (segment.length === 4 && line === here) return [];
      line = here;
      return [
        segment.length === 5
          ? [segment[0], index, segment[2], segment[3], indexOf(names, map.names[segment[4]])]
          : [segment[0], index, segment[2], segment[3]],
      ];
    });
  });
  writeFileSync(file, JSON.stringify({ version: 3, file: map.file, sources, names, mappings: encode(lines) }));
}
const slimSourceMaps = {
  name: 'slim-source-maps',
  setup(build) {
    const name = functionOf(build);
    const maps = (path) =>
      statSync(path).isDirectory()
        ? readdirSync(path).flatMap((file) => maps(join(path, file)))
        : path.endsWith('.map')
          ? [path]
          : [];
    build.onEnd((result) => {
      if (!result.errors.length) ownFiles(build, name).flatMap(maps).forEach(slimMap);
    });
  },
};

const esbuildOptions = {
  bundle: true,
  minify: true,
  splitting: true,
  // linked: the bundle names its map (`//# sourceMappingURL=`), or --enable-source-maps finds none.
  sourcemap: 'linked',
  sourcesContent: false,
  target: 'node22',
  platform: 'node',
  format: 'esm',
  mainFields: ['module', 'main'],
  // Bundled CommonJS dependencies call require(); ESM has none, so give them one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  plugins: [builtinsThroughRequire, oneFunctionsFiles, slimSourceMaps],
};

/** serverless-esbuild's own options (not esbuild's): bundle the AWS SDK v3 too, so the versions we test are the versions we ship. */
const pluginOptions = { exclude: [] };

/**
 * For serverless-esbuild. The file extension and the build folder depend on
 * the stage (Lambda loads .mjs as ESM; `osls invoke local` only looks for
 * .js, and leaves its build behind), so they stay in serverless.yml as
 * `custom.esbuild.outputFileExtension` and `outputWorkFolder` and are read from there.
 */
module.exports = (serverless) => ({
  ...esbuildOptions,
  ...pluginOptions,
  outputFileExtension: serverless.service.custom.esbuild.outputFileExtension,
  outputWorkFolder: serverless.service.custom.esbuild.outputWorkFolder,
});
module.exports.esbuildOptions = esbuildOptions;
