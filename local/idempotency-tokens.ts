/**
 * DynamoDB's ClientRequestToken for TransactWriteItems: a token names one request for 10 minutes after that
 * request completes. A replay with the same parameters succeeds without writing again; different parameters are
 * a mismatch; a replay while the first is still running is refused. A transaction that fails forgets its token.
 */

/** How long a completed transaction's token is remembered. */
export const TOKEN_LIFETIME_MS = 10 * 60 * 1000;

/** What a token says about a request carrying it. */
export type TokenVerdict = 'new' | 'replay' | 'mismatch' | 'in-progress';

interface TokenUse {
  readonly fingerprint: string;
  completedAt?: number;
}

/** The tokens of recent transactions, timed by an injected clock. */
export class IdempotencyTokens {
  private readonly uses = new Map<string, TokenUse>();
  /** Completed tokens in the order they completed, so the expired ones are let go from the front. */
  private readonly completed: Array<{ readonly token: string; readonly at: number }> = [];

  constructor(private readonly now: () => number) {}

  /** Judges a request; a `new` one is recorded as in progress until `complete` or `forget`. */
  begin(token: string, fingerprint: string): TokenVerdict {
    this.forgetExpired();
    const use = this.uses.get(token);
    if (use?.completedAt !== undefined && this.now() - use.completedAt >= TOKEN_LIFETIME_MS) {
      this.uses.delete(token);
    } else if (use) {
      if (use.fingerprint !== fingerprint) return 'mismatch';
      return use.completedAt === undefined ? 'in-progress' : 'replay';
    }
    this.uses.set(token, { fingerprint });
    return 'new';
  }

  /** The transaction carrying `token` has been applied: its 10 minutes start now. */
  complete(token: string): void {
    const use = this.uses.get(token);
    if (!use) return;
    use.completedAt = this.now();
    this.completed.push({ token, at: use.completedAt });
  }

  /** How many tokens are remembered (in progress, or completed within their 10 minutes). */
  get size(): number {
    return this.uses.size;
  }

  /** Lets go of the tokens whose 10 minutes have passed, so a long run does not keep every token it saw. */
  private forgetExpired(): void {
    const now = this.now();
    while (this.completed.length > 0 && now - this.completed[0]!.at >= TOKEN_LIFETIME_MS) {
      const { token, at } = this.completed.shift()!;
      if (this.uses.get(token)?.completedAt === at) this.uses.delete(token);
    }
  }

  /** The transaction carrying `token` failed: the token may be used afresh. */
  forget(token: string): void {
    this.uses.delete(token);
  }
}
