import { loadConfig } from '../lib/config/app-config.js';
import { atColdStart } from '../lib/platform/observability.js';
import { handlerWithKeys, invocationDeps } from '../lib/ways-in/lambda-handler.js';
import { type ManualAnswer, runManual } from '../lib/ways-in/manual.js';
import { createRuntime } from '../lib/ways-in/runtime.js';

/** retryManually: the Lambda console's test event or `osls invoke`, answered synchronously per item. */
const config = atColdStart(() => loadConfig());
const runtime = createRuntime(config);

export const handler = handlerWithKeys<unknown, ManualAnswer>(config).handler(async (event, context) =>
  runManual(event, await invocationDeps(runtime, context)),
);
