/**
 * `npm run bench` (add `--json` for JSON): throughput against the latency
 * limit and a naive baseline, CPU per record by stage, Secrets Manager calls,
 * TCP connections, cold start and bundle size, and peak memory for a
 * 10,000-record batch. The local stack runs in a child process so the
 * figures are the function's own.
 */
import { execFile, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import * as esbuild from 'esbuild';
import { loadConfig } from '../lib/config.js';
import { WorkspaceCredentials } from '../lib/credentials.js';
import { normaliseBody } from '../lib/normalise.js';
import { decide } from '../lib/policy.js';
import { processQueueBatch } from '../lib/queue-batch.js';
import { QueueSender } from '../lib/queue-sender.js';
import { createRuntime, forInvocation } from '../lib/runtime.js';
import { signRequest } from '../lib/signer.js';
import { sqsClient } from '../lib/clients/sqs.js';
import { lambdaContext } from '../local/poller.js';

const ROOT = join(import.meta.dirname, '..');
const PROJECT = 'be0cbe0cbe0cbe0cbe0cbe0cbe0cbe0c';
const json = process.argv.includes('--json');
const MAX_IDEAL_SECONDS = 12;
let runId = 0;

// ---------------------------------------------------------------------------- the stack, in a child process

interface Stats {
  connectionsOpened: number;
  requests: number;
  retries: number;
  secretReads: number;
}

class StackProcess {
  private readonly lines: AsyncIterator<string>;
  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }
  static async start(): Promise<{ stack: StackProcess; env: Record<string, string> }> {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', '--import', 'tsx', join(ROOT, 'bench', 'stack-server.ts')], { cwd: ROOT, stdio: 'pipe' });
    const stack = new StackProcess(child);
    const first = await stack.lines.next();
    return { stack, env: (JSON.parse(first.value as string) as { env: Record<string, string> }).env };
  }
  async command(line: string): Promise<Stats> {
    this.child.stdin.write(`${line}\n`);
    return JSON.parse((await this.lines.next()).value as string) as Stats;
  }
  stop(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

// ---------------------------------------------------------------------------- helpers

function record(i: number, run: number): SQSRecord {
  const body = JSON.stringify({ project_id: PROJECT, record_id: `b${run}r${i}`, task_id: `b${run}t${i % 50}`, status: 'FAILED', reason: 'Script execution timed out', event_id: `e${run}-${i}` });
  return {
    messageId: `m${run}-${i}`, receiptHandle: 'r', body, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:0:q', awsRegion: 'us-east-1',
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'b', ApproximateFirstReceiveTimestamp: String(Date.now()) },
  };
}

function batch(n: number): SQSEvent {
  const run = ++runId;
  return { Records: Array.from({ length: n }, (_, i) => record(i, run)) };
}

/** Logs go nowhere while measuring (they still cost what they cost to produce). */
function muted<T>(fn: () => Promise<T>): Promise<T> {
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  return fn().finally(() => {
    process.stdout.write = write;
  });
}

function cpuMicros(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return d.user + d.system;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

// ---------------------------------------------------------------------------- 1. throughput

interface ThroughputRow {
  n: number;
  c: number;
  latencyMs: number;
  wallMs: number | null;
  idealMs: number;
  ratio: number | null;
  naiveMs: number | null;
  note?: string;
}

async function throughput(stack: StackProcess): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  await stack.command('latency 50');
  const base = loadConfig();
  const runtime = createRuntime(base);
  const credentials = secretCredentials(base.credentialsSecretId);
  for (const n of [10, 100, 1000, 10000]) {
    for (const c of [1, 10, 50]) {
      const idealMs = Math.ceil(n / c) * 50;
      if (idealMs / 1000 > MAX_IDEAL_SECONDS) {
        rows.push({ n, c, latencyMs: 50, wallMs: null, idealMs, ratio: null, naiveMs: null, note: `skipped: ideal ${idealMs / 1000} s exceeds the bench's ${MAX_IDEAL_SECONDS} s per cell` });
        continue;
      }
      const event = batch(n);
      const deps = { ...forInvocation({ ...runtime, config: { ...base, maxConcurrency: c } }, credentials) };
      const started = performance.now();
      const response = await muted(() => processQueueBatch(event, deps));
      const wallMs = performance.now() - started;
      if (response.batchItemFailures.length) throw new Error(`bench batch had ${response.batchItemFailures.length} failures`);
      const naiveMs = c === 1 && n <= 100 ? await naive(event, base) : null;
      rows.push({ n, c, latencyMs: 50, wallMs: Math.round(wallMs), idealMs, ratio: Math.round((wallMs / idealMs) * 100) / 100, naiveMs });
    }
  }
  return rows;
}

function secretCredentials(secretId: string): WorkspaceCredentials {
  const client = new SecretsManagerClient({});
  const read = async () => JSON.parse((await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString ?? '{}') as unknown;
  return new WorkspaceCredentials(secretId, { load: read, reload: read });
}

/** The naive way: one record after another, the secret read per invocation, a new TCP connection per call, no ledger. */
async function naive(event: SQSEvent, config: ReturnType<typeof loadConfig>): Promise<number> {
  const started = performance.now();
  const secret = JSON.parse((await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: config.credentialsSecretId }))).SecretString!) as { ak: string; sk: string };
  const base = config.endpoints.get(config.defaultRegion)!;
  for (const r of event.Records) {
    const failure = JSON.parse(r.body) as { project_id: string; record_id: string };
    const body = JSON.stringify({ record_id: failure.record_id });
    const signed = signRequest({ method: 'POST', host: base.host, pathSegments: ['v2', failure.project_id, 'script-executions', 'retry'], headers: { 'content-type': 'application/json' }, body, projectId: failure.project_id, date: new Date() }, secret);
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: base.hostname, port: base.port, method: 'POST', path: signed.pathAndQuery, headers: signed.headers, agent: false }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(body);
    });
  }
  return Math.round(performance.now() - started);
}

