import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { processQueueBatch } from '../../lib/ways-in/queue-batch.js';
import type { WorkspaceClient } from '../../lib/workspace/client.js';
import { WorkspaceCredentials } from '../../lib/workspace/credentials.js';
import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import { KeyGate } from '../../lib/workspace/key-gate.js';
import { emit } from './commands.js';
import { allViolations } from './invariants.js';
import { quietPipelineEachTest } from './quiet-pipeline.js';
import { World } from './world.js';

/**
 * A key rotated and revoked while a batch runs with claims made ahead
 * (docs/ledger-protocol.md, "Claims made ahead"; docs/key-safety.md,
 * "Bounds"): the claims made ahead were admitted with the old key and wait
 * for a call place. Once a 401 found the secret rotated, none of them may
 * sign with the old key: the refused signatures stay at most the calls that
 * were in flight, MAX_CONCURRENCY, never the claims made ahead as well. Each
 * failure is still retried once, with the new key.
 */

let world: World;
quietPipelineEachTest(() => world);

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Waits for `invocation`, answering the requests held at the gate in rounds: each one 8 s after it went out. */
async function inRounds<T>(invocation: Promise<T>, held: Array<() => void>): Promise<T> {
  let done = false;
  void invocation.then(() => (done = true)).catch(() => (done = true));
  while (!done) {
    for (let i = 0; i < 50; i++) await settle();
    const out = held.splice(0, held.length);
    if (out.length) world.advance(8);
    for (const go of out) go();
  }
  return invocation;
}

describe('a key rotated and revoked while claims are made ahead', () => {
  it.each([
    [2, false],
    [3, false],
    [3, true],
  ])(
    'MAX_CONCURRENCY %i (key gate: %s): no more signatures refused with the old key than the calls in flight',
    async (concurrency, withGate) => {
      // Prepare: every request waits a round at the gate; the old key is refused (with the gate, after its probe was
      // accepted: revoked while accepted and in use); the secret holds the new key when read again.
      const held: Array<() => void> = [];
      const gate = (label: string) =>
        / (retry|old) /.test(label) ? new Promise<void>((go) => held.push(go)) : Promise.resolve();
      const failures = 4 * concurrency;
      world = new World({ maxAttempts: 1, tasks: [{ desktops: failures, reason: 'retry' }], concurrency }, gate);
      world.readings.learn(['new-task']);
      for (let i = 1; i <= failures; i++) emit(world, `r${i}`, 'record');
      const credentials = new WorkspaceCredentials('model-secret', {
        load: async () => ({ ak: 'OLDAK', sk: 'OLDSK' }),
        reload: async () => ({ ak: 'NEWAK', sk: 'NEWSK' }),
      });
      const keyGate = withGate
        ? new KeyGate({ cooldownMs: 300_000, now: world.now }).forInvocation(undefined)
        : undefined;
      const refusedOld: string[] = [];
      let probed = false;
      // Act: deliveries until the queue is empty, each request answered one round (8 s) after it went out.
      for (let delivery = 0; delivery < 5 && world.source.visible().length > 0; delivery++) {
        const records: SQSRecord[] = world.source.visible().map((m) => world.source.receive(m));
        const invocation = world.invocation('queue', 'none');
        const base = world.deps(invocation);
        const inner = base.workspace;
        const workspace = {
          ...inner,
          retry: async (project, target, signing) => {
            if (signing.ak !== 'OLDAK') return inner.retry(project, target, signing);
            await gate(`${invocation.name} old ${target.recordId}`);
            if (withGate && !probed) {
              probed = true;
              return inner.retry(project, target, signing);
            }
            refusedOld.push(target.recordId!);
            throw new WorkspaceApiError({ status: 401, code: 'APIGW.0301', message: 'signature refused' });
          },
        } as WorkspaceClient;
        const response = await inRounds(
          processQueueBatch({ Records: records }, { ...base, credentials, workspace, keyGate }),
          held,
        );
        const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
        for (const record of records) if (!failed.has(record.messageId)) world.source.delete(record.messageId);
        world.advance(900);
      }
      // Assess
      expect(refusedOld.length, `signatures refused with the old key: ${refusedOld.join(', ')}`).toBeLessThanOrEqual(
        concurrency,
      );
      expect([...world.ws.applied.values()]).toEqual(Array(failures).fill(1));
      expect(allViolations(world)).toEqual([]);
    },
  );

  it('a key revoked and not rotated: the claims made ahead are given back uncalled, the signatures refused stay at most the calls in flight', async () => {
    // Prepare: three calls at once, twelve failures; the old key's probe is accepted, then the key is revoked, and
    // the secret read again still holds it.
    const concurrency = 3;
    const held: Array<() => void> = [];
    const gate = (label: string) =>
      / old /.test(label) ? new Promise<void>((go) => held.push(go)) : Promise.resolve();
    world = new World({ maxAttempts: 1, tasks: [{ desktops: 12, reason: 'retry' }], concurrency }, gate);
    world.readings.learn(['new-task']);
    for (let i = 1; i <= 12; i++) emit(world, `r${i}`, 'record');
    const key = async () => ({ ak: 'OLDAK', sk: 'OLDSK' });
    const credentials = new WorkspaceCredentials('model-secret', { load: key, reload: key });
    const keyGate = new KeyGate({ cooldownMs: 300_000, now: world.now }).forInvocation(undefined);
    const records: SQSRecord[] = world.source.visible().map((m) => world.source.receive(m));
    const invocation = world.invocation('queue', 'none');
    const base = world.deps(invocation);
    let sent = 0;
    const refused: string[] = [];
    const workspace = {
      ...base.workspace,
      retry: async (project, target, signing) => {
        await gate(`${invocation.name} old ${target.recordId}`);
        if (sent++ === 0) return base.workspace.retry(project, target, signing);
        refused.push(target.recordId!);
        throw new WorkspaceApiError({ status: 401, code: 'APIGW.0301', message: 'signature refused' });
      },
    } as WorkspaceClient;
    // Act
    await inRounds(processQueueBatch({ Records: records }, { ...base, credentials, workspace, keyGate }), held);
    // Assess: the refusals are the calls that were in flight (each deferred as auth-failed); the claims made ahead are
    // given back uncalled (key-refused), the rest wait for the key's breaker before any claim (circuit-open).
    expect(refused.length, `signatures refused: ${refused.join(', ')}`).toBeLessThanOrEqual(concurrency);
    const codes = world.outcomes.map((o) => o.code ?? o.kind);
    expect(codes.filter((code) => code === 'retried')).toHaveLength(1);
    expect(codes.filter((code) => code === 'auth-failed')).toHaveLength(refused.length);
    expect(codes.filter((code) => code === 'key-refused').length).toBeGreaterThan(0);
    expect(new Set(codes)).toEqual(new Set(['retried', 'auth-failed', 'key-refused', 'circuit-open']));
    expect([...world.store.items.values()].filter((item) => item.state === 'claimed')).toEqual([]);
  });
});
