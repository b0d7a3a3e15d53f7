import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { logger } from '../../lib/platform/observability.js';
import { CircuitBreakers, CircuitOpenError } from '../../lib/workspace/circuit-breakers.js';
import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import { captureStdout, type LogCapture } from '../../local/log-capture.js';

/**
 * Every cool-down measured by a clock the test moves by hand (Date, cockatiel's clock, faked; timers left real): no
 * sleeps.
 */

const KEY = 'https://workspace.example key#abc';
const transient = () => new WorkspaceApiError({ status: 503, code: 'APIG.0613', message: 'IAM unavailable' });
const permanent = () => new WorkspaceApiError({ status: 404, code: 'WKS.00210404', message: 'not found' });

function setup(options: { failures?: number; cooldownMs?: number; authCooldownMs?: number } = {}) {
  vi.setSystemTime(1_000_000);
  const breakers = new CircuitBreakers({
    consecutiveFailures: options.failures ?? 3,
    halfOpenAfterMs: options.cooldownMs ?? 30_000,
    authCooldownMs: options.authCooldownMs ?? 300_000,
  });
  let calls = 0;
  const run = (outcome: 'ok' | 'transient' | 'permanent', key = KEY) =>
    breakers.execute(key, async () => {
      calls++;
      if (outcome === 'transient') throw transient();
      if (outcome === 'permanent') throw permanent();
      return 'done';
    });
  return { breakers, run, calls: () => calls, advance: (ms: number) => vi.setSystemTime(Date.now() + ms) };
}

let logs: LogCapture;
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  logger.setLogLevel('INFO');
  logs = captureStdout();
});
afterEach(() => {
  logs.restore();
  vi.useRealTimers();
});
const messages = () => logs.lines().map((l) => l['message']);
const line = (message: string) => logs.lines().find((l) => l['message'] === message);

describe('circuit breakers', () => {
  it('open after the configured run of transient failures and then refuse without calling', async () => {
    const b = setup({ failures: 3 });
    for (let i = 0; i < 3; i++) await expect(b.run('transient')).rejects.toBeInstanceOf(WorkspaceApiError);

    const refused = await b.run('ok').catch((e: unknown) => e);

    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect(refused).toMatchObject({
      name: 'CircuitOpenError',
      key: KEY,
      retryAfterMs: 30_000,
      message: `circuit open for ${KEY}: Workspace kept failing, no call for 30 s`,
    });
    expect(b.calls()).toBe(3);
    expect(b.breakers.waitFor(KEY)).toBe(30_000);
    expect(line('circuit breaker opened')).toMatchObject({ level: 'WARN', breaker: KEY, halfOpenAfterMs: 30_000 });
  });

  it('stay closed when a success breaks the run, and count only transient failures', async () => {
    const b = setup({ failures: 3 });
    await b.run('transient').catch(() => undefined);
    await b.run('transient').catch(() => undefined);
    await b.run('ok');
    await b.run('transient').catch(() => undefined);
    await b.run('permanent').catch(() => undefined);
    await b.run('permanent').catch(() => undefined);

    expect(await b.run('ok')).toBe('done');
    expect(b.breakers.waitFor(KEY)).toBe(0);
  });

  it('let exactly one probe through once the cool-down has passed; the others wait for its answer, then go when it closes', async () => {
    const b = setup({ failures: 1, cooldownMs: 30_000 });
    await b.run('transient').catch(() => undefined);
    b.advance(29_999);
    await expect(b.run('ok')).rejects.toMatchObject({ retryAfterMs: 1 });
    b.advance(1);

    let answer!: () => void;
    const probe = b.breakers.execute(KEY, () => new Promise<string>((resolve) => (answer = () => resolve('probe'))));
    const second = b.run('ok');
    await new Promise<void>((resolve) => setImmediate(resolve));
    // Only the call that opened the circuit so far: the second waits for the probe.
    expect(b.calls()).toBe(1);
    answer();

    expect(await probe).toBe('probe');
    expect(await second).toBe('done');
    expect(b.calls()).toBe(2);
    expect(b.breakers.waitFor(KEY)).toBe(0);
    expect(line('circuit breaker half-open: one probe call')).toMatchObject({ breaker: KEY });
    expect(line('circuit breaker closed')).toMatchObject({ breaker: KEY });
  });

  it('open again for a full cool-down when the probe fails, refusing the calls that waited for it', async () => {
    const b = setup({ failures: 1, cooldownMs: 30_000 });
    await b.run('transient').catch(() => undefined);
    b.advance(30_000);

    const [probe, second] = await Promise.allSettled([b.run('transient'), b.run('ok')]);

    expect(probe).toMatchObject({ status: 'rejected', reason: expect.any(WorkspaceApiError) });
    // It waited for the probe, so it is told the whole new cool-down, not a token second.
    expect(second).toMatchObject({ status: 'rejected', reason: expect.any(CircuitOpenError) });
    expect((second as PromiseRejectedResult).reason.retryAfterMs).toBe(30_000);
    expect(b.calls()).toBe(2);
    expect(b.breakers.waitFor(KEY)).toBe(30_000);
  });

  it('keep endpoints and keys apart', async () => {
    const b = setup({ failures: 1 });
    await b.run('transient').catch(() => undefined);
    expect(await b.run('ok', 'https://other.example key#abc')).toBe('done');
  });

  it('refuse a refused key for the auth cool-down, warn once, and let it be tried after', async () => {
    const b = setup({ authCooldownMs: 300_000 });
    b.breakers.refuseKey(KEY);
    b.advance(1_000);
    b.breakers.refuseKey(KEY);

    expect(b.breakers.waitFor(KEY)).toBe(299_000);
    await expect(b.run('ok')).rejects.toMatchObject({ retryAfterMs: 299_000 });
    expect(
      messages().filter((m) => m === 'access key refused by Workspace: not used again until the cool-down ends'),
    ).toHaveLength(1);
    expect(line('access key refused by Workspace: not used again until the cool-down ends')).toMatchObject({
      level: 'WARN',
      breaker: KEY,
      cooldownMs: 300_000,
    });

    b.advance(299_000);
    expect(await b.run('ok')).toBe('done');
    expect(b.calls()).toBe(1);
    // Refused again the moment the last cool-down ended: a new cool-down, and a new warning.
    b.breakers.refuseKey(KEY);
    expect(b.breakers.waitFor(KEY)).toBe(300_000);
    expect(
      messages().filter((m) => m === 'access key refused by Workspace: not used again until the cool-down ends'),
    ).toHaveLength(2);
  });

  it('keep a refused key refused when its circuit closes before the auth cool-down ends', async () => {
    const b = setup({ failures: 1, cooldownMs: 1_000, authCooldownMs: 300_000 });
    await b.run('transient').catch(() => undefined);
    b.advance(1_000);
    await b.run('ok');
    b.breakers.refuseKey(KEY);

    expect(b.breakers.waitFor(KEY)).toBe(300_000);
  });

  it('name a key by a fingerprint, never by the access key', () => {
    const key = CircuitBreakers.keyFor('https://workspace.example', 'AKSECRETACCESSKEY');
    expect(key).toMatch(/^https:\/\/workspace\.example key#[0-9a-f]{12}$/);
    expect(key).not.toContain('AKSECRETACCESSKEY');
    expect(CircuitBreakers.keyFor('https://workspace.example', 'AKOTHER')).not.toBe(key);
  });
});