// ---------------------------------------------------------------------------- 2 + 3. CPU per record, secrets calls, connections

interface CpuFigures {
  perRecordMicros: number;
  stages: Record<string, number>;
  secretsCallsPer100Invocations: number;
}

async function cpuAndCalls(stack: StackProcess, env: Record<string, string>): Promise<CpuFigures> {
  await stack.command('latency 0');
  const { handler } = (await import('../functions/queue.js')) as unknown as { handler: (e: SQSEvent, c: Context) => Promise<unknown> };
  const invoke = (event: SQSEvent) => muted(() => handler(event, lambdaContext('retryFromQueue', 60_000)));
  await invoke(batch(50)); // warm: first import, secret read, connections

  const n = 2000;
  const event = batch(n);
  const before = process.cpuUsage();
  await invoke(event);
  const perRecordMicros = Math.round(cpuMicros(before) / n);

  // Each stage alone, over the same number of records.
  const config = loadConfig();
  const bodies = event.Records.map((r) => r.body);
  const stages: Record<string, number> = {};
  let t = process.cpuUsage();
  const failures = bodies.map((b) => normaliseBody(b, { checkRegion: () => undefined })).map((r) => (r.ok ? r.failure : undefined)!);
  stages['parsing'] = cpuMicros(t) / n;
  t = process.cpuUsage();
  for (const failure of failures) decide({ failure, attempts: { count: 0 }, policy: config.policy, now: Date.now(), firstSeenAt: Date.now(), jitter: 0.5 });
  stages['policy'] = cpuMicros(t) / n;
  t = process.cpuUsage();
  for (const f of failures) signRequest({ method: 'POST', host: 'h', pathSegments: ['v2', f.projectId, 'script-executions', 'retry'], body: `{"record_id":"${f.recordId}"}`, projectId: f.projectId, date: new Date() }, { ak: 'a', sk: 's' });
  stages['signing'] = cpuMicros(t) / n;
  const runtime = createRuntime(config);
  t = process.cpuUsage();
  await Promise.all(
    Array.from({ length: 10 }, async (_, w) => {
      for (let i = w; i < n; i += 10) {
        const f = failures[i]!;
        const run = { projectId: f.projectId, recordId: `ledger-${runId}-${i}`, taskId: f.taskId };
        const located = await runtime.ledger.locate(run, async () => run);
        const claim = await runtime.ledger.claim(located, undefined, 'retry');
        const { link } = await runtime.ledger.settleRetried(claim!, { taskId: `task${runId}-${i}`, ruleId: 'timeout', via: 'answer' });
        await runtime.ledger.writeLinks([link]);
      }
    }),
  );
  stages['ledger'] = cpuMicros(t) / n;
  const dlq = new QueueSender(sqsClient(), config.deadLetterQueueUrl);
  t = process.cpuUsage();
  await dlq.sendAll(bodies.map((body, i) => ({ key: String(i), body, attributes: { reason: { DataType: 'String', StringValue: 'bench' } } })));
  stages['dead-letter queue'] = cpuMicros(t) / n;
  for (const k of Object.keys(stages)) stages[k] = Math.round(stages[k]! * 10) / 10;

  // Secrets Manager reads over 100 warm invocations (TTL 300 s: expect none beyond the first read).
  const s0 = await stack.command('stats');
  for (let i = 0; i < 100; i++) await invoke(batch(1));
  const s1 = await stack.command('stats');
  void env;
  return { perRecordMicros, stages, secretsCallsPer100Invocations: s1.secretReads - s0.secretReads };
}

