import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkDeploy, type DeployInput, paramsOfVariables } from '../../deploy/deploy-check.js';

/**
 * The package-time check (deploy/deploy-check.ts) on a service as osls resolves
 * serverless.yml: the functions' own loaders over each function's environment,
 * with the param behind each variable named. The package test runs it inside
 * `osls package`; these cover each refusal the deploy would otherwise meet at cold start.
 */
const CONFIG_TEXT = readFileSync('serverless.yml', 'utf8');
const PIPELINE = {
  WORKSPACE_REGION: 'cn-north-4',
  WORKSPACE_ENDPOINTS: '',
  CREDENTIALS_SECRET_ID: 'workspace-script-retry/credentials',
  RETRY_POLICY: '',
  RETRIES_ENABLED_PARAMETER: { Ref: 'RetriesEnabledParameter' },
  DLQ_URL: { Ref: 'DeadLetterQueue' },
  SOURCE_QUEUE_URL: { Ref: 'FailureQueue' },
  LEDGER_TABLE: { Ref: 'LedgerTable' },
  LEDGER_LEASE_SECONDS: 60,
};
const INGRESS = {
  FAILURE_QUEUE_URL: { Ref: 'FailureQueue' },
  TRUSTED_TOPIC_URNS: { Ref: 'TrustedTopicUrns' },
  INGRESS_TOKEN_SECRET_ID: { Ref: 'IngressTokenSecretName' },
};
const TOPIC = 'urn:smn:cn-north-4:0a1b2c3d4e5f60718293a4b5c6d7e8f9:workspace-script-failures';

function service(
  change: {
    pipeline?: Record<string, unknown>;
    sweep?: Record<string, unknown>;
    topics?: string;
    token?: string;
    visibility?: number;
  } = {},
): DeployInput {
  const pipeline = { ...PIPELINE, ...change.pipeline };
  return {
    region: 'us-east-1',
    configText: CONFIG_TEXT,
    functions: {
      retryFromQueue: { handler: 'functions/queue.handler', environment: pipeline, timeout: 120 },
      sweepOnSchedule: {
        handler: 'functions/schedule.handler',
        environment: {
          ...pipeline,
          SWEEP_PROJECTS: '[{"project_id":"0a1b2c3d4e5f60718293a4b5c6d7e8f9"}]',
          ...change.sweep,
        },
      },
      retryManually: { handler: 'functions/manual.handler', environment: pipeline },
      ingestEvents: { handler: 'functions/ingress.handler', environment: INGRESS },
    },
    resources: {
      FailureQueue: {
        Type: 'AWS::SQS::Queue',
        Properties: { QueueName: 'wsr-prod-failures', VisibilityTimeout: change.visibility ?? 720 },
      },
      DeadLetterQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'wsr-prod-dead-letters' } },
      LedgerTable: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'wsr-prod-ledger' } },
      RetriesEnabledParameter: {
        Type: 'AWS::SSM::Parameter',
        Properties: { Name: '/workspace-script-retry/prod/retries-enabled' },
      },
    },
    parameters: {
      TrustedTopicUrns: { Default: change.topics ?? '' },
      IngressTokenSecretName: { Default: change.token ?? '' },
    },
  };
}

