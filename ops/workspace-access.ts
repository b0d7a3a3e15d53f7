/**
 * Workspace, as an operator's command reaches it: the keys from the secret
 * the functions read (Secrets Manager, the operator's AWS credentials), the
 * region and endpoint overrides the functions use. With --local, all of it
 * from the embedded stack's env file.
 */

import { readFile } from 'node:fs/promises';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { WorkspaceClient } from '../lib/workspace/client.js';
import { WorkspaceCredentials } from '../lib/workspace/credentials.js';
import { type EndpointOverrides, parseEndpointOverrides } from '../lib/workspace/endpoints.js';
import type { SigningCredentials } from '../lib/workspace/signer.js';
import { OpsError } from './ops-error.js';
import { parseEnvFile } from './target.js';

export interface WorkspaceAccess {
  readonly workspace: WorkspaceClient;
  readonly region: string;
  credentialsFor(projectId: string): Promise<SigningCredentials>;
}

export interface WorkspaceAccessOptions {
  readonly local: boolean;
  readonly envFile: string;
  readonly secretId?: string | undefined;
  readonly workspaceRegion?: string | undefined;
  readonly workspaceEndpoint?: string | undefined;
}

export async function workspaceAccess(options: WorkspaceAccessOptions): Promise<WorkspaceAccess> {
  const env = options.local ? parseEnvFile(await readFile(options.envFile, 'utf8').catch(() => '')) : {};
  const secretId = options.secretId ?? env['CREDENTIALS_SECRET_ID'];
  const region = options.workspaceRegion ?? env['WORKSPACE_REGION'];
  if (!secretId)
    throw new OpsError(
      'usage',
      'this command needs --secret-id: the Secrets Manager secret holding the Workspace keys (the deploy parameter credentialsSecretId)',
    );
  if (!region) throw new OpsError('usage', 'this command needs --workspace-region, e.g. cn-north-4');
  let endpoints: EndpointOverrides;
  try {
    endpoints = parseEndpointOverrides(
      options.workspaceEndpoint ? JSON.stringify({ [region]: options.workspaceEndpoint }) : env['WORKSPACE_ENDPOINTS'],
    );
  } catch (error) {
    throw new OpsError('usage', `--workspace-endpoint: ${(error as Error).message}`);
  }
  const secrets = options.local
    ? new SecretsManagerClient({
        region: env['AWS_REGION'],
        endpoint: env['AWS_ENDPOINT_URL_SECRETS_MANAGER'],
        credentials: {
          accessKeyId: env['AWS_ACCESS_KEY_ID'] ?? '',
          secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] ?? '',
        },
      })
    : new SecretsManagerClient({});
  const read = async () =>
    JSON.parse((await secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString ?? '{}') as unknown;
  const keys = new WorkspaceCredentials(secretId, { load: read, reload: read });
  return {
    region,
    workspace: new WorkspaceClient({
      defaultRegion: region,
      endpoints,
      timeoutMs: 10_000,
      maxInCallRetries: 2,
      backoffBaseMs: 500,
      backoffCapMs: 5_000,
    }),
    credentialsFor: async (projectId) => (await keys.forProject(projectId)).credentials,
  };
}
