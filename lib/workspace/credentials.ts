/**
 * Workspace AK/SK from AWS Secrets Manager. The secret is JSON:
 * `{"ak", "sk", "security_token"?, "projects"?: {"<project_id>": {"ak", "sk", "security_token"?}}}`.
 * Read through Powertools Parameters (lib/platform/secrets-provider.ts) and cached across invocations for a TTL;
 * read again once when Workspace answers 401 (a rotated key). Nothing here
 * ever puts a key, a secret string or a token into a message.
 */

import { TransformParameterError } from '@aws-lambda-powertools/parameters/errors';
import type { MiddlewareObj } from '@middy/core';
import { reportConfigurationError } from '../platform/observability.js';
import { readFailureName, SecretsManagerProvider } from '../platform/secrets-provider.js';
import * as v from '../platform/valibot.js';
import type { SigningCredentials } from './signer.js';

const nonEmpty = () => v.pipe(v.string(), v.minLength(1));
const keySchema = v.object({ ak: nonEmpty(), sk: nonEmpty(), security_token: v.optional(nonEmpty()) });
const secretSchema = v.object({
  ...v.partial(keySchema).entries,
  projects: v.optional(v.record(v.string(), keySchema)),
});

type Secret = v.InferOutput<typeof secretSchema>;

/** The secret could not be read or understood. The message names the secret and the field, never a value. */
export class CredentialsUnavailableError extends Error {
  override readonly name = 'CredentialsUnavailableError';
}

/** Credentials for one project, with the generation of the secret they came from. */
export interface ProjectCredentials {
  readonly credentials: SigningCredentials;
  /**
   * How many times the secret was read again after a refusal: a refresh is shared by every call that saw the same
   * generation.
   */
  readonly generation: number;
}

/** Where the secret comes from: the cached value, and a forced refetch. */
export interface SecretLoader {
  load(): Promise<unknown>;
  reload(): Promise<unknown>;
}

function parseSecret(secretId: string, value: unknown): Secret {
  if (typeof value !== 'object' || value === null)
    throw new CredentialsUnavailableError(`secret ${secretId} is not a JSON object`);
  const parsed = v.safeParse(secretSchema, value);
  if (!parsed.success)
    throw new CredentialsUnavailableError(
      `secret ${secretId}: field ${v.issuePath(parsed.issues[0]).join('.') || '(root)'} is missing or not a non-empty string`,
    );
  return parsed.output;
}

function toSigning(key: v.InferOutput<typeof keySchema>): SigningCredentials {
  return { ak: key.ak, sk: key.sk, securityToken: key.security_token };
}

/**
 * The credentials one invocation uses. A 401 leads to at most one refetch of
 * the secret, shared by every call that saw the same generation (a key refused
 * after that is isolated by its circuit breaker: lib/workspace/circuit-breakers.ts).
 */
export class WorkspaceCredentials {
  private secret: Promise<Secret> | undefined;
  private generation = 0;
  private refreshing: Promise<void> | undefined;
  private readonly reported = new Set<string>();

  /**
   * `report` hears of each distinct problem once (an invocation's worth: the middleware makes one of these per
   * invocation).
   */
  constructor(
    private readonly secretId: string,
    private readonly loader: SecretLoader,
    private readonly report: (error: CredentialsUnavailableError) => void = () => undefined,
  ) {}

  async forProject(projectId: string): Promise<ProjectCredentials> {
    try {
      this.secret ??= this.read(() => this.loader.load());
      const secret = await this.secret;
      const key =
        secret.projects?.[projectId] ??
        (secret.ak && secret.sk ? { ak: secret.ak, sk: secret.sk, security_token: secret.security_token } : undefined);
      if (!key)
        throw new CredentialsUnavailableError(
          `secret ${this.secretId} has no key for project ${projectId} and no default ak/sk`,
        );
      return { credentials: toSigning(key), generation: this.generation };
    } catch (error) {
      if (error instanceof CredentialsUnavailableError && !this.reported.has(error.message)) {
        this.reported.add(error.message);
        this.report(error);
      }
      throw error;
    }
  }

  /** Refetches the secret once per generation: callers that saw the same stale generation share one fetch. */
  async refreshAfter(generation: number): Promise<void> {
    if (generation < this.generation) return;
    this.refreshing ??= (async () => {
      this.secret = this.read(() => this.loader.reload());
      await this.secret;
      this.generation++;
    })().finally(() => {
      this.refreshing = undefined;
    });
    await this.refreshing;
  }

  /**
   * Starts reading the secret now, for a caller that will want it soon; a failure waits for forProject to report it.
   */
  prefetch(): void {
    this.secret ??= this.read(() => this.loader.load());
    this.secret.catch(() => undefined);
  }

  private async read(fetchSecret: () => Promise<unknown>): Promise<Secret> {
    let value: unknown;
    try {
      value = await fetchSecret();
    } catch (error) {
      // The JSON parser's message quotes the start of the secret: only the fact is kept.
      if (error instanceof TransformParameterError)
        throw new CredentialsUnavailableError(`secret ${this.secretId} is not a JSON object`);
      throw new CredentialsUnavailableError(`secret ${this.secretId} could not be read (${readFailureName(error)})`);
    }
    return parseSecret(this.secretId, value);
  }
}

/** The secret to read Workspace's keys from, and how long they are kept. */
export interface CredentialsMiddlewareOptions {
  readonly secretId: string;
  readonly cacheTtlSeconds: number;
}

/** The context property the middleware sets. */
export interface WithWorkspaceCredentials {
  workspaceCredentials: WorkspaceCredentials;
}

/**
 * A middy middleware that puts a WorkspaceCredentials on `context.workspaceCredentials`.
 * One provider per function keeps the parsed secret for the TTL across
 * invocations (https://docs.aws.amazon.com/powertools/typescript/latest/features/parameters/);
 * the refetch after a 401 is a forceFetch, which also refreshes that cache.
 * The secret is read only inside an invocation, never at init and never on a
 * background timer, so an outage fails that batch back to the queue rather
 * than ending the runtime with an unhandled rejection.
 * AWS_ENDPOINT_URL_SECRETS_MANAGER points it at the local stack.
 */
export function workspaceCredentialsMiddleware(options: CredentialsMiddlewareOptions): MiddlewareObj {
  let provider: SecretsManagerProvider | undefined;
  const read = (forceFetch: boolean) => {
    provider ??= new SecretsManagerProvider();
    return provider.get(options.secretId, { maxAge: options.cacheTtlSeconds, transform: 'json', forceFetch });
  };
  const loader: SecretLoader = { load: () => read(false), reload: () => read(true) };
  return {
    before: (request) => {
      const credentials = new WorkspaceCredentials(options.secretId, loader, (error) =>
        reportConfigurationError(
          'Workspace keys unavailable: failures wait on the queue (and reach the DLQ by redrive after maxReceiveCount) until the secret is fixed',
          error,
        ),
      );
      // The read overlaps whatever a record does before it needs a key (a cache hit costs nothing).
      credentials.prefetch();
      (request.context as unknown as WithWorkspaceCredentials).workspaceCredentials = credentials;
    },
  };
}
