import { describe, expect, it } from 'vitest';
import { type AppConfig, loadConfig } from '../../lib/config/app-config.js';
import { ConfigError } from '../../lib/platform/env-schema.js';
import { loadPolicy, PolicyConfigError } from '../../lib/policy/policy-config.js';

const base = {
  WORKSPACE_REGION: 'cn-north-4',
  CREDENTIALS_SECRET_ID: 'workspace/creds',
  DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/dlq',
  LEDGER_TABLE: 'ledger',
  SOURCE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/failures',
};

describe('configuration from the environment', () => {
  it('reads a minimal environment with defaults', () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({
      defaultRegion: 'cn-north-4',
      maxConcurrency: 10,
      credentialsCacheTtlSeconds: 300,
      dryRun: false,
      retriesEnabled: true,
      leaseSeconds: 60,
      worstCaseCallMs: 21_000,
      clockSkewSeconds: 120,
    });
    expect(config.policy.maxAttempts).toBe(3);
    expect(config.policy.rules.map((r) => r.id)).toContain('timeout');
  });

  it.each([
    [{ WORKSPACE_REGION: undefined }, 'WORKSPACE_REGION is required'],
    [{ WORKSPACE_REGION: 'mars-1' }, /WORKSPACE_REGION: region "mars-1" is not a region name/],
    [{ WORKSPACE_REGION: 'eu-west-0' }, /WORKSPACE_REGION: region eu-west-0 has no Workspace endpoint/],
    [{ CREDENTIALS_SECRET_ID: ' ' }, 'CREDENTIALS_SECRET_ID is required'],
    [{ DLQ_URL: 'not a url' }, /DLQ_URL must be a queue URL/],
    [{ LEDGER_TABLE: undefined }, 'LEDGER_TABLE is required'],
    [{ SOURCE_QUEUE_URL: undefined }, 'SOURCE_QUEUE_URL is required'],
    [{ LEDGER_LEASE_SECONDS: '20' }, /LEDGER_LEASE_SECONDS must be at least 26: a call can take 21 s/],
    [{ WORKSPACE_TIMEOUT_MS: '20000', LEDGER_LEASE_SECONDS: '60' }, /LEDGER_LEASE_SECONDS must be at least 94/],
    [{ CLOCK_SKEW_SECONDS: '3600' }, 'CLOCK_SKEW_SECONDS must be a whole number between 0 and 900, got "3600"'],
    [{ MAX_CONCURRENCY: '0' }, 'MAX_CONCURRENCY must be a whole number between 1 and 100, got "0"'],
    [{ MAX_CONCURRENCY: 'ten' }, /MAX_CONCURRENCY must be a whole number/],
    [{ DRY_RUN: 'yes' }, /DRY_RUN must be true or false/],
    [{ RETRIES_ENABLED: 'maybe' }, /RETRIES_ENABLED must be true or false/],
    [{ WORKSPACE_ENDPOINTS: '{"cn-north-4":"http://10.1.1.1"}' }, /WORKSPACE_ENDPOINTS\.cn-north-4: must be https/],
  ])('refuses %j naming the variable', (override, message) => {
    expect(() => loadConfig({ ...base, ...override })).toThrow(message);
    expect(() => loadConfig({ ...base, ...override })).toThrow(ConfigError);
  });

  it('derives the lease from the worst-case call: the default outlives it, a longer call raises it', () => {
    expect(loadConfig(base)).toMatchObject({ worstCaseCallMs: 21_000, leaseSeconds: 60 });
    expect(loadConfig({ ...base, WORKSPACE_TIMEOUT_MS: '20000' })).toMatchObject({
      worstCaseCallMs: 2 * (40_000 + 2_000) + 5_000,
      leaseSeconds: 94,
    });
  });

  it('turns on dry run from DRY_RUN or from the policy', () => {
    expect(loadConfig({ ...base, DRY_RUN: 'true' }).dryRun).toBe(true);
    expect(loadConfig({ ...base, RETRY_POLICY: '{"dry_run":true}' }).dryRun).toBe(true);
  });
});

