/**
 * A local osls plugin (serverless.yml `plugins`): before `osls package` or
 * `osls deploy` builds anything, and before `osls deploy function`, it checks
 * the parameters with the functions' own configuration loaders
 * (deploy/deploy-check.ts) and refuses what they would refuse at cold start,
 * naming the parameter, the variable and the problem. It needs no AWS
 * credentials. It also creates the sweep's schedule disabled, and says why,
 * when there is no project to sweep.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tsImport } from 'tsx/esm/api';

export default class ParamsCheckPlugin {
  constructor(serverless, _options, { log }) {
    this.serverless = serverless;
    this.log = log;
    this.hooks = {
      'before:package:initialize': () => this.check(),
      'before:deploy:function:initialize': () => this.check(),
    };
  }

  async check() {
    const { checkDeploy } = await tsImport('./deploy-check.ts', import.meta.url);
    const service = this.serverless.service;
    const shared = service.provider.environment ?? {};
    const functions = Object.fromEntries(
      Object.entries(service.functions ?? {}).map(([name, fn]) => [
        name,
        {
          handler: fn.handler,
          environment: { ...shared, ...(fn.environment ?? {}) },
          timeout: fn.timeout ?? service.provider.timeout,
        },
      ]),
    );
    const result = checkDeploy({
      region: service.provider.region ?? 'us-east-1',
      functions,
      resources: service.resources?.Resources ?? {},
      parameters: service.resources?.Parameters ?? {},
      configText: await readFile(join(this.serverless.serviceDir, this.serverless.configurationFilename), 'utf8'),
    });
    if (result.problems.length > 0) {
      throw new this.serverless.classes.Error(
        `The deploy parameters would stop the functions at cold start; nothing was packaged:\n  - ${result.problems.join('\n  - ')}\n(docs/deploy.md lists every parameter)`,
        'WORKSPACE_SCRIPT_RETRY_PARAMS',
      );
    }
    for (const { fn, reason } of result.unscheduled) {
      for (const event of service.functions[fn].events ?? []) {
        if (!event.schedule) continue;
        event.schedule.enabled = false;
        event.schedule.description = `Disabled at package time: ${reason}`;
      }
      this.log.notice(
        `${fn}: its schedule is created disabled: ${reason} (deploy with --param='sweepProjects=[{"project_id":"…"}]')`,
      );
    }
  }
}
