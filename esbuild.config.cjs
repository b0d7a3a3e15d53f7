/**
 * The esbuild options of the deployed bundles, in one place. serverless.yml's
 * `custom.esbuild.config` points here (serverless-esbuild requires this file
 * and calls its export with the Serverless instance), and `npm run bench`
 * builds its bundles from `esbuildOptions` below, so the bundles it measures
 * are the bundles that ship. A `.cjs` file because serverless-esbuild loads it
 * with require(), and this package is "type": "module".
 */
/**
 * `import … from "node:http"` in ESM builds the module's ESM namespace, which
 * reads every export, including the lazy `WebSocket` getter that loads Node's
 * internal undici (fetch, WebSocket, …): 20-30 ms of a cold start on an idle
 * machine, for nothing. The AWS SDK's ESM build imports http/https that way;
 * this plugin hands them require() instead, which reads no getter.
 */
const httpThroughRequire = {
  name: 'http-through-require',
  setup(build) {
    build.onResolve({ filter: /^(node:)?https?$/ }, (args) =>
      // The shim's own require() stays Node's, or it would resolve to itself.
      args.namespace === 'http-through-require' ? { path: args.path, external: true } : { path: args.path.replace(/^node:/, ''), namespace: 'http-through-require' },
    );
    build.onLoad({ filter: /.*/, namespace: 'http-through-require' }, (args) => ({ contents: `module.exports = require('node:${args.path}');`, loader: 'js' }));
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
  plugins: [httpThroughRequire],
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