// ---------------------------------------------------------------------------- 4. cold start and bundles

interface Bundle {
  fn: string;
  kb: number;
  importMs: number;
}

const ESBUILD: esbuild.BuildOptions = {
  bundle: true, minify: true, platform: 'node', target: 'node22', format: 'esm', mainFields: ['module', 'main'], sourcemap: 'external',
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
};

async function bundles(env: Record<string, string>): Promise<{ bundles: Bundle[]; emptyImportMs: number; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'wsr-bench-'));
  const empty = join(dir, 'empty.mjs');
  await writeFile(empty, 'export const handler = async () => ({});\n');
  const importMs = (file: string) =>
    median(
      Array.from({ length: 7 }, () => {
        const out = spawnSync(process.execPath, ['--input-type=module', '-e', `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`], {
          env: { ...process.env, ...env, SWEEP_PROJECTS: '[]' },
          encoding: 'utf8',
        });
        return Number(out.stdout.trim().split('\n').pop());
      }),
    );
  const result: Bundle[] = [];
  for (const fn of ['queue', 'schedule', 'manual']) {
    const outfile = join(dir, `${fn}.mjs`);
    await esbuild.build({ ...ESBUILD, entryPoints: [join(ROOT, 'functions', `${fn}.ts`)], outfile });
    result.push({ fn, kb: Math.round((await stat(outfile)).size / 1024), importMs: Math.round(importMs(outfile)) });
  }
  return { bundles: result, emptyImportMs: Math.round(importMs(empty) * 10) / 10, dir };
}

// ---------------------------------------------------------------------------- 5. memory

interface MemoryFigures {
  /** V8 sized for this machine (24 GiB): it grows the heap lazily, so RSS says little about need. */
  peakRssMbDefaultHeap: number;
  /** V8 sized as for a 128 MB function (--max-old-space-size=90 --max-semi-space-size=2). */
  peakRssMbHeapFor128MbFunction: number;
  /** New TCP connections to Workspace from that fresh process (MAX_CONCURRENCY 10). */
  tcpConnectionsFreshContainer: number;
}

async function memory(env: Record<string, string>, dir: string, stack: StackProcess): Promise<MemoryFigures> {
  const unconstrained = await peakRss(env, dir, stack, []);
  await stack.command('reset');
  const constrained = await peakRss(env, dir, stack, ['--max-old-space-size=90', '--max-semi-space-size=2']);
  const stats = await stack.command('stats');
  return { peakRssMbDefaultHeap: unconstrained, peakRssMbHeapFor128MbFunction: constrained, tcpConnectionsFreshContainer: stats.connectionsOpened };
}

