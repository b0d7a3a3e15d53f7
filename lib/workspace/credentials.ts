import type { MiddlewareObj, Request } from '@middy/core';
import secretsManager from '@middy/secrets-manager';
import { getCache, getInternal, modifyCache } from '@middy/util';
import * as z from 'zod';
import type { SigningCredentials } from './signer.js';

/**
 * Workspace AK/SK from AWS Secrets Manager. The secret is JSON:
 * `{"ak", "sk", "security_token"?, "projects"?: {"<project_id>": {"ak", "sk", "security_token"?}}}`.
 * Fetched by @middy/secrets-manager and cached across invocations for a TTL;
 * fetched again once when Workspace answers 401 (a rotated key). Nothing here
 * ever puts a key, a secret string or a token into a message.
 */

const keySchema = z.object({ ak: z.string().min(1), sk: z.string().min(1), security_token: z.string().min(1).optional() });
const secretSchema = keySchema.partial().extend({ projects: z.record(z.string(), keySchema).optional() });

type Secret = z.infer<typeof secretSchema>;

/** The secret could not be read or understood. The message names the secret and the field, never a value. */
export class CredentialsUnavailableError extends Error {
  override readonly name = 'CredentialsUnavailableError';
}

/** Credentials for one project, with the version of the secret they came from. */
export interface ProjectCredentials {
  readonly credentials: SigningCredentials;
  readonly version: number;
}

/** Where the secret comes from: the cached value, and a forced refetch. */
export interface SecretLoader {
  load(): Promise<unknown>;
  reload(): Promise<unknown>;
}

function parseSecret(secretId: string, value: unknown): Secret {
  if (typeof value !== 'object' || value === null) throw new CredentialsUnavailableError(`secret ${secretId} is not a JSON object`);
  const parsed = secretSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CredentialsUnavailableError(`secret ${secretId}: field ${issue.path.join('.') || '(root)'} is missing or not a non-empty string`);
  }
  return parsed.data;
}

function toSigning(key: z.infer<typeof keySchema>): SigningCredentials {
  return { ak: key.ak, sk: key.sk, securityToken: key.security_token };
}

/**
 * The credentials one invocation uses. A 401 leads to at most one refetch of
 * the secret, shared by every call that saw the same version (a key refused
 * after that is isolated by its circuit breaker: lib/workspace/circuit-breakers.ts).
 */
export class WorkspaceCredentials {
  private secret: Promise<Secret> | undefined;
  private version = 0;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly secretId: string,
    private readonly loader: SecretLoader,
  ) {}

  async forProject(projectId: string): Promise<ProjectCredentials> {
    this.secret ??= this.read(() => this.loader.load());
    const secret = await this.secret;
    const key = secret.projects?.[projectId] ?? (secret.ak && secret.sk ? { ak: secret.ak, sk: secret.sk, security_token: secret.security_token } : undefined);
    if (!key) throw new CredentialsUnavailableError(`secret ${this.secretId} has no key for project ${projectId} and no default ak/sk`);
    return { credentials: toSigning(key), version: this.version };
  }

  /** Refetches the secret once per version: callers that saw the same stale version share one fetch. */
  async refreshAfter(version: number): Promise<void> {
    if (version < this.version) return;
    this.refreshing ??= (async () => {
      this.secret = this.read(() => this.loader.reload());
      await this.secret;
      this.version++;
    })().finally(() => {
      this.refreshing = undefined;
    });
    await this.refreshing;
  }

  private async read(fetchSecret: () => Promise<unknown>): Promise<Secret> {
    let value: unknown;
    try {
      value = await fetchSecret();
    } catch (error) {
      const causes = ((error as { cause?: { data?: Array<{ name?: string }> } }).cause?.data ?? []).map((e) => e.name).filter(Boolean);
      throw new CredentialsUnavailableError(`secret ${this.secretId} could not be read (${causes.join(', ') || (error as Error).name})`);
    }
    return parseSecret(this.secretId, value);
  }
}

export interface CredentialsMiddlewareOptions {
  readonly secretId: string;
  readonly cacheTtlSeconds: number;
}

/** The context property the middleware sets. */
export interface WithWorkspaceCredentials {
  workspaceCredentials: WorkspaceCredentials;
}

const INTERNAL_KEY = 'workspaceCredentials';

/**
 * A middy middleware: @middy/secrets-manager fetches and caches the secret;
 * this puts a WorkspaceCredentials on `context.workspaceCredentials` whose
 * refresh drops the cached value and lets the same middleware fetch it again.
 */
export function workspaceCredentialsMiddleware(options: CredentialsMiddlewareOptions): MiddlewareObj {
  const cacheKey = `workspace-credentials:${options.secretId}`;
  const fetcher = secretsManager({
    fetchData: { [INTERNAL_KEY]: options.secretId },
    cacheKey,
    cacheExpiry: options.cacheTtlSeconds * 1000,
    // Fetch inside the invocation, so a missing secret fails that batch back to the queue
    // instead of crashing the init with an unhandled rejection.
    disablePrefetch: true,
  });
  // Starts (or reuses) the fetch; the value is awaited only when a record needs a key. Marking the
  // promise as observed keeps a failed fetch from surfacing as an unhandled rejection meanwhile.
  const fetchInto = async (request: Request) => {
    await fetcher.before!(request as never);
    Promise.resolve((request.internal as Record<string, unknown>)[INTERNAL_KEY]).catch(() => undefined);
    // middy also refetches in the background when the TTL ends, outside any invocation: a failure there is an
    // unhandled rejection (which ends a Lambda runtime) and the timer keeps scripts alive. The TTL still holds:
    // the first invocation after it fetches again, inside the invocation, where a failure is handled.
    clearTimeout((getCache(cacheKey) as { refresh?: NodeJS.Timeout }).refresh);
  };
  return {
    before: async (request: Request) => {
      await fetchInto(request);
      const resolve = async () => (await getInternal([INTERNAL_KEY], request))[INTERNAL_KEY];
      const loader: SecretLoader = {
        load: resolve,
        reload: async () => {
          const cached = getCache(cacheKey) as { value?: Record<string, unknown> };
          modifyCache(cacheKey, { ...cached.value, [INTERNAL_KEY]: undefined });
          await fetchInto(request);
          return resolve();
        },
      };
      (request.context as unknown as WithWorkspaceCredentials).workspaceCredentials = new WorkspaceCredentials(options.secretId, loader);
    },
  };
}
