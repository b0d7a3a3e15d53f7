import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardMetrics, alarmMetrics } from '../helpers/template-metrics.js';
import { zipEntries } from '../helpers/zip-entries.js';
import { METRIC_NAMES } from '../../lib/platform/metric-names.js';

/** `osls package` with no AWS credentials, and the CloudFormation it produces. */
type Resource = { Type: string; Properties: Record<string, any>; Condition?: string };
let dir: string;
let template: { Resources: Record<string, Resource>; Conditions: Record<string, unknown>; Parameters: Record<string, any>; Outputs: Record<string, unknown> };
let resources: Record<string, Resource>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsr-package-'));
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir, AWS_PROFILE: 'none', AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none') };
  for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) delete env[key];
  await promisify(execFile)('node_modules/.bin/osls', ['package', '--package', dir, '--stage', 'test', '--param=ingressTokenSecretName=workspace-script-retry/ingress-token'], { env, timeout: 240_000 });
  template = JSON.parse(await readFile(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'));
  resources = template.Resources;
}, 300_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Each function's CloudFormation resource and the module its handler is in (serverless.yml). */
const FUNCTIONS = { RetryFromQueueLambdaFunction: 'queue', SweepOnScheduleLambdaFunction: 'schedule', RetryManuallyLambdaFunction: 'manual', IngestEventsLambdaFunction: 'ingress' };

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

describe('the packaged CloudFormation', () => {
  it('runs every function on nodejs22.x, arm64', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThanOrEqual(1);
    for (const [, f] of functions) expect(f.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'] });
  });

  it('maps the queue with ReportBatchItemFailures, batching and maximum concurrency', () => {
    const [[, mapping]] = ofType('AWS::Lambda::EventSourceMapping') as [[string, Resource]];
    expect(mapping.Properties).toMatchObject({ FunctionResponseTypes: ['ReportBatchItemFailures'], BatchSize: 10, MaximumBatchingWindowInSeconds: 5, ScalingConfig: { MaximumConcurrency: 5 } });
    expect(mapping.Properties['EventSourceArn']).toEqual({ 'Fn::GetAtt': ['FailureQueue', 'Arn'] });
  });

  it('gives the queue a visibility timeout of at least 6 x the function timeout, 14-day retention and redrive to the DLQ', () => {
    const queue = resources['FailureQueue']!.Properties;
    const timeout = resources['RetryFromQueueLambdaFunction']!.Properties['Timeout'] as number;
    expect(queue['VisibilityTimeout']).toBeGreaterThanOrEqual(6 * timeout);
    expect(queue['MessageRetentionPeriod']).toBe(1_209_600);
    expect(queue['RedrivePolicy']).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] }, maxReceiveCount: 5 });
    expect(resources['DeadLetterQueue']!.Properties['MessageRetentionPeriod']).toBe(1_209_600);
  });

  it('alarms on dead-letter queue depth', () => {
    const alarm = resources['DeadLetterQueueDepthAlarm']!.Properties;
    expect(alarm).toMatchObject({ Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', ComparisonOperator: 'GreaterThanThreshold', Threshold: 0 });
    expect(alarm['Dimensions'][0].Value).toEqual({ 'Fn::GetAtt': ['DeadLetterQueue', 'QueueName'] });
  });

  it('passes cfn-lint (errors and warnings; .cfnlintrc.yaml holds the justified exceptions), when cfn-lint is on the PATH', async (ctx) => {
    const lint = await promisify(execFile)('cfn-lint', ['--version']).then(
      () => true,
      () => false,
    );
    if (!lint) {
      console.warn('cfn-lint is NOT on the PATH: the packaged template was not linted (pip install cfn-lint to lint it)');
      ctx.skip();
    }
    const result = await promisify(execFile)('cfn-lint', ['--config-file', '.cfnlintrc.yaml', '--', join(dir, 'cloudformation-template-update-stack.json')], { timeout: 120_000 }).then(
      (out) => ({ code: 0, output: out.stdout + out.stderr }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code, output: `${error.stdout ?? ''}${error.stderr ?? ''}` }),
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
    const statements = ofType('AWS::IAM::Role').flatMap(([, role]) => role.Properties['Policies'].flatMap((p: any) => p.PolicyDocument.Statement));
    expect(statements.length).toBeGreaterThan(0);
    const scoped = statements.filter((s: any) => [s.Action].flat().some((a: string) => /^(sqs|secretsmanager|dynamodb):/.test(a)));
    expect(scoped.length).toBeGreaterThanOrEqual(3);
    for (const statement of scoped) {
      for (const resource of [statement.Resource].flat()) expect(JSON.stringify(resource)).not.toMatch(/^"\*"$|:\*"|\/\*"/);
    }
    const secret = scoped.find((s: any) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
    expect(JSON.stringify(secret.Resource)).toContain(':secret:workspace-script-retry/credentials-??????');
  });

  it('gives each function only what it needs: only the queue function may receive from the queue', () => {
    const roleOf = (fn: string) => resources[fn]!.Properties['Role']['Fn::GetAtt'][0] as string;
    const actions = (role: string) => resources[role]!.Properties['Policies'].flatMap((p: any) => p.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()));
    expect(actions(roleOf('RetryFromQueueLambdaFunction'))).toContain('sqs:ReceiveMessage');
    for (const fn of ['SweepOnScheduleLambdaFunction', 'RetryManuallyLambdaFunction']) {
      expect(actions(roleOf(fn))).not.toContain('sqs:ReceiveMessage');
      expect(actions(roleOf(fn))).toContain('secretsmanager:GetSecretValue');
    }
  });

  it('runs the sweep on its schedule with the projects to sweep', () => {
    const [[, rule]] = ofType('AWS::Events::Rule') as [[string, Resource]];
    expect(rule.Properties).toMatchObject({ ScheduleExpression: 'rate(10 minutes)', State: 'ENABLED' });
    expect(resources['SweepOnScheduleLambdaFunction']!.Properties['Environment'].Variables).toMatchObject({ SWEEP_PROJECTS: '[]', SWEEP_LOOKBACK_MINUTES: '60' });
  });

  it('passes queue URLs and the table name in from CloudFormation, not rebuilt by the code', () => {
    const variables = resources['RetryFromQueueLambdaFunction']!.Properties['Environment'].Variables;
    expect(variables).toMatchObject({ DLQ_URL: { Ref: 'DeadLetterQueue' }, SOURCE_QUEUE_URL: { Ref: 'FailureQueue' }, LEDGER_TABLE: { Ref: 'LedgerTable' } });
  });

  it('puts the ingress behind a public Function URL (auth NONE: it verifies every request itself) with a reserved concurrency', () => {
    expect(resources['IngestEventsLambdaFunctionUrl']!.Properties).toEqual({ AuthType: 'NONE', TargetFunctionArn: { 'Fn::GetAtt': ['IngestEventsLambdaFunction', 'Arn'] } });
    const fn = resources['IngestEventsLambdaFunction']!.Properties;
    expect(fn).toMatchObject({ ReservedConcurrentExecutions: 5, Timeout: 10, Handler: 'functions/ingress.handler' });
    expect(fn['Environment'].Variables).toMatchObject({ FAILURE_QUEUE_URL: { Ref: 'FailureQueue' }, SMN_CERT_HOSTS: 'smn.*.myhuaweicloud.com', INGRESS_TOKEN_SECRET_ID: { Ref: 'IngressTokenSecretName' } });
    // The secret's name is a stack parameter (so the condition on it is not fixed at package time), defaulting to the osls param.
    expect(template.Parameters.IngressTokenSecretName.Default).toBe('workspace-script-retry/ingress-token');
  });

  it('gives the ingress its own role: send to the failure queue, read its token secret, write its logs, nothing else', () => {
    const role = resources['IngestEventsLambdaFunction']!.Properties['Role']['Fn::GetAtt'][0] as string;
    expect(role).toBe('IngressFunctionRole');
    const statements = resources[role]!.Properties['Policies'].flatMap((p: any) => p.PolicyDocument.Statement);
    // A statement under a condition (the token secret, only when one is named) is checked as it would apply.
    const applied = statements.map((s: any) => (s['Fn::If'] ? s['Fn::If'][1] : s));
    expect(applied.map((s: any) => [s.Action, s.Resource])).toEqual([
      [['logs:CreateLogStream', 'logs:PutLogEvents'], { 'Fn::Sub': expect.stringMatching(/log-group:\/aws\/lambda\/workspace-script-retry-test-ingestEvents:\*$/) }],
      [['sqs:SendMessage'], { 'Fn::GetAtt': ['FailureQueue', 'Arn'] }],
      [['secretsmanager:GetSecretValue'], { 'Fn::Sub': expect.stringMatching(/:secret:\$\{IngressTokenSecretName\}-\?{6}$/) }],
    ]);
    expect(statements.every((s: any) => s.Effect === 'Allow' || s['Fn::If'])).toBe(true);
  });

  it('packages each function on its own: its handler\'s ESM bundle, the chunks it loads later, their source maps, and nothing of another function', async () => {
    for (const [logicalId, fn] of Object.entries(FUNCTIONS)) {
      // Prepare
      const { Code, Handler } = resources[logicalId]!.Properties;
      const artifact = String(Code.S3Key).split('/').pop()!;

      // Act
      const names = (await zipEntries(join(dir, artifact))).map((e) => e.name);

      // Assess
      expect(Handler).toBe(`functions/${fn}.handler`);
      expect(names).toContain(`functions/${fn}.mjs`);
      expect(names).toContain(`functions/${fn}.mjs.map`);
      expect(names.filter((name) => !new RegExp(`^functions/${fn}(\\.mjs|\\.chunks/[\\w-]+\\.mjs)(\\.map)?$`).test(name))).toEqual([]);
    }
  });

  it('ships source maps that add less to an artifact than its code does', async () => {
    for (const artifact of Object.keys(FUNCTIONS).map((logicalId) => String(resources[logicalId]!.Properties.Code.S3Key).split('/').pop()!)) {
      const entries = await zipEntries(join(dir, artifact));
      const compressed = (maps: boolean) => entries.filter((e) => e.name.endsWith('.map') === maps).reduce((sum, e) => sum + e.compressedBytes, 0);
      expect(compressed(true)).toBeLessThan(compressed(false));
    }
  });

});

