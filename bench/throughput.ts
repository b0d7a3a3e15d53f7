import { request } from 'node:http';
import type { SQSEvent } from 'aws-lambda';
import type { AppConfig } from '../lib/config/app-config.js';
import { processQueueBatch } from '../lib/ways-in/queue-batch.js';
import { createRuntime, forInvocation, type Runtime } from '../lib/ways-in/runtime.js';
import type { WorkspaceCredentials } from '../lib/workspace/credentials.js';
import { signRequest } from '../lib/workspace/signer.js';
import { lambdaContext } from '../local/poller.js';
import { batch, muted, retryingAll, round2 } from './fixtures.js';
import { peerHandler } from './peer.js';
import type { StackProcess } from './stack-process.js';

/**
 * Throughput against the latency limit: N records through processQueueBatch
 * at concurrency C while every Workspace call takes L = 50 ms. No code can
 * beat ceil(N / C) × L; the ratio says how far above that we are. The peer
 * (bench/peer.ts) runs the headline cells in the same run; the naive way
 * (sequential, no ledger) the small C = 1 cells.
 */

export const LATENCY_MS = 50;
const MAX_IDEAL_SECONDS = 12;
const PEER_CELLS = new Set(['100x10', '1000x10']);

export interface ThroughputRow {
  n: number;
  c: number;
  latencyMs: number;
  wallMs: number | null;
  idealMs: number;
  ratio: number | null;
  peerWallMs: number | null;
  peerRatio: number | null;
  naiveMs: number | null;
  /**
   * CPU the stack's process spent per record (its stand-ins: DynamoDB, the Workspace simulator), ours and the
   * peer's, in the cells the peer runs: on 2 cores it competes with the handler, so it is part of the wall time.
   */
  stackCpuMicrosPerRecord?: number;
  peerStackCpuMicrosPerRecord?: number;
  note?: string;
}

/** What `fn` returns, with the CPU the stack's process spent meanwhile, µs per record of `n`. */
async function withStackCpu<T>(stack: StackProcess, n: number, fn: () => Promise<T>): Promise<[T, number]> {
  const before = (await stack.command('stats')).cpuMicros;
  const result = await fn();
  const after = (await stack.command('stats')).cpuMicros;
  return [result, Math.round((after - before) / n)];
}

export async function throughput(
  stack: StackProcess,
  config: AppConfig,
  credentials: WorkspaceCredentials,
  idempotencyTable: string,
): Promise<ThroughputRow[]> {
  await stack.command(`latency ${LATENCY_MS}`);
  const runtime = createRuntime(config);
  const rows: ThroughputRow[] = [];
  for (const n of [10, 100, 1000, 10000]) {
    for (const c of [1, 10, 50]) {
      const idealMs = Math.ceil(n / c) * LATENCY_MS;
      const empty = {
        n,
        c,
        latencyMs: LATENCY_MS,
        idealMs,
        wallMs: null,
        ratio: null,
        peerWallMs: null,
        peerRatio: null,
        naiveMs: null,
      };
      if (idealMs / 1000 > MAX_IDEAL_SECONDS) {
        rows.push({
          ...empty,
          note: `skipped: ideal ${idealMs / 1000} s exceeds the bench's ${MAX_IDEAL_SECONDS} s per cell`,
        });
        continue;
      }
      const ourEvent = await batch(stack, n);
      const [wallMs, stackCpu] = await withStackCpu(stack, n, () =>
        retryingAll(stack, n, `ours, ${n} × ${c}`, () => ours(runtime, credentials, ourEvent, c)),
      );
      const peerEvent = PEER_CELLS.has(`${n}x${c}`) ? await batch(stack, n) : undefined;
      const [peerWallMs, peerStackCpu] = peerEvent
        ? await withStackCpu(stack, n, () =>
            retryingAll(stack, n, `the peer, ${n} × ${c}`, () =>
              peer(runtime, credentials, idempotencyTable, peerEvent, c),
            ),
          )
        : [null, undefined];
      const naiveMs = c === 1 && n <= 100 ? await naive(await batch(stack, n), config) : null;
      rows.push({
        ...empty,
        wallMs: Math.round(wallMs),
        ratio: round2(wallMs / idealMs),
        peerWallMs: peerWallMs && Math.round(peerWallMs),
        peerRatio: peerWallMs && round2(peerWallMs / idealMs),
        naiveMs,
        ...(peerStackCpu !== undefined
          ? { stackCpuMicrosPerRecord: stackCpu, peerStackCpuMicrosPerRecord: peerStackCpu }
          : {}),
      });
    }
  }
  return rows;
}

async function ours(runtime: Runtime, credentials: WorkspaceCredentials, event: SQSEvent, c: number): Promise<number> {
  const deps = forInvocation({ ...runtime, config: { ...runtime.config, maxConcurrency: c } }, credentials);
  const started = performance.now();
  const response = await muted(() => processQueueBatch(event, deps));
  const wallMs = performance.now() - started;
  if (response.batchItemFailures.length)
    throw new Error(`bench batch had ${response.batchItemFailures.length} failures`);
  return wallMs;
}

async function peer(
  runtime: Runtime,
  credentials: WorkspaceCredentials,
  tableName: string,
  event: SQSEvent,
  c: number,
): Promise<number> {
  const handler = peerHandler({ workspace: runtime.workspace, credentials, tableName, concurrency: c });
  const started = performance.now();
  const response = await handler(event, lambdaContext('peer', 600_000));
  const wallMs = performance.now() - started;
  if (response.batchItemFailures.length)
    throw new Error(`peer batch had ${response.batchItemFailures.length} failures`);
  return wallMs;
}

/**
 * The naive way: one record after another, the secret read per invocation, a new TCP connection per call, no ledger.
 */
async function naive(event: SQSEvent, config: AppConfig): Promise<number> {
  const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
  const started = performance.now();
  const secret = JSON.parse(
    (await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: config.credentialsSecretId })))
      .SecretString!,
  ) as { ak: string; sk: string };
  const base = config.endpoints.get(config.defaultRegion)!;
  for (const r of event.Records) {
    const failure = JSON.parse(r.body) as { project_id: string; record_id: string };
    const body = JSON.stringify({ record_id: failure.record_id });
    const signed = signRequest(
      {
        method: 'POST',
        host: base.host,
        pathSegments: ['v2', failure.project_id, 'script-executions', 'retry'],
        headers: { 'content-type': 'application/json' },
        body,
        projectId: failure.project_id,
        date: new Date(),
      },
      secret,
    );
    await new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: base.hostname,
          port: base.port,
          method: 'POST',
          path: signed.pathAndQuery,
          headers: signed.headers,
          agent: false,
        },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }
  return Math.round(performance.now() - started);
}
