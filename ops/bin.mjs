#!/usr/bin/env node
/**
 * `workspace-script-retry-ops …`: the operator's command line (ops/cli.ts) as
 * an installed bin (package.json `bin`; `npm link` or a global install puts
 * it on the PATH), with the same arguments as `npm run ops -- …`. tsx, which
 * `npm run ops` uses, loads the TypeScript.
 */
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2));
