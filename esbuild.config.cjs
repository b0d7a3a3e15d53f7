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
 * needs it first runs, and no namespace is built.
 */
const { builtinModules } = require('node:module');
const escape = (name) => name.replace(/[/]/g, '\\/');
const BUILTIN = new RegExp(`^(node:.+|${builtinModules.filter((m) => !m.startsWith('_')).map(escape).join('|')})$`);
const builtinsThroughRequire = {
  name: 'builtins-through-require',
  setup(build) {
    build.onResolve({ filter: BUILTIN }, (args) =>
      // The shim's own require() stays Node's, or it would resolve to itself.
      args.namespace === 'builtin-through-require' ? { path: args.path, external: true } : { path: args.path.replace(/^node:/, ''), namespace: 'builtin-through-require' },
    );
    build.onLoad({ filter: /.*/, namespace: 'builtin-through-require' }, (args) => ({ contents: `module.exports = require('node:${args.path}');`, loader: 'js' }));
  },
};

const esbuildOptions = {
  bundle: true,
  minify: true,
  sourcemap: 'external',
  target: 'node22',
  platform: 'node',
  format: 'esm',
  mainFields: ['module', 'main'],
  // Bundled CommonJS dependencies call require(); ESM has none, so give them one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  plugins: [builtinsThroughRequire],
};

/** serverless-esbuild's own options (not esbuild's): bundle the AWS SDK v3 too, so the versions we test are the versions we ship. */
const pluginOptions = { exclude: [] };

/**
 * For serverless-esbuild. The file extension depends on the stage (Lambda
 * loads .mjs as ESM; `osls invoke local` only looks for .js), so it stays in
 * serverless.yml as `custom.esbuild.outputFileExtension` and is read from there.
 */
module.exports = (serverless) => ({
  ...esbuildOptions,
  ...pluginOptions,
  outputFileExtension: serverless.service.custom.esbuild.outputFileExtension,
});
module.exports.esbuildOptions = esbuildOptions;
