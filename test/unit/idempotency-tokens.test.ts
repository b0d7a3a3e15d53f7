import { describe, expect, it } from 'vitest';
import { IdempotencyTokens, TOKEN_LIFETIME_MS } from '../../local/idempotency-tokens.js';

/**
 * The local stack's memory of TransactWriteItems tokens (local/idempotency-tokens.ts): what each use of a token is
 * answered, and that a long run keeps only the tokens of the last 10 minutes.
 */

describe('client request tokens on the local stack', () => {
  it('a replay with the same parameters is a replay, with others a mismatch, while the first runs in progress', () => {
    const tokens = new IdempotencyTokens(() => 0);
    expect(tokens.begin('t', 'a')).toBe('new');
    expect(tokens.begin('t', 'a')).toBe('in-progress');
    tokens.complete('t');
    expect(tokens.begin('t', 'a')).toBe('replay');
    expect(tokens.begin('t', 'b')).toBe('mismatch');
  });

  it('a failed transaction forgets its token, so it may be used afresh', () => {
    const tokens = new IdempotencyTokens(() => 0);
    tokens.begin('t', 'a');
    tokens.forget('t');
    expect(tokens.begin('t', 'b')).toBe('new');
  });

  it('lets go of every token 10 minutes after it completed, whether or not it is used again', () => {
    let now = 0;
    const tokens = new IdempotencyTokens(() => now);
    for (let i = 0; i < 100; i++) {
      tokens.begin(`t${i}`, 'a');
      tokens.complete(`t${i}`);
      now += 1_000;
    }
    expect(tokens.size).toBe(100);
    // The first 40 completed more than 10 minutes before the next request.
    now = 39_000 + TOKEN_LIFETIME_MS;
    expect(tokens.begin('later', 'a')).toBe('new');
    expect(tokens.size).toBe(100 - 40 + 1);
    expect(tokens.begin('t39', 'b')).toBe('new');
    expect(tokens.begin('t40', 'b')).toBe('mismatch');
  });
});
