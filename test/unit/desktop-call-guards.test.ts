import { describe, expect, it } from 'vitest';
import { CircuitBreakers, CircuitOpenError } from '../../lib/workspace/circuit-breakers.js';
import { WorkspaceCredentials } from '../../lib/workspace/credentials.js';
import { type DesktopCalls, InvocationDesktops } from '../../lib/workspace/desktop-reads.js';
import { ErrorBudget } from '../../lib/workspace/error-budget.js';
import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import { admitKey, type KeyedCalls, KeyRefusedError } from '../../lib/workspace/key-calls.js';
import { KeyGate } from '../../lib/workspace/key-gate.js';
import { PROJECT_ID } from '../helpers/factories.js';

/**
 * The desktop reads and starts (lib/workspace/desktop-reads.ts) stand behind
 * the same guards as every signed call: the key gate, the key's circuit
 * breaker (a refused key, an endpoint failing in a row) and the error budget.
 * While a guard holds, nothing is sent, and what it holds back is not counted
 * as a Workspace failure.
 */

const KEY = { ak: 'AK', sk: 'SK' };
const ENDPOINT = 'https://workspace.test';
const project = { projectId: PROJECT_ID };

/** Desktop calls that note each call and answer every one with `error` (503 by default). */
function failingCalls(error = new WorkspaceApiError({ status: 503, code: 'APIG.0201', message: 'down' })) {
  const sent: string[] = [];
  const fail = async (what: string): Promise<never> => {
    sent.push(what);
    throw error;
  };
  const desktops = {
    readDesktops: () => fail('list'),
    showDesktop: () => fail('show'),
    runDesktops: () => fail('start'),
  } as unknown as DesktopCalls;
  return { desktops, sent };
}

function keyedCalls(breakers: CircuitBreakers, keyGate?: KeyedCalls['keyGate']): KeyedCalls {
  const credentials = new WorkspaceCredentials('s', { load: async () => KEY, reload: async () => KEY });
  return { credentials, breakers, keyGate, projectId: PROJECT_ID, endpoint: ENDPOINT };
}

const breakers = (consecutiveFailures = 100) =>
  new CircuitBreakers({ consecutiveFailures, halfOpenAfterMs: 60_000, authCooldownMs: 60_000 });

describe('desktop calls behind the guards of every signed call', () => {
  it('a key Workspace refused (401) is not used to read or start a desktop until its cool-down ends', async () => {
    // Prepare
    const guard = breakers();
    guard.refuseKey(CircuitBreakers.keyFor(ENDPOINT, KEY.ak));
    const { desktops, sent } = failingCalls();
    const budget = new ErrorBudget(0.5, 1);
    const invocation = new InvocationDesktops(desktops, budget);
    // Act
    const reading = await invocation.stateOf(keyedCalls(guard), project, 'd1');
    const start = await invocation.start(keyedCalls(guard), project, 'd1');
    // Assess: nothing sent; the read is unreadable for now, the start certainly not sent; no Workspace failure counted.
    expect(sent).toEqual([]);
    expect(reading).toMatchObject({ kind: 'unreadable', error: expect.any(CircuitOpenError) });
    expect(start).toMatchObject({ kind: 'not-sent', error: expect.any(CircuitOpenError) });
    expect(budget.describe()).toBe('0 of 0 Workspace calls in this invocation failed');
  });

  it("an endpoint that failed the breaker's run of calls is not read again while the circuit is open", async () => {
    // Prepare: two invocations' reads fail in a row; the breaker opens after two.
    const guard = breakers(2);
    const { desktops, sent } = failingCalls();
    for (const id of ['d1', 'd2']) await new InvocationDesktops(desktops).stateOf(keyedCalls(guard), project, id);
    expect(sent).toEqual(['list', 'list']);
    // Act
    const reading = await new InvocationDesktops(desktops).stateOf(keyedCalls(guard), project, 'd3');
    // Assess
    expect(sent).toEqual(['list', 'list']);
    expect(reading).toMatchObject({ kind: 'unreadable', error: expect.any(CircuitOpenError) });
  });

  it("a key fingerprint the key gate refuses reads no desktop, and the refusal is not counted as Workspace's failure", async () => {
    // Prepare: the gate has seen this key refused, and a fresh read of the secret still holds it.
    const gate = new KeyGate({ cooldownMs: 60_000 }).forInvocation();
    const calls = keyedCalls(breakers(), gate);
    const first = await admitKey(gate, calls.credentials, PROJECT_ID, await calls.credentials.forProject(PROJECT_ID));
    if (first.kind === 'go') await first.pass.refused();
    const { desktops, sent } = failingCalls();
    const budget = new ErrorBudget(0.5, 1);
    // Act
    const reading = await new InvocationDesktops(desktops, budget).stateOf(calls, project, 'd1');
    // Assess
    expect(sent).toEqual([]);
    expect(reading).toMatchObject({ kind: 'unreadable', error: expect.any(KeyRefusedError) });
    expect(budget.describe()).toBe('0 of 0 Workspace calls in this invocation failed');
  });
});
