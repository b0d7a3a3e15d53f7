import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_VARIABLES } from '../../lib/config/app-config.js';
import { SWEEP_VARIABLES } from '../../lib/config/sweep-config.js';
import { INGRESS_VARIABLES } from '../../lib/ingress/ingress-config.js';
import { METRIC, METRIC_NAMES } from '../../lib/platform/metric-names.js';
import { cfnGuardFailures } from '../helpers/cfn-guard.js';
import { applyConditions, conditionHolds } from '../helpers/template-conditions.js';
import { alarmMetrics, dashboardMetrics } from '../helpers/template-metrics.js';
import { zipEntries } from '../helpers/zip-entries.js';

/**
 * `osls package` with no AWS credentials, and the CloudFormation it produces:
 * with the defaults (`--stage prod`, what an operator would try first), and
 * with everything configured; and what it refuses to package.
 */
type Resource = {
  Type: string;
  Properties: Record<string, any>;
  Condition?: string;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};
type Template = {
  Resources: Record<string, Resource>;
  Conditions: Record<string, unknown>;
  Parameters: Record<string, any>;
  Outputs: Record<string, any>;
};
const dirs: string[] = [];
let template: Template;
let resources: Record<string, Resource>;
let defaults: Template;
let defaultsDir: string;
let configuredDir: string;
let state: { service: { provider: { stackTags?: Record<string, string> } } };

const SAMPLE_PROJECT = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const TOPIC = `urn:smn:cn-north-4:${SAMPLE_PROJECT}:workspace-script-failures`;
const KMS_KEY = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const CONFIGURED = [
  '--stage',
  'test',
  '--param=ingressTokenSecretName=workspace-script-retry/ingress-token',
  `--param=trustedTopicUrns=${TOPIC}`,
  `--param=sweepProjects=[{"project_id":"${SAMPLE_PROJECT}"}]`,
  `--param=secretsKmsKeyArn=${KMS_KEY}`,
];

/** osls as the hook and an operator run it: no AWS credentials, a fresh HOME. */
async function osls(args: readonly string[]): Promise<{ code: number; output: string }> {
  const home = await mkdtemp(join(tmpdir(), 'wsr-osls-home-'));
  dirs.push(home);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    AWS_PROFILE: 'none',
    AWS_CONFIG_FILE: join(home, 'none'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'none'),
  };
  for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) delete env[key];
  return promisify(execFile)('node_modules/.bin/osls', args, { env, timeout: 240_000 }).then(
    (out) => ({ code: 0, output: out.stdout + out.stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code ?? 1,
      output: `${error.stdout ?? ''}${error.stderr ?? ''}`,
    }),
  );
}

async function packaged(args: readonly string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wsr-package-'));
  dirs.push(dir);
  const result = await osls(['package', '--package', dir, ...args]);
  if (result.code !== 0) throw new Error(`osls package ${args.join(' ')} failed:\n${result.output}`);
  return dir;
}