describe('every variable keeps its default and its accepted range', () => {
  // variable, field, default, min, max (docs/configuration.md).
  const numbers: ReadonlyArray<[string, keyof AppConfig, number, number, number]> = [
    ['CREDENTIALS_CACHE_TTL_SECONDS', 'credentialsCacheTtlSeconds', 300, 1, 86_400],
    ['LEDGER_TTL_DAYS', 'ledgerTtlDays', 30, 1, 3650],
    ['CLOCK_SKEW_SECONDS', 'clockSkewSeconds', 120, 0, 900],
    ['MAX_CONCURRENCY', 'maxConcurrency', 10, 1, 100],
    ['WORKSPACE_TIMEOUT_MS', 'workspaceTimeoutMs', 3_000, 100, 60_000],
    ['WORKSPACE_IN_CALL_RETRIES', 'workspaceInCallRetries', 1, 0, 5],
    ['BREAKER_FAILURES', 'breakerFailures', 5, 1, 100],
    ['BREAKER_COOLDOWN_SECONDS', 'breakerCooldownSeconds', 30, 1, 3600],
    ['AUTH_COOLDOWN_SECONDS', 'authCooldownSeconds', 300, 1, 86_400],
    ['ERROR_THRESHOLD_MIN_CALLS', 'errorThresholdMinCalls', 5, 1, 1000],
  ];

  it.each(numbers)(
    '%s: defaults when unset or blank, accepts its bounds, refuses one past them',
    (name, field, fallback, min, max) => {
      // Prepare: a lease long enough for the longest call these bounds allow, so the lease rule never interferes.
      const env = { ...base, LEDGER_LEASE_SECONDS: '3600' };
      // Act / Assess
      expect(loadConfig(env)[field]).toBe(fallback);
      expect(loadConfig({ ...env, [name]: '  ' })[field]).toBe(fallback);
      expect(loadConfig({ ...env, [name]: String(min) })[field]).toBe(min);
      expect(loadConfig({ ...env, [name]: ` ${max} ` })[field]).toBe(max);
      if (min > 0)
        expect(() => loadConfig({ ...env, [name]: String(min - 1) })).toThrow(
          `${name} must be a whole number between ${min} and ${max}, got "${min - 1}"`,
        );
      expect(() => loadConfig({ ...env, [name]: String(max + 1) })).toThrow(
        `${name} must be a whole number between ${min} and ${max}, got "${max + 1}"`,
      );
    },
  );

  it.each(['1e1', '0x10', '+5', '-1', '5.0', '5 5', 'Infinity'])(
    'refuses %j, a spelling of a number that was never accepted',
    (spelling) => {
      expect(() => loadConfig({ ...base, MAX_CONCURRENCY: spelling })).toThrow(
        `MAX_CONCURRENCY must be a whole number between 1 and 100, got ${JSON.stringify(spelling)}`,
      );
    },
  );

  it('reads ERROR_THRESHOLD_PERCENT as a share, 50 % by default, 1 to 100 accepted', () => {
    expect(loadConfig(base).errorThreshold).toBe(0.5);
    expect(loadConfig({ ...base, ERROR_THRESHOLD_PERCENT: '100' }).errorThreshold).toBe(1);
    expect(() => loadConfig({ ...base, ERROR_THRESHOLD_PERCENT: '0' })).toThrow(
      'ERROR_THRESHOLD_PERCENT must be a whole number between 1 and 100',
    );
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['false', false],
    ['False', false],
    ['0', false],
  ])('reads the flag %j as %s, and an unset flag as its default', (spelling, value) => {
    expect(loadConfig({ ...base, DRY_RUN: spelling }).dryRun).toBe(value);
    expect(loadConfig({ ...base, RETRIES_ENABLED: spelling }).retriesEnabled).toBe(value);
    expect(loadConfig({ ...base, DRY_RUN: ' ', RETRIES_ENABLED: '' })).toMatchObject({
      dryRun: false,
      retriesEnabled: true,
    });
  });

  it.each(['yes', 'on', 'y', 'enabled'])(
    'refuses the flag %j (only true/1 and false/0 were ever accepted)',
    (spelling) => {
      expect(() => loadConfig({ ...base, RETRIES_ENABLED: spelling })).toThrow(
        `RETRIES_ENABLED must be true or false, got ${JSON.stringify(spelling)}`,
      );
    },
  );

  it('names every wrong variable at once, each with its own problem', () => {
    const error = (() => {
      try {
        loadConfig({ ...base, LEDGER_TABLE: undefined, MAX_CONCURRENCY: 'ten', DRY_RUN: 'yes' });
      } catch (caught) {
        return caught as Error;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    // The name is what a logged error shows first.
    expect(error?.name).toBe('ConfigError');
    expect(error?.message.split('; ').sort()).toEqual([
      'DRY_RUN must be true or false, got "yes"',
      'LEDGER_TABLE is required',
      'MAX_CONCURRENCY must be a whole number between 1 and 100, got "ten"',
    ]);
  });

  it('quotes only the start of a long wrong value', () => {
    expect(() => loadConfig({ ...base, DLQ_URL: `not a url ${'x'.repeat(200)}` })).toThrow(
      /^DLQ_URL must be a queue URL, got "not a url x{70}"$/,
    );
  });
});

describe('RETRY_POLICY validation', () => {
  it('lays the given fields over the bundled default', () => {
    const policy = loadPolicy('{"max_attempts":5}');
    expect(policy.maxAttempts).toBe(5);
    expect(policy.rules.length).toBeGreaterThan(3);
  });

  it.each([
    ['{', /RETRY_POLICY: not valid JSON/],
    ['[]', 'RETRY_POLICY: must be a JSON object'],
    ['{"max_attempts":-1}', /RETRY_POLICY\.max_attempts: /],
    ['{"max_atempts":3}', /RETRY_POLICY\.max_atempts: is not a known field/],
    ['{"rules":[{"id":"x","verdict":"maybe","reason_contains":["a"]}]}', /RETRY_POLICY\.rules\.0\.verdict: /],
    [
      '{"rules":[{"id":"x","verdict":"retry"}]}',
      /RETRY_POLICY\.rules\.0: a rule needs result_codes, reason_contains or statuses/,
    ],
    [
      '{"rules":[{"id":"Bad Id","verdict":"retry","reason_contains":["a"]}]}',
      /RETRY_POLICY\.rules\.0\.id: must be lower-case/,
    ],
    [
      '{"backoff":{"base_seconds":100,"max_seconds":10}}',
      'RETRY_POLICY.backoff.max_seconds: must be at least base_seconds',
    ],
    ['{"projects":{"../x":{}}}', /^RETRY_POLICY\.projects\.\.\.\/x: /],
    ['{"projects":{"p1":{"max_attempts":"3"}}}', /RETRY_POLICY\.projects\.p1\.max_attempts: /],
  ])('refuses %s naming the field', (json, message) => {
    expect(() => loadPolicy(json)).toThrow(message);
    expect(() => loadPolicy(json)).toThrow(PolicyConfigError);
  });
});
