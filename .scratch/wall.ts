import { loadConfig } from '../lib/config/app-config.js';
import { createRuntime, forInvocation } from '../lib/ways-in/runtime.js';
import { processQueueBatch } from '../lib/ways-in/queue-batch.js';
import { StackProcess } from '../bench/stack-process.js';
import { batch, muted, secretCredentials } from '../bench/fixtures.js';

const { stack, env } = await StackProcess.start();
Object.assign(process.env, env, { POWERTOOLS_LOG_LEVEL: 'INFO', POWERTOOLS_METRICS_DISABLED: 'false', LEDGER_LEASE_SECONDS: '600' });
const config = loadConfig();
const credentials = secretCredentials(config.credentialsSecretId);
const runtime = createRuntime(config);
await stack.command('latency 50');
const log: Array<{ what: string; t0: number; t1: number }> = [];
function wrap(obj: any, name: string, label: string) {
  const orig = obj[name].bind(obj);
  obj[name] = async (...args: any[]) => { const t0 = performance.now(); try { return await orig(...args); } finally { log.push({ what: label, t0, t1: performance.now() }); } };
}
const store: any = runtime.ledger.store;
for (const m of ['read', 'write', 'writeTogether', 'put', 'putMarker']) wrap(store, m, m);
const db: any = store.db;
const origSend = db.send.bind(db);
const errs = new Map<string, number>();
db.send = async (op: string, input: any) => { const t0 = performance.now(); try { return await origSend(op, input); } catch (e: any) { errs.set(`${op}:${e.name}`, (errs.get(`${op}:${e.name}`) ?? 0) + 1); throw e; } finally { log.push({ what: `db.${op}`, t0, t1: performance.now() }); } };
const ws: any = runtime.workspace;
for (const m of ['retry', 'getRecord']) wrap(ws, m, `ws.${m}`);
import { peerHandler } from '../bench/peer.js';
import { lambdaContext } from '../local/poller.js';
for (let round = 0; round < 2; round++) {
  const ev = await batch(stack, 1000);
  const c0 = (await stack.command('stats')).cpuMicros;
  const handler = peerHandler({ workspace: runtime.workspace, credentials, tableName: env['IDEMPOTENCY_TABLE']!, concurrency: 10 });
  const tp = performance.now();
  await handler(ev, lambdaContext('peer', 600_000));
  const c1 = (await stack.command('stats')).cpuMicros;
  console.log('peer wall', Math.round(performance.now() - tp), 'stack cpu µs/record', Math.round((c1 - c0) / 1000));
}
for (let round = 0; round < 2; round++) {
  log.length = 0;
  const event = await batch(stack, 1000);
  const deps = forInvocation({ ...runtime, config: { ...runtime.config, maxConcurrency: 10 } }, credentials);
  const c0 = (await stack.command('stats')).cpuMicros;
  const t = performance.now();
  const res = await muted(() => processQueueBatch(event, deps));
  const wall = performance.now() - t;
  const c1 = (await stack.command('stats')).cpuMicros;
  console.log('ours stack cpu µs/record', Math.round((c1 - c0) / 1000));
  const by = new Map<string, number[]>();
  for (const e of log) { const a = by.get(e.what) ?? []; a.push(e.t1 - e.t0); by.set(e.what, a); }
  console.log('errors', [...errs]); errs.clear();
  console.log('round', round, 'wall', Math.round(wall), 'failures', res.batchItemFailures.length);
  for (const [k, a] of by) { a.sort((x, y) => x - y); console.log(k.padEnd(22), 'n', a.length, 'avg', (a.reduce((x, y) => x + y, 0) / a.length).toFixed(1), 'p50', a[a.length >> 1]!.toFixed(1), 'p95', a[Math.floor(a.length * 0.95)]!.toFixed(1)); }
}
await stack.stop?.();
process.exit(0);
