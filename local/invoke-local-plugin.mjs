/**
 * A local osls plugin (serverless.yml `plugins`, after serverless-esbuild)
 * for `osls invoke local`: once serverless-esbuild has written the bundles it
 * lets go of its esbuild build contexts, which it would otherwise release only
 * after a successful invoke. A function that fails its cold start (a bad
 * variable) made the invoke fail with esbuild's service process still held,
 * and `osls invoke local` printed the error and never exited.
 */
export default class InvokeLocalPlugin {
  constructor(serverless) {
    this.hooks = {
      'before:invoke:local:invoke': async () => {
        const esbuild = serverless.pluginManager.plugins.find(
          (plugin) => plugin.constructor.name === 'EsbuildServerlessPlugin',
        );
        await esbuild?.disposeContexts?.();
      },
    };
  }
}
