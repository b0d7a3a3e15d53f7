import { GetParameterError, TransformParameterError } from '@aws-lambda-powertools/parameters/errors';
import { describe, expect, it } from 'vitest';
import { CredentialsUnavailableError, WorkspaceCredentials } from '../../lib/workspace/credentials.js';

function source(values: unknown[]) {
  let reads = 0;
  return {
    get reads() {
      return reads;
    },
    load: async () => values[Math.min(reads++, values.length - 1)],
    reload: async () => values[Math.min(reads++, values.length - 1)],
  };
}

describe('Workspace credentials from the secret', () => {
  it('uses a per-project key when the secret has one, else the default key', async () => {
    const creds = new WorkspaceCredentials(
      's',
      source([{ ak: 'A', sk: 'S', projects: { p2: { ak: 'A2', sk: 'S2', security_token: 'T2' } } }]),
    );
    expect((await creds.forProject('p1')).credentials).toEqual({ ak: 'A', sk: 'S', securityToken: undefined });
    expect((await creds.forProject('p2')).credentials).toEqual({ ak: 'A2', sk: 'S2', securityToken: 'T2' });
  });

  it('shares one refetch among the calls that saw the same version', async () => {
    const loader = source([
      { ak: 'OLD', sk: 'S' },
      { ak: 'NEW', sk: 'S' },
    ]);
    const creds = new WorkspaceCredentials('s', loader);
    const { generation } = await creds.forProject('p');
    await Promise.all([creds.refreshAfter(generation), creds.refreshAfter(generation), creds.refreshAfter(generation)]);
    expect(loader.reads).toBe(2);
    expect((await creds.forProject('p')).credentials.ak).toBe('NEW');
  });

  it.each([
    ['not JSON', 'plain-string-secret', /secret s is not a JSON object/],
    ['no sk', { ak: 'A' }, /secret s has no key for project p and no default ak\/sk/],
    ['an empty project key', { projects: { p: { ak: '', sk: 'x' } } }, /secret s: field projects\.p\.ak is missing/],
  ])('refuses a secret with %s, naming the secret and never a value', async (_, value, message) => {
    const creds = new WorkspaceCredentials('s', source([value]));
    const failure = creds.forProject('p');
    await expect(failure).rejects.toThrow(CredentialsUnavailableError);
    await expect(failure).rejects.toThrow(message);
    await expect(failure).rejects.not.toThrow(/plain-string-secret/);
  });

  it('names the secret when it cannot be read', async () => {
    const creds = new WorkspaceCredentials('team/secret', {
      load: () => Promise.reject(Object.assign(new Error('x'), { name: 'ResourceNotFoundException' })),
      reload: () => Promise.reject(new Error()),
    });
    await expect(creds.forProject('p')).rejects.toThrow(
      'secret team/secret could not be read (ResourceNotFoundException)',
    );
  });
});

describe('the credentials errors and refetches, precisely', () => {
  it('name the error class and the field, or (root) for a secret that is not an object', async () => {
    const nullSecret = new WorkspaceCredentials('s', source([null]));
    await expect(nullSecret.forProject('p')).rejects.toMatchObject({
      name: 'CredentialsUnavailableError',
      message: 'secret s is not a JSON object',
    });
    const arraySecret = new WorkspaceCredentials('s', source([['ak']]));
    await expect(arraySecret.forProject('p')).rejects.toThrow(
      'secret s: field (root) is missing or not a non-empty string',
    );
  });

  it('names what Secrets Manager answered when Powertools wraps the SDK error', async () => {
    // Prepare: GetParameterError carries the SDK's error as its cause.
    const sdkError = Object.assign(new Error('Secrets Manager cannot find the specified secret.'), {
      name: 'ResourceNotFoundException',
    });
    const wrapped = new GetParameterError(sdkError.message, { cause: sdkError });
    const creds = new WorkspaceCredentials('s', {
      load: () => Promise.reject(wrapped),
      reload: () => Promise.reject(wrapped),
    });
    // Act / Assess
    await expect(creds.forProject('p')).rejects.toThrow('secret s could not be read (ResourceNotFoundException)');
  });

  it('says a secret that is not JSON is not a JSON object, without the parser quoting it', async () => {
    // Prepare: what Powertools throws for transform 'json' on a plain string (JSON.parse's message quotes the input).
    const notJson = new TransformParameterError('json', 'Unexpected token \'p\', "plain-stri"... is not valid JSON');
    const creds = new WorkspaceCredentials('s', {
      load: () => Promise.reject(notJson),
      reload: () => Promise.reject(notJson),
    });
    // Act
    const failure = creds.forProject('p');
    // Assess
    await expect(failure).rejects.toMatchObject({
      name: 'CredentialsUnavailableError',
      message: 'secret s is not a JSON object',
    });
  });

  it('starts the read before a key is needed, and a failed read waits for forProject to report it', async () => {
    // Prepare
    const loader = {
      reads: 0,
      load: async () => {
        loader.reads++;
        throw new Error('down');
      },
      reload: () => Promise.reject(new Error('down')),
    };
    const creds = new WorkspaceCredentials('s', loader);
    // Act: prefetch twice, then ask.
    creds.prefetch();
    creds.prefetch();
    await Promise.resolve();
    // Assess: one read, and the failure is what forProject answers.
    expect(loader.reads).toBe(1);
    await expect(creds.forProject('p')).rejects.toThrow('secret s could not be read (Error)');
    expect(loader.reads).toBe(1);
  });

  it('refetch once per version: a caller that saw an older version does not refetch again', async () => {
    const loader = source([
      { ak: 'V0', sk: 'S' },
      { ak: 'V1', sk: 'S' },
      { ak: 'V2', sk: 'S' },
    ]);
    const creds = new WorkspaceCredentials('s', loader);
    const first = await creds.forProject('p');
    await creds.refreshAfter(first.generation);
    const second = await creds.forProject('p');

    await creds.refreshAfter(first.generation);

    expect(second.generation).toBe(first.generation + 1);
    expect(loader.reads).toBe(2);
    await creds.refreshAfter(second.generation);
    expect(loader.reads).toBe(3);
    expect((await creds.forProject('p')).credentials.ak).toBe('V2');
  });
});