describe('the operator\'s view in the packaged CloudFormation', () => {
  const environment = () => resources['RetryFromQueueLambdaFunction']!.Properties['Environment'].Variables as Record<string, string>;
  const alarms = () => ofType('AWS::CloudWatch::Alarm');

  it('sends every alarm, and its return to OK, to the stack\'s own topic, and also to alarmTopicArn when one is given', () => {
    expect(resources['AlarmTopic']!.Type).toBe('AWS::SNS::Topic');
    const actions = { 'Fn::If': ['HasAlarmTopic', [{ Ref: 'AlarmTopic' }, { Ref: 'AlarmTopicArn' }], [{ Ref: 'AlarmTopic' }]] };
    expect(alarms().length).toBeGreaterThanOrEqual(5);
    for (const [, alarm] of alarms()) expect(alarm.Properties).toMatchObject({ AlarmActions: actions, OKActions: actions });
    expect(template.Conditions['HasAlarmTopic']).toEqual({ 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmTopicArn' }, ''] }] });
    expect(template.Parameters['AlarmTopicArn']).toMatchObject({ Type: 'String', Default: '' });
    expect(template.Outputs).toHaveProperty('AlarmTopicArn');
  });

  it('subscribes alarmEmail to the alarm topic only when an address is given', () => {
    const subscription = resources['AlarmEmailSubscription']!;
    expect(subscription).toMatchObject({ Type: 'AWS::SNS::Subscription', Condition: 'HasAlarmEmail', Properties: { TopicArn: { Ref: 'AlarmTopic' }, Protocol: 'email', Endpoint: { Ref: 'AlarmEmail' } } });
    expect(template.Conditions['HasAlarmEmail']).toEqual({ 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmEmail' }, ''] }] });
  });

  it('alarms on dead letters, failures waiting too long, function errors and throttles, and a circuit left open', () => {
    const watched = alarms().flatMap(([, a]) => alarmMetrics(a.Properties).map((m) => `${m.namespace}/${m.name}`));
    expect(watched).toEqual(expect.arrayContaining(['AWS/SQS/ApproximateNumberOfMessagesVisible', 'AWS/SQS/ApproximateAgeOfOldestMessage', 'AWS/Lambda/Errors', 'AWS/Lambda/Throttles', `${environment()['POWERTOOLS_METRICS_NAMESPACE']}/CircuitOpened`]));
    expect(resources['FailureQueueOldestMessageAlarm']!.Properties['Dimensions'][0].Value).toEqual({ 'Fn::GetAtt': ['FailureQueue', 'QueueName'] });
    const errors = alarmMetrics(resources['FunctionErrorsAlarm']!.Properties).map((m) => JSON.stringify(m.dimensions));
    for (const fn of ofType('AWS::Lambda::Function').map(([id]) => id)) expect(errors.join()).toContain(`{"Ref":"${fn}"}`);
  });

  it('has a dashboard with outcomes, API errors by code, both queues, the functions and the sweep per project', () => {
    const metrics = dashboardMetrics(resources['Dashboard']!.Properties['DashboardBody']);
    const names = metrics.map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(['Retried', 'DeadLettered', 'Deferred', 'Duplicate', 'ApiError', 'SweepRecords', 'CircuitOpened']));
    expect(names).toEqual(expect.arrayContaining(['ApproximateNumberOfMessagesVisible', 'ApproximateAgeOfOldestMessage', 'Duration', 'Errors']));
    expect(metrics.find((m) => m.name === 'ApiError')?.dimensions).toContain('ErrorCode');
    expect(metrics.find((m) => m.name === 'SweepRecords')?.dimensions).toEqual(expect.arrayContaining(['ProjectId', 'Outcome']));
    const queues = metrics.filter((m) => m.namespace === 'AWS/SQS').map((m) => m.dimensions.join());
    expect(queues).toEqual(expect.arrayContaining(['QueueName,${DeadLetterQueue.QueueName}', 'QueueName,${FailureQueue.QueueName}']));
  });

  it('puts on the dashboard and the alarms only custom metrics the code emits (lib/platform/metric-names.ts), in its namespace and service', () => {
    const { POWERTOOLS_METRICS_NAMESPACE: namespace, POWERTOOLS_SERVICE_NAME: service } = environment();
    const custom = [...dashboardMetrics(resources['Dashboard']!.Properties['DashboardBody']), ...alarms().flatMap(([, a]) => alarmMetrics(a.Properties))].filter((m) => !m.namespace.startsWith('AWS/'));
    expect(custom.length).toBeGreaterThanOrEqual(8);
    for (const metric of custom) {
      expect(METRIC_NAMES, `${metric.name} is on the dashboard or an alarm but nothing emits it`).toContain(metric.name);
      expect(metric.namespace).toBe(namespace);
      expect(metric.service).toBe(service);
    }
    for (const [id, resource] of ofType('AWS::Lambda::Function')) expect(resource.Properties['Environment'].Variables, id).toMatchObject({ POWERTOOLS_METRICS_NAMESPACE: namespace, POWERTOOLS_SERVICE_NAME: service });
  });
});