describe('the package-time check', () => {
  it('passes the defaults, and a configured ingress', () => {
    expect(checkDeploy(service()).problems).toEqual([]);
    expect(checkDeploy(service({ topics: TOPIC, token: 'workspace-script-retry/ingress-token' })).problems).toEqual([]);
  });

  it('passes a webhook-only ingress (a token, no SMN topic)', () => {
    expect(checkDeploy(service({ token: 'workspace-script-retry/ingress-token' })).problems).toEqual([]);
  });

  it.each([
    [
      'a typo in the retry policy',
      { pipeline: { RETRY_POLICY: '{"max_atempts":5}' } },
      'retryPolicy: RETRY_POLICY.max_atempts: is not a known field (read by retryFromQueue, sweepOnSchedule, retryManually)',
    ],
    [
      'a region with no Workspace endpoint',
      { pipeline: { WORKSPACE_REGION: 'xx-nowhere-1' } },
      'workspaceRegion: WORKSPACE_REGION: region xx-nowhere-1 has no Workspace endpoint (add it to WORKSPACE_ENDPOINTS to use it) (read by retryFromQueue, sweepOnSchedule, retryManually)',
    ],
    [
      'a sweep project that is not an object of project_id',
      { sweep: { SWEEP_PROJECTS: '[{"project":"x"}]' } },
      'sweepProjects: SWEEP_PROJECTS[0]',
    ],
    [
      'sweep projects that are not JSON',
      { sweep: { SWEEP_PROJECTS: '[{project_id:x}]' } },
      'sweepProjects: SWEEP_PROJECTS is not valid JSON',
    ],
    [
      'a topic that is not an SMN URN',
      { topics: 'arn:aws:sns:us-east-1:123456789012:t' },
      'trustedTopicUrns: TRUSTED_TOPIC_URNS[0]: "arn:aws:sns:us-east-1:123456789012:t" is not an SMN topic URN',
    ],
    [
      'a lease too short for the worst-case call',
      { pipeline: { LEDGER_LEASE_SECONDS: 10 } },
      'ledgerLeaseSeconds: LEDGER_LEASE_SECONDS must be at least 26',
    ],
  ])('refuses %s, naming the param, the variable and the problem', (_, change, message) => {
    // Act
    const { problems } = checkDeploy(service(change));
    // Assess: every line names the param that sets the variable
    expect(problems).toEqual(expect.arrayContaining([expect.stringContaining(message)]));
    expect(problems.every((p) => p.startsWith(message.split(':')[0]!))).toBe(true);
  });

  it("names every problem at once, the sweep's too when the pipeline's variables are wrong", () => {
    const { problems } = checkDeploy(
      service({
        pipeline: { RETRY_POLICY: '{"max_atempts":5}' },
        sweep: { SWEEP_PROJECTS: '[{"project":"x"}]' },
        topics: 'not-a-urn',
      }),
    );
    expect([...new Set(problems.map((p) => p.split(':')[0]))]).toEqual([
      'retryPolicy',
      'sweepProjects',
      'trustedTopicUrns',
    ]);
  });

  it('refuses a visibility timeout under 6 × the function timeout, and a lease that outlasts it', () => {
    expect(checkDeploy(service({ visibility: 600 })).problems).toEqual([
      expect.stringMatching(
        /^queueVisibilityTimeoutSeconds: must be at least 6 × the queue function's timeout \(120 s/,
      ),
    ]);
    expect(checkDeploy(service({ visibility: 1000, pipeline: { LEDGER_LEASE_SECONDS: 1200 } })).problems).toEqual([
      expect.stringMatching(/^ledgerLeaseSeconds: must be below queueVisibilityTimeoutSeconds \(1000\), got 1200/),
    ]);
  });

  it('does not check an ingress that trusts nothing (it gets no URL), and leaves the sweep unscheduled with no project', () => {
    const check = checkDeploy(service({ sweep: { SWEEP_PROJECTS: '[]' } }));
    expect(check.problems).toEqual([]);
    expect(check.unscheduled).toEqual([
      { fn: 'sweepOnSchedule', reason: 'sweepProjects lists no project, so there is nothing to sweep' },
    ]);
    expect(checkDeploy(service()).unscheduled).toEqual([]);
  });

  it('reads from serverless.yml which param sets each variable, through the stack parameters', () => {
    const params = paramsOfVariables(CONFIG_TEXT);
    expect(
      Object.fromEntries(
        ['RETRY_POLICY', 'SWEEP_PROJECTS', 'TRUSTED_TOPIC_URNS', 'INGRESS_TOKEN_SECRET_ID', 'WORKSPACE_REGION'].map(
          (v) => [v, params.get(v)],
        ),
      ),
    ).toEqual({
      RETRY_POLICY: 'retryPolicy',
      SWEEP_PROJECTS: 'sweepProjects',
      TRUSTED_TOPIC_URNS: 'trustedTopicUrns',
      INGRESS_TOKEN_SECRET_ID: 'ingressTokenSecretName',
      WORKSPACE_REGION: 'workspaceRegion',
    });
  });
});