async function peakRss(env: Record<string, string>, dir: string, stack: StackProcess, nodeFlags: string[]): Promise<number> {
  await stack.command('latency 0');
  const driver = join(dir, 'memory-driver.mjs');
  await writeFile(
    driver,
    `import { handler } from ${JSON.stringify(join(dir, 'queue.mjs'))};
const now = String(Date.now());
const Records = Array.from({ length: 10000 }, (_, i) => ({ messageId: 'mem' + i, receiptHandle: 'r', messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:0:q', awsRegion: 'us-east-1',
  attributes: { ApproximateReceiveCount: '1', SentTimestamp: now, SenderId: 'b', ApproximateFirstReceiveTimestamp: now },
  body: JSON.stringify({ project_id: ${JSON.stringify(PROJECT)}, record_id: 'mem' + now + 'x' + i, task_id: 'memtask' + (i % 50), status: 'FAILED', reason: 'Script execution timed out' }) }));
const context = { functionName: 'retryFromQueue', awsRequestId: 'mem', getRemainingTimeInMillis: () => 600000 };
const response = await handler({ Records }, context);
process.stderr.write(JSON.stringify({ failures: response.batchItemFailures.length, maxRssKb: process.resourceUsage().maxRSS }) + '\\n');
process.exit(0);
`,
  );
  // Not spawnSync: the stack lives in another process, but keep this one responsive all the same.
  const { stderr } = await promisify(execFile)(process.execPath, [...nodeFlags, driver], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const line = JSON.parse(stderr.trim().split('\n').pop()!) as { failures: number; maxRssKb: number };
  if (line.failures) throw new Error(`memory run had ${line.failures} failures`);
  return Math.round(line.maxRssKb / 1024);
}

// ---------------------------------------------------------------------------- main

const started = Date.now();
const { stack, env } = await StackProcess.start();
Object.assign(process.env, env, { POWERTOOLS_LOG_LEVEL: 'INFO', POWERTOOLS_METRICS_DISABLED: 'false', LEDGER_LEASE_SECONDS: '600' });
try {
  const rows = await throughput(stack);
  const cpu = await cpuAndCalls(stack, env);
  const built = await bundles({ ...env, POWERTOOLS_METRICS_DISABLED: 'true' });
  const mem = await memory({ ...env, POWERTOOLS_LOG_LEVEL: 'INFO', POWERTOOLS_METRICS_DISABLED: 'false' }, built.dir, stack);
  const report = { machine: `${process.version}, ${(await import('node:os')).cpus().length} cores`, throughput: rows, cpu, bundles: built.bundles, emptyImportMs: built.emptyImportMs, memory: mem, benchSeconds: Math.round((Date.now() - started) / 1000) };
  if (json) console.log(JSON.stringify(report, null, 2));
  else console.log(render(report));
} finally {
  stack.stop();
}
process.exit(0);

function render(r: { throughput: ThroughputRow[]; cpu: CpuFigures; bundles: Bundle[]; emptyImportMs: number; memory: MemoryFigures; benchSeconds: number; machine: string }): string {
  const lines = [`workspace-script-retry benchmark (${r.machine})`, '', 'Throughput at L = 50 ms (ideal = ceil(N / C) × L):'];
  lines.push('  N       C   wall ms   ideal ms   ratio   naive ms (sequential, secret per invocation, no connection reuse)');
  for (const t of r.throughput) {
    lines.push(
      t.wallMs === null
        ? `  ${String(t.n).padEnd(6)}  ${String(t.c).padEnd(2)}  ${t.note}`
        : `  ${String(t.n).padEnd(6)}  ${String(t.c).padEnd(2)}  ${String(t.wallMs).padStart(7)}   ${String(t.idealMs).padStart(8)}   ${t.ratio!.toFixed(2).padStart(5)}   ${t.naiveMs ?? ''}`,
    );
  }
  lines.push('', `CPU per record, whole pipeline at L = 0: ${r.cpu.perRecordMicros} µs`);
  lines.push(`  by stage (µs/record): ${Object.entries(r.cpu.stages).map(([k, v]) => `${k} ${v} (${Math.round((v / r.cpu.perRecordMicros) * 100)}%)`).join(', ')}`);
  lines.push(`Secrets Manager reads per 100 warm invocations: ${r.cpu.secretsCallsPer100Invocations}`);
  lines.push(`TCP connections to Workspace opened by a fresh container for N = 10,000, C = 10: ${r.memory.tcpConnectionsFreshContainer}`);
  lines.push('', `Cold start: empty module imports in ${r.emptyImportMs} ms (median of 7)`);
  for (const b of r.bundles) lines.push(`  ${b.fn.padEnd(9)} bundle ${String(b.kb).padStart(4)} KB minified, import ${b.importMs} ms (+${Math.round(b.importMs - r.emptyImportMs)} ms)`);
  lines.push('', 'Peak RSS handling one 10,000-record batch (bundled queue function, fresh process):');
  lines.push(`  V8 heap sized as for a 128 MB function (--max-old-space-size=90 --max-semi-space-size=2): ${r.memory.peakRssMbHeapFor128MbFunction} MiB`);
  lines.push(`  V8 heap sized for this 24 GiB machine (grows lazily): ${r.memory.peakRssMbDefaultHeap} MiB`);
  lines.push(`Bench ran in ${r.benchSeconds} s.`);
  return lines.join('\n');
}
