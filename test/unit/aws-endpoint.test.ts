import { describe, expect, it } from 'vitest';
import { serviceEndpoint } from '../../lib/platform/aws-json.js';
import { DYNAMODB } from '../../lib/platform/dynamodb-client.js';
import { SECRETS_MANAGER } from '../../lib/platform/secrets-provider.js';
import { SSM } from '../../lib/platform/ssm-provider.js';

/** Where the AWS JSON transport sends a service's calls (lib/platform/aws-json.ts), as the SDK decides it. */

describe('the endpoint of an AWS service', () => {
  it('is the regional endpoint when the environment names none, in amazonaws.com.cn for the China regions', () => {
    expect(serviceEndpoint(DYNAMODB, 'us-east-1', {}).href).toBe('https://dynamodb.us-east-1.amazonaws.com/');
    expect(serviceEndpoint(SECRETS_MANAGER, 'eu-west-3', {}).href).toBe(
      'https://secretsmanager.eu-west-3.amazonaws.com/',
    );
    expect(serviceEndpoint(DYNAMODB, 'cn-north-1', {}).href).toBe('https://dynamodb.cn-north-1.amazonaws.com.cn/');
    expect(serviceEndpoint(SSM, 'cn-north-4', {}).href).toBe('https://ssm.cn-north-4.amazonaws.com.cn/');
  });

  it("is the service's own AWS_ENDPOINT_URL_<SERVICE> first, then AWS_ENDPOINT_URL for every service", () => {
    const env = { AWS_ENDPOINT_URL: 'http://127.0.0.1:4566', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000' };
    expect(serviceEndpoint(DYNAMODB, 'us-east-1', env).href).toBe('http://127.0.0.1:8000/');
    expect(serviceEndpoint(SECRETS_MANAGER, 'us-east-1', env).href).toBe('http://127.0.0.1:4566/');
    expect(serviceEndpoint(SSM, 'us-east-1', { ...env, AWS_ENDPOINT_URL_SSM: 'http://127.0.0.1:9000' }).href).toBe(
      'http://127.0.0.1:9000/',
    );
  });
});
