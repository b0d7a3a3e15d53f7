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
    const creds = new WorkspaceCredentials('s', source([{ ak: 'A', sk: 'S', projects: { p2: { ak: 'A2', sk: 'S2', security_token: 'T2' } } }]));
    expect((await creds.forProject('p1')).credentials).toEqual({ ak: 'A', sk: 'S', securityToken: undefined });
    expect((await creds.forProject('p2')).credentials).toEqual({ ak: 'A2', sk: 'S2', securityToken: 'T2' });
  });

  it('shares one refetch among the calls that saw the same version', async () => {
    const loader = source([{ ak: 'OLD', sk: 'S' }, { ak: 'NEW', sk: 'S' }]);
    const creds = new WorkspaceCredentials('s', loader);
    const { version } = await creds.forProject('p');
    await Promise.all([creds.refreshAfter(version), creds.refreshAfter(version), creds.refreshAfter(version)]);
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
    const creds = new WorkspaceCredentials('team/secret', { load: () => Promise.reject(Object.assign(new Error('x'), { name: 'ResourceNotFoundException' })), reload: () => Promise.reject(new Error()) });
    await expect(creds.forProject('p')).rejects.toThrow('secret team/secret could not be read (ResourceNotFoundException)');
  });
});

describe('the credentials errors and refetches, precisely', () => {
  it('name the error class and the field, or (root) for a secret that is not an object', async () => {
    const nullSecret = new WorkspaceCredentials('s', source([null]));
    await expect(nullSecret.forProject('p')).rejects.toMatchObject({ name: 'CredentialsUnavailableError', message: 'secret s is not a JSON object' });
    const arraySecret = new WorkspaceCredentials('s', source([['ak']]));
    await expect(arraySecret.forProject('p')).rejects.toThrow('secret s: field (root) is missing or not a non-empty string');
  });

  it('lists every cause Secrets Manager gave when the secret cannot be read', async () => {
    const error = Object.assign(new Error('x'), { name: 'AggregateError', cause: { data: [{ name: 'ResourceNotFoundException' }, {}, { name: 'AccessDeniedException' }] } });
    const creds = new WorkspaceCredentials('s', { load: () => Promise.reject(error), reload: () => Promise.reject(error) });
    await expect(creds.forProject('p')).rejects.toThrow('secret s could not be read (ResourceNotFoundException, AccessDeniedException)');
  });

  it('refetch once per version: a caller that saw an older version does not refetch again', async () => {
    const loader = source([{ ak: 'V0', sk: 'S' }, { ak: 'V1', sk: 'S' }, { ak: 'V2', sk: 'S' }]);
    const creds = new WorkspaceCredentials('s', loader);
    const first = await creds.forProject('p');
    await creds.refreshAfter(first.version);
    const second = await creds.forProject('p');

    await creds.refreshAfter(first.version);

    expect(second.version).toBe(first.version + 1);
    expect(loader.reads).toBe(2);
    await creds.refreshAfter(second.version);
    expect(loader.reads).toBe(3);
    expect((await creds.forProject('p')).credentials.ak).toBe('V2');
  });
});
