import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_DOCUMENT, loadPolicy, parsePolicy } from '../../lib/policy/policy-config.js';

/**
 * With RETRY_POLICY unset, the bundled default is read without zod at cold
 * start (lib/policy/policy-config.ts): this is where it is validated instead.
 */

describe('the bundled default policy', () => {
  it('passes the schema, and the policy read without validation is the validated one', () => {
    // Act
    const validated = parsePolicy(DEFAULT_POLICY_DOCUMENT, 'default-policy.json');
    const unset = loadPolicy(undefined);

    // Assess
    expect(unset).toEqual(validated);
    expect(loadPolicy('  ')).toEqual(validated);
  });

  it('a RETRY_POLICY laid over it is still validated', () => {
    expect(() => loadPolicy('{"max_attempts": -1}')).toThrow(/RETRY_POLICY\.max_attempts/);
    expect(loadPolicy('{"max_attempts": 5}').maxAttempts).toBe(5);
  });
});
