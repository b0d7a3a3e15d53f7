import { loadConfig } from '../lib/config/app-config.js';
import { loadSweepConfig } from '../lib/config/sweep-config.js';
import { loadIngressConfig } from '../lib/ingress/ingress-config.js';
import { type EndpointOverrides, parseEndpointOverrides } from '../lib/workspace/endpoints.js';

/**
 * The deploy parameters checked before anything is packaged (docs/deploy.md,
 * "Checked before it ships"): each function's environment, as the packaged
 * template will give it, goes through the loaders that function runs at cold
 * start, so a value it would refuse in AWS is refused here, naming the
 * parameter, the variable and the field. Pure: deploy/params-plugin.mjs
 * hands it the resolved service and applies what it decides.
 */

/** One function as osls resolved it. */
export interface FunctionInput {
  readonly handler: string;
  /** provider.environment merged with the function's own, as the template will have it. */
  readonly environment: Readonly<Record<string, unknown>>;
  readonly timeout?: number | string | undefined;
}

export interface DeployInput {
  readonly region: string;
  readonly functions: Readonly<Record<string, FunctionInput>>;
  /** resources.Resources: what a `Ref` in an environment names, and the failure queue's settings. */
  readonly resources: Readonly<
    Record<string, { readonly Type: string; readonly Properties?: Readonly<Record<string, unknown>> }>
  >;
  /** resources.Parameters: a `Ref` to one reads its default. */
  readonly parameters: Readonly<Record<string, { readonly Default?: unknown }>>;
  /** serverless.yml as written, to name the osls param behind each variable. */
  readonly configText: string;
}

export interface DeployCheck {
  /** One line per problem: the param, the variable and field, what is wrong, and which functions read it. */
  readonly problems: readonly string[];
  /** Functions whose schedule must not run, with the reason (the sweep with no project to sweep). */
  readonly unscheduled: ReadonlyArray<{ readonly fn: string; readonly reason: string }>;
}

type Kind = 'queue' | 'sweep' | 'manual' | 'ingress';
const KIND_OF_HANDLER: Readonly<Record<string, Kind>> = {
  'functions/queue.handler': 'queue',
  'functions/schedule.handler': 'sweep',
  'functions/manual.handler': 'manual',
  'functions/ingress.handler': 'ingress',
};

/** The value a function will see for a variable: a string, or for a CloudFormation reference what it resolves to. */
function resolve(value: unknown, input: DeployInput): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object') return String(value);
  const ref = (value as { Ref?: unknown }).Ref;
  if (typeof ref !== 'string')
    throw new Error(`a CloudFormation expression the check cannot read: ${JSON.stringify(value)}`);
  if (ref in input.parameters) return String(input.parameters[ref]!.Default ?? '');
  const resource = input.resources[ref];
  const properties = resource?.Properties ?? {};
  // What Ref returns for the types an environment names here: a queue's URL, a table's or a parameter's name.
  if (resource?.Type === 'AWS::SQS::Queue')
    return `https://sqs.${input.region}.amazonaws.com/000000000000/${String(properties['QueueName'] ?? ref)}`;
  if (resource?.Type === 'AWS::DynamoDB::Table') return String(properties['TableName'] ?? ref);
  if (resource?.Type === 'AWS::SSM::Parameter') return String(properties['Name'] ?? ref);
  throw new Error(`Ref ${ref}: not a parameter or a resource the check knows`);
}

/**
 * The osls param behind each variable, read from serverless.yml as written:
 * `VAR: ${param:name}`, through a `{ Ref: Parameter }` param to the
 * CloudFormation parameter whose default is `${param:other}`.
 */
export function paramsOfVariables(configText: string): Map<string, string> {
  const viaRef = new Map(
    [...configText.matchAll(/^\s+(\w+):\s*\{\s*Ref:\s*(\w+)\s*\}\s*$/gm)].map((m) => [m[1]!, m[2]!]),
  );
  const defaults = new Map(
    [...configText.matchAll(/^\s+(\w+):\n\s+Type: String\n\s+Default: '\$\{param:(\w+)\}'/gm)].map((m) => [
      m[1]!,
      m[2]!,
    ]),
  );
  const params = new Map<string, string>();
  for (const [, variable, param] of configText.matchAll(/^\s+([A-Z][A-Z0-9_]*):\s*\$\{param:(\w+)\}/gm)) {
    const parameter = viaRef.get(param!);
    params.set(variable!, (parameter && defaults.get(parameter)) ?? param!);
  }
  return params;
}

