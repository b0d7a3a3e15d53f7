import { describe, expect, it } from 'vitest';
import { classifyFailure, EXIT_CODE, OpsError } from '../../ops/ops-error.js';
import { parseEnvFile, resolveTarget } from '../../ops/target.js';

const named = (name: string, message: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), { name, ...extra });

describe('ops: finding the stack, and errors scripts can rely on', () => {
  it('reads the env file npm run stack writes', () => {
    expect(
      parseEnvFile(
        "DLQ_URL='http://127.0.0.1:1/q'\nLEDGER_TABLE='t'\n# comment\nEMPTY=''\nWORKSPACE_ENDPOINTS='{\"cn-north-4\":\"http://x\"}'\n",
      ),
    ).toEqual({
      DLQ_URL: 'http://127.0.0.1:1/q',
      LEDGER_TABLE: 't',
      EMPTY: '',
      WORKSPACE_ENDPOINTS: '{"cn-north-4":"http://x"}',
    });
  });

  it('answers 2 with what to do for missing credentials, a missing region, or a stack that is not reachable', () => {
    const credentials = classifyFailure(
      named('CredentialsProviderError', 'Could not load credentials from any providers'),
      'CloudFormation',
    );
    expect([credentials.kind, EXIT_CODE[credentials.kind]]).toEqual(['setup', 2]);
    expect(credentials.message).toContain('set AWS_PROFILE');
    expect(classifyFailure(new Error('Region is missing'), 'CloudFormation').message).toContain('--region');
    const refused = classifyFailure(
      named('Error', 'connect ECONNREFUSED 127.0.0.1:4566', { code: 'ECONNREFUSED' }),
      'the stack',
    );
    expect([refused.kind, refused.message]).toEqual(['setup', expect.stringContaining('npm run stack')]);
    expect(
      classifyFailure(named('AccessDeniedException', 'not authorized to perform dynamodb:BatchGetItem'), 'the stack')
        .kind,
    ).toBe('setup');
  });

  it('answers 3 for any other AWS failure, and keeps an OpsError as it is', () => {
    expect(
      classifyFailure(named('ResourceNotFoundException', 'Requested resource not found'), 'the stack'),
    ).toMatchObject({ kind: 'aws', message: 'ResourceNotFoundException: Requested resource not found' });
    const usage = new OpsError('usage', 'no command given');
    expect(classifyFailure(usage, 'x')).toBe(usage);
    expect(EXIT_CODE).toEqual({ 'not-found': 1, usage: 2, setup: 2, aws: 3 });
  });

  it('uses the queue URLs and table given as flags without asking CloudFormation', async () => {
    const target = await resolveTarget({
      local: false,
      envFile: '',
      stage: 'prod',
      region: 'eu-west-1',
      queueUrl: 'https://sqs/q',
      dlqUrl: 'https://sqs/d',
      table: 't',
    });
    expect(target).toMatchObject({
      description: 'flags',
      queueUrl: 'https://sqs/q',
      dlqUrl: 'https://sqs/d',
      table: 't',
    });
    target.sqs.destroy();
    target.dynamo.destroy();
  });

  it('says how to start the local stack when its env file is missing', async () => {
    await expect(
      resolveTarget({ local: true, envFile: '/nonexistent/.stack.env', stage: 'dev' }),
    ).rejects.toMatchObject({ kind: 'setup', message: expect.stringContaining('npm run stack') });
  });
});
