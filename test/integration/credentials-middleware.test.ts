import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workspaceCredentialsMiddleware, type WithWorkspaceCredentials } from '../../lib/workspace/credentials.js';
import { SecretsManagerServer } from '../../local/secrets-manager-server.js';

/**
 * The credentials middleware against the local Secrets Manager over HTTP:
 * one read per TTL, one refetch on demand, each secret cached apart, and a
 * missing secret that fails the invocation without an unhandled rejection.
 */

let server: SecretsManagerServer;
const saved = { ...process.env };
beforeAll(async () => {
  server = await SecretsManagerServer.start();
  Object.assign(process.env, { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_ENDPOINT_URL_SECRETS_MANAGER: server.url });
});
afterAll(async () => {
  process.env = saved;
  await server.stop();
});

let n = 0;
const secretId = () => `credentials-middleware/${process.pid}-${++n}`;
// The middleware sets workspaceCredentials; Lambda passes a plain context.
const context = { getRemainingTimeInMillis: () => 30_000 } as Context & WithWorkspaceCredentials;

/** A handler that answers the access key it would sign with, refetching first when asked to. */
function handlerFor(id: string, cacheTtlSeconds = 300) {
  return middy<{ refresh?: boolean }, string, Error, Context & WithWorkspaceCredentials>()
    .use(workspaceCredentialsMiddleware({ secretId: id, cacheTtlSeconds }))
    .handler(async (event, ctx) => {
      const creds = ctx.workspaceCredentials;
      const first = await creds.forProject('p');
      if (event.refresh) await creds.refreshAfter(first.version);
      return (await creds.forProject('p')).credentials.ak;
    });
}

describe('the credentials middleware', () => {
  it('reads the secret once for many invocations within its TTL', async () => {
    const id = secretId();
    server.putSecret(id, { ak: 'AK1', sk: 'S1' });
    const handler = handlerFor(id);

    for (let i = 0; i < 3; i++) expect(await handler({}, context)).toBe('AK1');

    expect(server.readCount(id)).toBe(1);
  });

  it('reads it again on a refresh, and serves the new value from then on', async () => {
    const id = secretId();
    server.putSecret(id, { ak: 'OLD', sk: 'S' });
    const handler = handlerFor(id);
    await handler({}, context);
    server.putSecret(id, { ak: 'NEW', sk: 'S' });

    expect(await handler({ refresh: true }, context)).toBe('NEW');
    expect(await handler({}, context)).toBe('NEW');
    expect(server.readCount(id)).toBe(2);
  });

  it('keeps each secret apart', async () => {
    const [a, b] = [secretId(), secretId()];
    server.putSecret(a, { ak: 'AKA', sk: 'S' });
    server.putSecret(b, { ak: 'AKB', sk: 'S' });

    expect(await handlerFor(a)({}, context)).toBe('AKA');
    expect(await handlerFor(b)({}, context)).toBe('AKB');
  });

  it('leaves no unhandled rejection when a secret that cannot be read is never needed (a batch of poison pills)', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const handler = middy<unknown, string, Error, Context & WithWorkspaceCredentials>()
        .use(workspaceCredentialsMiddleware({ secretId: secretId(), cacheTtlSeconds: 300 }))
        .handler(async () => 'no key needed');

      expect(await handler({}, context)).toBe('no key needed');
      // Time for the failed read to settle; too short could only let the test pass wrongly, never fail wrongly.
      await new Promise<void>((resolve) => setTimeout(resolve, 200));
    } finally {
      process.off('unhandledRejection', onRejection);
    }
    expect(rejections).toEqual([]);
  });

  it('fails the invocation that needs a missing secret, naming it, and nothing before', async () => {
    const id = secretId();
    const handler = handlerFor(id);
    // Built but not invoked: nothing is fetched at init (a missing secret must fail a batch, not the init).
    expect(server.readCount(id)).toBe(0);

    await expect(handler({}, context)).rejects.toThrow(`secret ${id} could not be read`);
  });
});
