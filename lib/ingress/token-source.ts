/**
 * The webhook bearer token, read from Secrets Manager when a webhook delivery
 * first needs it and kept for a TTL. The secret is the token itself or JSON
 * `{"token": "…"}`. A wrong token makes us read the secret again (a rotation),
 * at most once a minute, so bad requests cannot hammer Secrets Manager.
 * Errors name the secret, never its value.
 */

import { readFailureName, SecretsManagerProvider } from '../platform/secrets-provider.js';

/** The webhook token cannot be read or is unusable; the message names the secret, never its value. */
export class TokenUnavailableError extends Error {
  override readonly name = 'TokenUnavailableError';
}

/** At least this long: a short token could be guessed. */
export const MIN_TOKEN_LENGTH = 16;
const MIN_REREAD_MS = 60_000;

/**
 * The token a secret string holds (the token itself, or JSON `{"token": "…"}`); throws a TokenUnavailableError when
 * there is none or it is shorter than MIN_TOKEN_LENGTH.
 */
export function parseTokenSecret(secretId: string, secretString: string | undefined): string {
  if (!secretString) throw new TokenUnavailableError(`secret ${secretId} has no string value`);
  let token = secretString.trim();
  if (token.startsWith('{')) {
    let document: unknown;
    try {
      document = JSON.parse(token);
    } catch {
      throw new TokenUnavailableError(`secret ${secretId} is not valid JSON`);
    }
    const value = (document as { token?: unknown }).token;
    if (typeof value !== 'string') throw new TokenUnavailableError(`secret ${secretId} has no "token" string`);
    token = value;
  }
  if (token.length < MIN_TOKEN_LENGTH)
    throw new TokenUnavailableError(`secret ${secretId}: the token must be at least ${MIN_TOKEN_LENGTH} characters`);
  return token;
}

/**
 * The webhook token, read when first needed and kept for `ttlMs`; `reread` reads it again after a mismatch, at most
 * once a minute.
 */
export class TokenSource {
  private cached: { token: Promise<string>; at: number } | undefined;

  constructor(
    private readonly read: () => Promise<string>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  current(): Promise<string> {
    if (!this.cached || this.now() - this.cached.at >= this.ttlMs) this.load();
    return this.cached!.token;
  }

  /** After a mismatch: the token read afresh if the cached one is old enough to re-read, else undefined. */
  async reread(): Promise<string | undefined> {
    if (this.cached && this.now() - this.cached.at < MIN_REREAD_MS) return undefined;
    this.load();
    return this.cached!.token;
  }

  private load(): void {
    const token = this.read();
    this.cached = { token, at: this.now() };
    // A failed read is not kept: the next request tries again.
    token.catch(() => {
      if (this.cached?.token === token) this.cached = undefined;
    });
  }
}

/** Reads the secret afresh each time (TokenSource keeps it); endpoint from AWS_ENDPOINT_URL_SECRETS_MANAGER locally. */
export function secretsManagerToken(secretId: string): () => Promise<string> {
  let provider: SecretsManagerProvider | undefined;
  return async () => {
    provider ??= new SecretsManagerProvider();
    let secret: unknown;
    try {
      secret = await provider.get(secretId, { forceFetch: true, maxAge: 0 });
    } catch (error) {
      throw new TokenUnavailableError(`secret ${secretId} could not be read (${readFailureName(error)})`);
    }
    return parseTokenSecret(secretId, typeof secret === 'string' ? secret : undefined);
  };
}
