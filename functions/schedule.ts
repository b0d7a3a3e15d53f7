import type { ScheduledEvent } from 'aws-lambda';
import { loadConfig } from '../lib/config/app-config.js';
import { loadSweepConfig } from '../lib/config/sweep-config.js';
import { atColdStart, countSweepProject } from '../lib/platform/observability.js';
import { handlerWithKeys, invocationDeps } from '../lib/ways-in/lambda-handler.js';
import { createRuntime } from '../lib/ways-in/runtime.js';
import { type ProjectSummary, runSweep } from '../lib/ways-in/sweep.js';

/** sweepOnSchedule: finds failed executions whose events were lost and puts them through the pipeline. */
const config = atColdStart(() => loadConfig());
const sweep = atColdStart(() => loadSweepConfig(process.env, config.endpoints, config.worstCaseCallMs));
const runtime = createRuntime(config);

export const handler = handlerWithKeys<ScheduledEvent, { projects: ProjectSummary[] }>(config).handler(
  async (_event, context) => {
    const result = await runSweep({ ...(await invocationDeps(runtime, context)), sweep });
    result.projects.forEach(countSweepProject);
    return result;
  },
);
