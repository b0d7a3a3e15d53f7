import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type WithWorkspaceCredentials, workspaceCredentialsMiddleware } from '../../lib/workspace/credentials.js';
import { SecretsManagerServer } from '../../local/secrets-manager-server.js';

/**
 * The credentials middleware against the local Secrets Manager over HTTP:
 * one read per TTL, one refetch on demand, each secret cached apart, a
 * missing secret or an outage that fails the invocation without an unhandled
 * rejection, and a secret that is not JSON refused without being quoted.
 */

let server: SecretsManagerServer;
const saved = { ...process.env };
beforeAll(async () => {
  server = await SecretsManagerServer.start();
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: server.url,
  });
});
afterAll(async () => {
  process.env = saved;
  await server.stop();
});
afterEach(() => {
  vi.useRealTimers();
  server.down = false;
});

let n = 0;
const secretId = () => `credentials-middleware/${process.pid}-${++n}`;
// The middleware sets workspaceCredentials; Lambda passes a plain context.
const context = { getRemainingTimeInMillis: () => 30_000 } as Context & WithWorkspaceCredentials;

/** Runs `act`, then gives any failed read time to settle; answers the unhandled rejections seen meanwhile. */
async function unhandledRejectionsDuring(act: () => Promise<void>): Promise<unknown[]> {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  process.on('unhandledRejection', onRejection);
  try {
    await act();
    // Too short a wait could only let a test pass wrongly, never fail wrongly.
    await new Promise<void>((resolve) => setTimeout(resolve, 200));
  } finally {
    process.off('unhandledRejection', onRejection);
  }
  return rejections;
}

/** A handler that answers the access key it would sign with, refetching first when asked to. */
function handlerFor(id: string, cacheTtlSeconds = 300) {
  return middy<{ refresh?: boolean }, string, Error, Context & WithWorkspaceCredentials>()
    .use(workspaceCredentialsMiddleware({ secretId: id, cacheTtlSeconds }))
    .handler(async (event, ctx) => {
      const creds = ctx.workspaceCredentials;
      const first = await creds.forProject('p');
      if (event.refresh) await creds.refreshAfter(first.generation);
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
    const handler = middy<unknown, string, Error, Context & WithWorkspaceCredentials>()
      .use(workspaceCredentialsMiddleware({ secretId: secretId(), cacheTtlSeconds: 300 }))
      .handler(async () => 'no key needed');

    const rejections = await unhandledRejectionsDuring(async () => {
      expect(await handler({}, context)).toBe('no key needed');
    });

    expect(rejections).toEqual([]);
  });

  it('fails the invocation that needs a missing secret, naming it, and nothing before', async () => {
    const id = secretId();
    const handler = handlerFor(id);
    // Built but not invoked: nothing is fetched at init (a missing secret must fail a batch, not the init).
    expect(server.readCount(id)).toBe(0);

    await expect(handler({}, context)).rejects.toThrow(`secret ${id} could not be read`);
  });

  it('reads the secret again once its TTL has passed, and not before', async () => {
    // Prepare: Powertools dates its cache with Date.now, so only the clock is faked.
    vi.useFakeTimers({ toFake: ['Date'] });
    const id = secretId();
    server.putSecret(id, { ak: 'OLD', sk: 'S' });
    const handler = handlerFor(id, 60);
    await handler({}, context);
    server.putSecret(id, { ak: 'NEW', sk: 'S' });
    // Act
    vi.setSystemTime(Date.now() + 59_000);
    const within = await handler({}, context);
    vi.setSystemTime(Date.now() + 2_000);
    const after = await handler({}, context);
    // Assess
    expect([within, after]).toEqual(['OLD', 'NEW']);
    expect(server.readCount(id)).toBe(2);
  });

  it('serves the cached secret through an outage of Secrets Manager within its TTL', async () => {
    const id = secretId();
    server.putSecret(id, { ak: 'AK1', sk: 'S' });
    const handler = handlerFor(id);
    await handler({}, context);

    server.down = true;

    expect(await handler({}, context)).toBe('AK1');
    expect(server.readCount(id)).toBe(1);
  });

  it('fails only the invocation that needs a key during an outage, naming the secret and what it answered, and reads again once it is back', async () => {
    // Prepare
    const id = secretId();
    server.putSecret(id, { ak: 'AK1', sk: 'S' });
    const handler = handlerFor(id);
    server.down = true;
    // Act / Assess: the SDK's own retries meet the outage too, then the invocation fails, classified.
    const rejections = await unhandledRejectionsDuring(async () => {
      await expect(handler({}, context)).rejects.toMatchObject({
        name: 'CredentialsUnavailableError',
        message: `secret ${id} could not be read (InternalServiceError)`,
      });
      server.down = false;
      expect(await handler({}, context)).toBe('AK1');
    });
    expect(rejections).toEqual([]);
  });

  it('refuses a secret that is not JSON, naming the secret and never quoting it', async () => {
    const id = secretId();
    server.putSecret(id, 'plain-string-secret-value');

    const failure = handlerFor(id)({}, context);

    await expect(failure).rejects.toThrow(`secret ${id} is not a JSON object`);
    await expect(failure).rejects.not.toThrow(/plain/);
  });
});