const templateIn = async (dir: string): Promise<Template> =>
  JSON.parse(await readFile(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'));

beforeAll(async () => {
  // One after the other: serverless-esbuild builds in the service's own .esbuild/.
  const dir = (configuredDir = await packaged(CONFIGURED));
  template = await templateIn(dir);
  resources = template.Resources;
  state = JSON.parse(await readFile(join(dir, 'serverless-state.json'), 'utf8'));
  defaultsDir = await packaged(['--stage', 'prod']);
  defaults = await templateIn(defaultsDir);
}, 600_000);
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

/** Each function's CloudFormation resource and the module its handler is in (serverless.yml). */
const FUNCTIONS = {
  RetryFromQueueLambdaFunction: 'queue',
  SweepOnScheduleLambdaFunction: 'schedule',
  RetryManuallyLambdaFunction: 'manual',
  IngestEventsLambdaFunction: 'ingress',
};

const ofType = (type: string, from: Template = template) =>
  Object.entries(from.Resources).filter(([, r]) => r.Type === type);

describe('the packaged CloudFormation', () => {
  it('runs every function on nodejs22.x, arm64', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThanOrEqual(1);
    for (const [, f] of functions)
      expect(f.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'] });
  });

  it('maps the queue with ReportBatchItemFailures, batching and maximum concurrency', () => {
    const [[, mapping]] = ofType('AWS::Lambda::EventSourceMapping') as [[string, Resource]];
    expect(mapping.Properties).toMatchObject({
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 5,
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    expect(mapping.Properties['EventSourceArn']).toEqual({ 'Fn::GetAtt': ['FailureQueue', 'Arn'] });
  });

  it('gives the queue a visibility timeout of at least 6 x the function timeout, 14-day retention and redrive to the DLQ', () => {
    const queue = resources['FailureQueue']!.Properties;
    const timeout = resources['RetryFromQueueLambdaFunction']!.Properties['Timeout'] as number;
    expect(queue['VisibilityTimeout']).toBeGreaterThanOrEqual(6 * timeout);
    expect(queue['MessageRetentionPeriod']).toBe(1_209_600);
    expect(queue['RedrivePolicy']).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] },
      maxReceiveCount: 5,
    });
    expect(resources['DeadLetterQueue']!.Properties['MessageRetentionPeriod']).toBe(1_209_600);
  });

  it('passes cfn-lint with the defaults and configured (errors and warnings; .cfnlintrc.yaml holds the justified exceptions), when cfn-lint is on the PATH', async (ctx) => {
    const lint = await promisify(execFile)('cfn-lint', ['--version']).then(
      () => true,
      () => false,
    );
    if (!lint) {
      console.warn(
        'cfn-lint is NOT on the PATH: the packaged template was not linted (pip install cfn-lint to lint it)',
      );
      ctx.skip();
    }
    const templates = [defaultsDir, configuredDir].map((d) => join(d, 'cloudformation-template-update-stack.json'));
    const result = await promisify(execFile)('cfn-lint', ['--config-file', '.cfnlintrc.yaml', '--', ...templates], {
      timeout: 120_000,
    }).then(
      (out) => ({ code: 0, output: out.stdout + out.stderr }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({
        code: error.code,
        output: `${error.stdout ?? ''}${error.stderr ?? ''}`,
      }),
    );
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  }, 150_000);

  it('keeps the ledger table on demand, with TTL and point-in-time recovery', () => {
    expect(resources['LedgerTable']!.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('scopes IAM to the exact resources: no "*" resource for SQS, Secrets Manager or DynamoDB', () => {
    const statements = applyConditions(
      ofType('AWS::IAM::Role').flatMap(([, role]) =>
        role.Properties['Policies'].flatMap((p: any) => p.PolicyDocument.Statement),
      ),
      template,
    ) as any[];
    expect(statements.length).toBeGreaterThan(0);
    const scoped = statements.filter((s: any) =>
      [s.Action].flat().some((a: string) => /^(sqs|secretsmanager|dynamodb|ssm|kms):/.test(a)),
    );
    expect(scoped.length).toBeGreaterThanOrEqual(5);
    for (const statement of scoped) {
      for (const resource of [statement.Resource].flat())
        expect(JSON.stringify(resource)).not.toMatch(/^"\*"$|:\*"|\/\*"/);
    }
    const secret = scoped.find((s: any) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
    expect(secret.Resource).toEqual({
      'Fn::Sub':
        'arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${CredentialsSecretName}-??????',
    });
    expect(template.Parameters['CredentialsSecretName'].Default).toBe('workspace-script-retry/credentials');
  });

  it('gives each function only what it needs: only the queue function may receive from the queue', () => {
    const roleOf = (fn: string) => resources[fn]!.Properties['Role']['Fn::GetAtt'][0] as string;
    const actions = (role: string) =>
      resources[role]!.Properties['Policies'].flatMap((p: any) =>
        p.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()),
      );
    expect(actions(roleOf('RetryFromQueueLambdaFunction'))).toContain('sqs:ReceiveMessage');
    for (const fn of ['SweepOnScheduleLambdaFunction', 'RetryManuallyLambdaFunction']) {
      expect(actions(roleOf(fn))).not.toContain('sqs:ReceiveMessage');
      expect(actions(roleOf(fn))).toContain('secretsmanager:GetSecretValue');
    }
  });

  it('runs the sweep on its schedule with the projects to sweep', () => {
    const [[, rule]] = ofType('AWS::Events::Rule') as [[string, Resource]];
    expect(rule.Properties).toMatchObject({ ScheduleExpression: 'rate(10 minutes)', State: 'ENABLED' });
    expect(resources['SweepOnScheduleLambdaFunction']!.Properties['Environment'].Variables).toMatchObject({
      SWEEP_PROJECTS: `[{"project_id":"${SAMPLE_PROJECT}"}]`,
      SWEEP_LOOKBACK_MINUTES: '60',
    });
  });

  it('passes queue URLs and the table name in from CloudFormation, not rebuilt by the code', () => {
    const variables = resources['RetryFromQueueLambdaFunction']!.Properties['Environment'].Variables;
    expect(variables).toMatchObject({
      DLQ_URL: { Ref: 'DeadLetterQueue' },
      SOURCE_QUEUE_URL: { Ref: 'FailureQueue' },
      LEDGER_TABLE: { Ref: 'LedgerTable' },
    });
  });

  it('puts the ingress behind a public Function URL (auth NONE: it verifies every request itself) with a reserved concurrency', () => {
    expect(resources['IngestEventsLambdaFunctionUrl']!.Properties).toEqual({
      AuthType: 'NONE',
      TargetFunctionArn: { 'Fn::GetAtt': ['IngestEventsLambdaFunction', 'Arn'] },
    });
    const fn = resources['IngestEventsLambdaFunction']!.Properties;
    expect(fn).toMatchObject({ ReservedConcurrentExecutions: 5, Timeout: 10, Handler: 'functions/ingress.handler' });
    expect(fn['Environment'].Variables).toMatchObject({
      FAILURE_QUEUE_URL: { Ref: 'FailureQueue' },
      SMN_CERT_HOSTS: 'smn.*.myhuaweicloud.com',
      INGRESS_TOKEN_SECRET_ID: { Ref: 'IngressTokenSecretName' },
      TRUSTED_TOPIC_URNS: { Ref: 'TrustedTopicUrns' },
    });
    // The secret's name and the topics are stack parameters (so the conditions on them are not fixed at package time),
    // defaulting to the osls params.
    expect(template.Parameters.IngressTokenSecretName.Default).toBe('workspace-script-retry/ingress-token');
    expect(template.Parameters.TrustedTopicUrns.Default).toBe(TOPIC);
    expect(conditionHolds(template, 'HasIngress')).toBe(true);
  });

  it('gives the ingress its own role: send to the failure queue, read its token secret, write its logs, nothing else', () => {
    const role = resources['IngestEventsLambdaFunction']!.Properties['Role']['Fn::GetAtt'][0] as string;
    expect(role).toBe('IngressFunctionRole');
    const statements = resources[role]!.Properties['Policies'].flatMap((p: any) => p.PolicyDocument.Statement);
    // Statements under a condition (the token secret, only when one is named; its KMS key) are checked as they would
    // apply.
    const applied = applyConditions(statements, template) as any[];
    expect(applied.map((s: any) => [s.Action, s.Resource])).toEqual([
      [
        ['logs:CreateLogStream', 'logs:PutLogEvents'],
        { 'Fn::Sub': expect.stringMatching(/log-group:\/aws\/lambda\/workspace-script-retry-test-ingestEvents:\*$/) },
      ],
      [['sqs:SendMessage'], { 'Fn::GetAtt': ['FailureQueue', 'Arn'] }],
      [
        ['secretsmanager:GetSecretValue'],
        { 'Fn::Sub': expect.stringMatching(/:secret:\$\{IngressTokenSecretName\}-\?{6}$/) },
      ],
      [['kms:Decrypt'], { Ref: 'SecretsKmsKeyArn' }],
    ]);
    expect(applied.every((s: any) => s.Effect === 'Allow')).toBe(true);
  });

  it("packages each function on its own: its handler's ESM bundle, the chunks it loads later, their source maps, and nothing of another function", async () => {
    for (const [logicalId, fn] of Object.entries(FUNCTIONS)) {
      // Prepare
      const { Code, Handler } = resources[logicalId]!.Properties;
      const artifact = String(Code.S3Key).split('/').pop()!;

      // Act
      const names = (await zipEntries(join(configuredDir, artifact))).map((e) => e.name);

      // Assess
      expect(Handler).toBe(`functions/${fn}.handler`);
      expect(names).toContain(`functions/${fn}.mjs`);
      expect(names).toContain(`functions/${fn}.mjs.map`);
      expect(
        names.filter((name) => !new RegExp(`^functions/${fn}(\\.mjs|\\.chunks/[\\w-]+\\.mjs)(\\.map)?$`).test(name)),
      ).toEqual([]);
    }
  });

  it('ships source maps that add less to an artifact than its code does', async () => {
    for (const artifact of Object.keys(FUNCTIONS).map(
      (logicalId) => String(resources[logicalId]!.Properties.Code.S3Key).split('/').pop()!,
    )) {
      const entries = await zipEntries(join(configuredDir, artifact));
      const compressed = (maps: boolean) =>
        entries.filter((e) => e.name.endsWith('.map') === maps).reduce((sum, e) => sum + e.compressedBytes, 0);
      expect(compressed(true)).toBeLessThan(compressed(false));
    }
  });
});

describe("the operator's view in the packaged CloudFormation", () => {
  const environment = () =>
    resources['RetryFromQueueLambdaFunction']!.Properties['Environment'].Variables as Record<string, string>;
  const alarms = () => ofType('AWS::CloudWatch::Alarm');

  it("sends every alarm, and its return to OK, to the stack's own topic, and also to alarmTopicArn when one is given", () => {
    expect(resources['AlarmTopic']!.Type).toBe('AWS::SNS::Topic');
    // A list either way (AWS's proactive control CT.CLOUDWATCH.PR.1 wants one), the second entry only with
    // alarmTopicArn.
    const actions = [
      { Ref: 'AlarmTopic' },
      { 'Fn::If': ['HasAlarmTopic', { Ref: 'AlarmTopicArn' }, { Ref: 'AWS::NoValue' }] },
    ];
    expect(alarms().length).toBeGreaterThanOrEqual(8);
    for (const [, alarm] of alarms())
      expect(alarm.Properties).toMatchObject({ AlarmActions: actions, OKActions: actions });
    expect(template.Conditions['HasAlarmTopic']).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmTopicArn' }, ''] }],
    });
    expect(template.Parameters['AlarmTopicArn']).toMatchObject({ Type: 'String', Default: '' });
    expect(template.Outputs).toHaveProperty('AlarmTopicArn');
  });

  it('subscribes alarmEmail to the alarm topic only when an address is given', () => {
    const subscription = resources['AlarmEmailSubscription']!;
    expect(subscription).toMatchObject({
      Type: 'AWS::SNS::Subscription',
      Condition: 'HasAlarmEmail',
      Properties: { TopicArn: { Ref: 'AlarmTopic' }, Protocol: 'email', Endpoint: { Ref: 'AlarmEmail' } },
    });
    expect(template.Conditions['HasAlarmEmail']).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmEmail' }, ''] }],
    });
  });

  it('alarms on new dead letters, failures waiting too long, function errors and throttles, and a circuit left open', () => {
    const watched = alarms().flatMap(([, a]) => alarmMetrics(a.Properties).map((m) => `${m.namespace}/${m.name}`));
    expect(watched).toEqual(
      expect.arrayContaining([
        'AWS/SQS/ApproximateNumberOfMessagesVisible',
        'AWS/SQS/ApproximateAgeOfOldestMessage',
        'AWS/Lambda/Errors',
        'AWS/Lambda/Throttles',
        `${environment()['POWERTOOLS_METRICS_NAMESPACE']}/CircuitOpened`,
      ]),
    );
    expect(resources['FailureQueueOldestMessageAlarm']!.Properties['Dimensions'][0].Value).toEqual({
      'Fn::GetAtt': ['FailureQueue', 'QueueName'],
    });
    const errors = alarmMetrics(resources['FunctionErrorsAlarm']!.Properties).map((m) => JSON.stringify(m.dimensions));
    for (const fn of ofType('AWS::Lambda::Function').map(([id]) => id))
      expect(errors.join()).toContain(`{"Ref":"${fn}"}`);
  });

  it('has a dashboard with outcomes, API errors by code, both queues, the functions and the sweep per project', () => {
    const metrics = dashboardMetrics(resources['Dashboard']!.Properties['DashboardBody']);
    const names = metrics.map((m) => m.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'Retried',
        'DeadLettered',
        'Deferred',
        'Duplicate',
        'NotFailed',
        'ApiError',
        'SweepRecords',
        'CircuitOpened',
      ]),
    );
    expect(names).toEqual(
      expect.arrayContaining([
        'ApproximateNumberOfMessagesVisible',
        'ApproximateAgeOfOldestMessage',
        'Duration',
        'Errors',
      ]),
    );
    expect(metrics.find((m) => m.name === 'ApiError')?.dimensions).toContain('ErrorCode');
    expect(metrics.find((m) => m.name === 'SweepRecords')?.dimensions).toEqual(
      expect.arrayContaining(['ProjectId', 'Outcome']),
    );
    const queues = metrics.filter((m) => m.namespace === 'AWS/SQS').map((m) => m.dimensions.join());
    expect(queues).toEqual(
      expect.arrayContaining(['QueueName,${DeadLetterQueue.QueueName}', 'QueueName,${FailureQueue.QueueName}']),
    );
  });

  it("has the ingress's metrics (lib/platform/metric-names.ts) and its throttles on the dashboard, and alarms on its refusals", () => {
    const metrics = dashboardMetrics(resources['Dashboard']!.Properties['DashboardBody']);
    expect(metrics.map((m) => m.name)).toEqual(
      expect.arrayContaining([METRIC.ingressEnqueued, METRIC.ingressRefused, METRIC.ingressUnavailable]),
    );
    expect(metrics.filter((m) => m.name === 'Throttles').map((m) => JSON.stringify(m.dimensions))).toContain(
      '["FunctionName","${IngestEventsLambdaFunction}"]',
    );
    expect(alarmMetrics(resources['IngressRefusalsAlarm']!.Properties)).toEqual([
      expect.objectContaining({ name: METRIC.ingressRefused }),
    ]);
    expect(resources['IngressRefusalsAlarm']!.Properties).toMatchObject({
      Statistic: 'Sum',
      Period: 300,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('has the desktop metrics (desktops started, failures held back for their desktop) on the dashboard', () => {
    const metrics = dashboardMetrics(resources['Dashboard']!.Properties['DashboardBody']);
    expect(metrics.map((m) => m.name)).toEqual(expect.arrayContaining([METRIC.desktopWoken, METRIC.desktopNotReady]));
  });

  it("has the ledger table's throttles and errors on the dashboard", () => {
    const body = resources['Dashboard']!.Properties['DashboardBody'];
    const dynamo = dashboardMetrics(body).filter((m) => m.namespace === 'AWS/DynamoDB');
    expect(dynamo.map((m) => m.name).sort()).toEqual([
      'ReadThrottleEvents',
      'SystemErrors',
      'ThrottledRequests',
      'WriteThrottleEvents',
    ]);
    for (const metric of dynamo) expect(metric.dimensions).toContain('TableName');
    // Per table: the plain metrics name it as the dimension's value, the searches (per operation) as a term.
    expect(
      dynamo
        .filter((m) => m.dimensions.includes('${LedgerTable}'))
        .map((m) => m.name)
        .sort(),
    ).toEqual(['ReadThrottleEvents', 'WriteThrottleEvents']);
    expect(
      body['Fn::Sub'].match(
        /\{AWS\/DynamoDB,Operation,TableName\} MetricName=\\"\w+\\" TableName=\\"\$\{LedgerTable\}\\"/g,
      ),
    ).toHaveLength(2);
  });

  it('puts on the dashboard and the alarms only custom metrics the code emits (lib/platform/metric-names.ts), in its namespace and service', () => {
    const { POWERTOOLS_METRICS_NAMESPACE: namespace, POWERTOOLS_SERVICE_NAME: service } = environment();
    const custom = [
      ...dashboardMetrics(resources['Dashboard']!.Properties['DashboardBody']),
      ...alarms().flatMap(([, a]) => alarmMetrics(a.Properties)),
    ].filter((m) => !m.namespace.startsWith('AWS/'));
    expect(custom.length).toBeGreaterThanOrEqual(8);
    for (const metric of custom) {
      expect(METRIC_NAMES, `${metric.name} is on the dashboard or an alarm but nothing emits it`).toContain(
        metric.name,
      );
      expect(metric.namespace).toBe(namespace);
      expect(metric.service).toBe(service);
    }
    for (const [id, resource] of ofType('AWS::Lambda::Function'))
      expect(resource.Properties['Environment'].Variables, id).toMatchObject({
        POWERTOOLS_METRICS_NAMESPACE: namespace,
        POWERTOOLS_SERVICE_NAME: service,
      });
  });
});

describe('safe defaults: `osls package --stage prod` with nothing configured', () => {
  it('opens no public Function URL: the URL and its permissions exist only when the ingress trusts an SMN topic or a webhook token', () => {
    const guarded = [
      'IngestEventsLambdaFunctionUrl',
      'IngestEventsLambdaPermissionFnUrl',
      'IngestEventsLambdaPermissionFn',
    ];
    for (const id of guarded) expect(defaults.Resources[id]!.Condition, id).toBe('HasIngress');
    expect(
      Object.entries(defaults.Resources)
        .filter(([, r]) => r.Type === 'AWS::Lambda::Permission' && r.Properties['Principal'] === '*')
        .map(([id]) => id)
        .sort(),
    ).toEqual(guarded.slice(1).sort());
    expect(defaults.Outputs['IngestEventsLambdaFunctionUrl'].Condition).toBe('HasIngress');
    expect(conditionHolds(defaults, 'HasIngress')).toBe(false);
    expect(conditionHolds(defaults, 'HasIngress', { TrustedTopicUrns: TOPIC })).toBe(true);
    expect(
      conditionHolds(defaults, 'HasIngress', { IngressTokenSecretName: 'workspace-script-retry/ingress-token' }),
    ).toBe(true);
  });

  it("creates the sweep's schedule disabled, saying why, when sweepProjects lists no project", () => {
    const [[, rule]] = ofType('AWS::Events::Rule', defaults) as [[string, Resource]];
    expect(rule.Properties).toMatchObject({
      State: 'DISABLED',
      Description: expect.stringContaining('sweepProjects lists no project'),
    });
  });

  it('gives each function only its own variables: those its configuration reads, and the shared Powertools ones', () => {
    const shared = ['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_LOG_LEVEL', 'NODE_OPTIONS'];
    const reads: Record<string, readonly string[]> = {
      RetryFromQueueLambdaFunction: APP_VARIABLES,
      RetryManuallyLambdaFunction: APP_VARIABLES,
      SweepOnScheduleLambdaFunction: [...APP_VARIABLES, ...SWEEP_VARIABLES],
      IngestEventsLambdaFunction: INGRESS_VARIABLES,
    };
    for (const [id, fn] of ofType('AWS::Lambda::Function', defaults)) {
      const own = Object.keys(fn.Properties['Environment'].Variables).filter((name) => !shared.includes(name));
      expect(
        own.filter((name) => !reads[id]!.includes(name)),
        `${id} is given variables it does not read`,
      ).toEqual([]);
    }
    const ingress = Object.keys(defaults.Resources['IngestEventsLambdaFunction']!.Properties['Environment'].Variables);
    expect(ingress).not.toContain('CREDENTIALS_SECRET_ID');
    expect(
      Object.keys(defaults.Resources['RetryFromQueueLambdaFunction']!.Properties['Environment'].Variables),
    ).not.toContain('SWEEP_PROJECTS');
  });

  it('keeps the ledger and both queues on remove and on replacement, and protects the ledger from deletion', () => {
    expect(defaults.Resources['LedgerTable']).toMatchObject({
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: { DeletionProtectionEnabled: true },
    });
    for (const id of ['FailureQueue', 'DeadLetterQueue'])
      expect(defaults.Resources[id], id).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it("passes AWS's proactive controls (cfn-guard, the Control Tower rules) but for the exceptions docs/deploy.md accepts, each with its reason", async () => {
    // Prepare: the accepted exceptions, from docs/deploy.md's table (`| CT.X.PR.n | Resource, Resource | reason |`)
    const docs = await readFile('docs/deploy.md', 'utf8');
    const rows = [...docs.matchAll(/^\| `(CT\.[A-Z0-9]+\.PR\.\d+)` \| ([^|]+) \| ([^|]+) \|$/gm)];
    const accepted = rows
      .flatMap(([, control, ids]) => [...ids!.matchAll(/`(\w+)`/g)].map(([, id]) => `${control} ${id}`))
      .sort();
    for (const [, control, , reason] of rows)
      expect(reason!.trim().length, `${control} needs a reason`).toBeGreaterThan(40);

    // Act
    const failures = await Promise.all([
      cfnGuardFailures(join(defaultsDir, 'cloudformation-template-update-stack.json')),
      cfnGuardFailures(join(configuredDir, 'cloudformation-template-update-stack.json')),
    ]);

    // Assess: nothing fails that is not accepted, and nothing is accepted that no longer fails
    expect(failures[0]).toEqual(accepted);
    expect(failures[1]).toEqual(accepted);
  }, 120_000);
});

describe('state kept, secrets and stack tags', () => {
  it('lets the roles that read the Workspace keys decrypt them with a customer-managed key, only when one is named, only through Secrets Manager', () => {
    const decrypting = (t: Template, parameters: Record<string, string> = {}) =>
      ofType('AWS::IAM::Role', t)
        .filter(([, role]) =>
          (applyConditions(role.Properties['Policies'], t, parameters) as any[]).some((p) =>
            p.PolicyDocument.Statement.some((s: any) => [s.Action].flat().includes('kms:Decrypt')),
          ),
        )
        .map(([id]) => id)
        .sort();
    expect(decrypting(template)).toEqual(['DirectFunctionRole', 'IngressFunctionRole', 'QueueFunctionRole']);
    expect(decrypting(defaults)).toEqual([]);
    const statement = (
      applyConditions(
        resources['QueueFunctionRole']!.Properties['Policies'][0].PolicyDocument.Statement,
        template,
      ) as any[]
    ).find((s) => s.Action.includes('kms:Decrypt'));
    expect(statement).toEqual({
      Effect: 'Allow',
      Action: ['kms:Decrypt'],
      Resource: { Ref: 'SecretsKmsKeyArn' },
      Condition: { StringLike: { 'kms:ViaService': 'secretsmanager.*.amazonaws.com' } },
    });
    expect(template.Parameters['SecretsKmsKeyArn'].Default).toBe(KMS_KEY);
  });

  it("matches a secret given as an ARN by that ARN (another account or region), and a name by this account's ARN with the suffix", () => {
    const arn = 'arn:aws:secretsmanager:cn-north-1:123456789012:secret:team/workspace-keys-AbCdEf';
    const secretResource = (parameters: Record<string, string>) =>
      (
        applyConditions(
          defaults.Resources['QueueFunctionRole']!.Properties['Policies'][0].PolicyDocument.Statement,
          defaults,
          parameters,
        ) as any[]
      ).find((s) => s.Action.includes('secretsmanager:GetSecretValue')).Resource;
    expect(secretResource({ CredentialsSecretName: arn })).toEqual([
      { Ref: 'CredentialsSecretName' },
      { 'Fn::Sub': '${CredentialsSecretName}-??????' },
    ]);
    expect(secretResource({})).toEqual({
      'Fn::Sub':
        'arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${CredentialsSecretName}-??????',
    });
    expect(conditionHolds(defaults, 'IngressTokenSecretIsArn', { IngressTokenSecretName: arn })).toBe(true);
  });

  it('tags the stack with its service and stage', () => {
    expect(state.service.provider.stackTags).toEqual({ service: 'workspace-script-retry', stage: 'test' });
  });
});

describe('the kill switch in the packaged CloudFormation', () => {
  it('is an SSM parameter every way in reads (and may read, nothing more); the ingress neither', () => {
    expect(resources['RetriesEnabledParameter']).toMatchObject({
      Type: 'AWS::SSM::Parameter',
      Properties: {
        Name: '/workspace-script-retry/test/retries-enabled',
        Type: 'String',
        Value: 'true',
        AllowedPattern: '^(true|false)$',
      },
    });
    for (const fn of ['RetryFromQueueLambdaFunction', 'SweepOnScheduleLambdaFunction', 'RetryManuallyLambdaFunction']) {
      expect(resources[fn]!.Properties['Environment'].Variables, fn).toMatchObject({
        RETRIES_ENABLED_PARAMETER: { Ref: 'RetriesEnabledParameter' },
        RETRIES_ENABLED_MAX_AGE_SECONDS: '30',
      });
      expect(resources[fn]!.Properties['Environment'].Variables, fn).not.toHaveProperty('RETRIES_ENABLED');
    }
    const reading = ofType('AWS::IAM::Role').filter(([, role]) =>
      role.Properties['Policies'][0].PolicyDocument.Statement.some((s: any) =>
        s.Action?.includes?.('ssm:GetParameter'),
      ),
    );
    expect(reading.map(([id]) => id).sort()).toEqual(['DirectFunctionRole', 'QueueFunctionRole']);
    const [, queueRole] = reading.find(([id]) => id === 'QueueFunctionRole')!;
    expect(
      queueRole.Properties['Policies'][0].PolicyDocument.Statement.find((s: any) =>
        s.Action?.includes?.('ssm:GetParameter'),
      ).Resource,
    ).toEqual({
      'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${RetriesEnabledParameter}',
    });
    expect(template.Outputs).toHaveProperty('KillSwitchParameter');
  });
});

describe('signals that page', () => {
  it('alarms on new dead letters (sent with a reason, or redriven without one), not on the depth', () => {
    const alarm = resources['NewDeadLettersAlarm']!.Properties;
    expect(alarm['Metrics'].find((m: any) => m.ReturnData)).toMatchObject({
      Expression: 'MAX([FILL(sent, 0), FILL(DIFF(waiting), 0)])',
    });
    expect(alarmMetrics(alarm).map((m) => m.name)).toEqual([METRIC.deadLettered, 'ApproximateNumberOfMessagesVisible']);
    expect(alarm).toMatchObject({
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    // No alarm watches the depth alone: it would stay in ALARM while old letters wait, and page nobody for the next.
    const depthOnly = ofType('AWS::CloudWatch::Alarm').filter(
      ([, a]) => a.Properties['MetricName'] === 'ApproximateNumberOfMessagesVisible',
    );
    expect(depthOnly).toEqual([]);
  });

  it('alarms on the oldest dead letter well before the DLQ drops it', () => {
    const alarm = resources['DeadLetterExpiryAlarm']!.Properties;
    expect(alarm).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Statistic: 'Maximum',
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(alarm['Dimensions'][0].Value).toEqual({ 'Fn::GetAtt': ['DeadLetterQueue', 'QueueName'] });
    const retention = resources['DeadLetterQueue']!.Properties['MessageRetentionPeriod'] as number;
    expect(retention - alarm['Threshold']).toBeGreaterThanOrEqual(3 * 86_400);
  });

  it('alarms on configuration and secret failures (ConfigurationError)', () => {
    expect(alarmMetrics(resources['ConfigurationErrorAlarm']!.Properties)).toEqual([
      expect.objectContaining({ name: METRIC.configurationError }),
    ]);
    expect(resources['ConfigurationErrorAlarm']!.Properties).toMatchObject({
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(dashboardMetrics(resources['Dashboard']!.Properties['DashboardBody']).map((m) => m.name)).toContain(
      METRIC.configurationError,
    );
  });

  it('shows every alarm on the dashboard', () => {
    const body = JSON.parse(resources['Dashboard']!.Properties['DashboardBody']['Fn::Sub']) as {
      widgets: Array<{ type: string; properties: { alarms?: string[] } }>;
    };
    const shown = body.widgets.flatMap((w) => w.properties.alarms ?? []);
    expect(shown.sort()).toEqual(
      ofType('AWS::CloudWatch::Alarm')
        .map(([id]) => `\${${id}.Arn}`)
        .sort(),
    );
  });
});

describe('parameters refused at package time', () => {
  it('refuses, before packaging anything, what the functions would refuse at cold start, naming the parameter, the variable and the problem', async () => {
    // Act: a typo in the policy, a sweep project with the wrong key, and a topic that is not an SMN URN
    const result = await osls([
      'package',
      '--stage',
      'prod',
      '--param=retryPolicy={"max_atempts":5}',
      '--param=sweepProjects=[{"project":"x"}]',
      '--param=trustedTopicUrns=arn:aws:sns:us-east-1:123456789012:topic',
    ]);

    // Assess
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('nothing was packaged');
    expect(result.output).toMatch(
      /retryPolicy: RETRY_POLICY\.max_atempts: is not a known field \(read by retryFromQueue, sweepOnSchedule, retryManually\)/,
    );
    expect(result.output).toMatch(/sweepProjects: SWEEP_PROJECTS\[0\][^\n]*\(read by sweepOnSchedule\)/);
    expect(result.output).toMatch(
      /trustedTopicUrns: TRUSTED_TOPIC_URNS\[0\]: "arn:aws:sns:us-east-1:123456789012:topic" is not an SMN topic URN[^\n]*\(read by ingestEvents\)/,
    );
  }, 120_000);
});

describe('docs/deploy.md', () => {
  it('documents every parameter serverless.yml takes, and no other', async () => {
    // Prepare
    const yml = await readFile('serverless.yml', 'utf8');
    const block = yml.slice(yml.indexOf('\n  default:\n'), yml.indexOf('\n  local:\n'));
    const params = [...block.matchAll(/^ {4}(\w+):/gm)].map(([, name]) => name!).sort();
    const docs = await readFile('docs/deploy.md', 'utf8');
    const section = docs.slice(docs.indexOf('\n## Parameters\n'), docs.indexOf('\n## Limits\n'));

    // Act
    const documented = [...section.matchAll(/^\| `(\w+)` \|/gm)].map(([, name]) => name!).sort();

    // Assess
    expect(params.length).toBeGreaterThan(30);
    expect(documented).toEqual(params);
  });
});