/** A loader's message, split into its problems (each starts with the variable's name). */
function problemsOf(error: unknown): string[] {
  return (error as Error).message.split('; ').filter(Boolean);
}

function environmentOf(fn: FunctionInput, input: DeployInput): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(fn.environment).map(([name, value]) => [name, resolve(value, input)]));
}

/** What the function would refuse at cold start, as problem lines naming their variable. */
function refusals(kind: Kind, env: Record<string, string | undefined>): { problems: string[]; sweepProjects?: number } {
  const attempt = (load: () => void): string[] => {
    try {
      load();
      return [];
    } catch (error) {
      return problemsOf(error);
    }
  };
  if (kind === 'ingress') {
    // Without an SMN topic or a token the ingress has no URL (serverless.yml, condition HasIngress): nothing reaches
    // it.
    if (!env['TRUSTED_TOPIC_URNS']?.trim() && !env['INGRESS_TOKEN_SECRET_ID']?.trim()) return { problems: [] };
    return { problems: attempt(() => loadIngressConfig(env)) };
  }
  let config: ReturnType<typeof loadConfig> | undefined;
  const problems = attempt(() => {
    config = loadConfig(env);
  });
  if (kind !== 'sweep') return { problems };
  // The sweep's own variables are checked even when the others are wrong, so every problem shows at once.
  let endpoints: EndpointOverrides;
  try {
    endpoints = config?.endpoints ?? parseEndpointOverrides(env['WORKSPACE_ENDPOINTS']);
  } catch {
    return { problems }; // WORKSPACE_ENDPOINTS is reported above
  }
  let sweepProjects: number | undefined;
  problems.push(
    ...attempt(() => {
      sweepProjects = loadSweepConfig(env, endpoints, config?.worstCaseCallMs).projects.length;
    }),
  );
  return { problems, sweepProjects };
}

/** Checks across functions and resources that no single function's loader sees. */
function stackProblems(input: DeployInput, envs: ReadonlyMap<string, Record<string, string | undefined>>): string[] {
  const problems: string[] = [];
  const queue = Object.entries(input.functions).find(([, fn]) => KIND_OF_HANDLER[fn.handler] === 'queue');
  const visibility = Number(input.resources['FailureQueue']?.Properties?.['VisibilityTimeout']);
  if (queue && Number.isFinite(visibility)) {
    const timeout = Number(queue[1].timeout);
    if (visibility < 6 * timeout)
      problems.push(
        `queueVisibilityTimeoutSeconds: must be at least 6 × the queue function's timeout (${timeout} s, functionTimeoutSeconds), got ${visibility}: a message would come back while it is being handled`,
      );
    const lease = Number(envs.get(queue[0])?.['LEDGER_LEASE_SECONDS']);
    if (Number.isFinite(lease) && lease >= visibility)
      problems.push(
        `ledgerLeaseSeconds: must be below queueVisibilityTimeoutSeconds (${visibility}), got ${lease}: a redelivery would find its own claim still held`,
      );
  }
  return problems;
}

export function checkDeploy(input: DeployInput): DeployCheck {
  const params = paramsOfVariables(input.configText);
  const byProblem = new Map<string, string[]>();
  const unscheduled: Array<{ fn: string; reason: string }> = [];
  const envs = new Map<string, Record<string, string | undefined>>();
  for (const [name, fn] of Object.entries(input.functions)) {
    const kind = KIND_OF_HANDLER[fn.handler];
    if (!kind) continue;
    let env: Record<string, string | undefined>;
    try {
      env = environmentOf(fn, input);
    } catch (error) {
      byProblem.set(`${name}: ${(error as Error).message}`, [name]);
      continue;
    }
    envs.set(name, env);
    const { problems, sweepProjects } = refusals(kind, env);
    for (const problem of problems) {
      const variable = /^[A-Z][A-Z0-9_]*/.exec(problem)?.[0];
      const param = variable && params.get(variable);
      const line = param ? `${param}: ${problem}` : problem;
      byProblem.set(line, [...(byProblem.get(line) ?? []), name]);
    }
    if (sweepProjects === 0)
      unscheduled.push({ fn: name, reason: 'sweepProjects lists no project, so there is nothing to sweep' });
  }
  const lines = [...byProblem].map(([line, fns]) => `${line} (read by ${fns.join(', ')})`);
  return { problems: [...lines, ...stackProblems(input, envs)], unscheduled };
}
