/**
 * `npm run bench` (add `--json` for JSON): each measurement is its own file
 * in bench/; this runner starts the local stack in a child process (so the
 * figures are the function's own), runs them in turn and prints the report.
 */
import { cpus } from 'node:os';
import { loadConfig } from '../lib/config/app-config.js';
import { createRuntime } from '../lib/ways-in/runtime.js';
import { buildBundles, buildReadable } from './bundles.js';
import { coldStart } from './cold-start.js';
import { connectionsOfFreshContainer } from './connections.js';
import { cpuByStage } from './cpu-by-stage.js';
import { dynamoCalls } from './dynamo-calls.js';
import { secretCredentials } from './fixtures.js';
import { importProfile } from './import-profile.js';
import { memory } from './memory.js';
import { headline, render, type Report } from './report.js';
import { secretReadsPer100Invocations } from './secret-reads.js';
import { StackProcess } from './stack-process.js';
import { throughput } from './throughput.js';

const started = Date.now();
/** Progress on stderr, so `--json` stays clean on stdout. */
const step = (what: string) => process.stderr.write(`bench: ${what} (${Math.round((Date.now() - started) / 1000)} s)\n`);
const { stack, env } = await StackProcess.start();
Object.assign(process.env, env, { POWERTOOLS_LOG_LEVEL: 'INFO', POWERTOOLS_METRICS_DISABLED: 'false', LEDGER_LEASE_SECONDS: '600' });
const idempotencyTable = env['IDEMPOTENCY_TABLE']!;
try {
  const config = loadConfig();
  const credentials = secretCredentials(config.credentialsSecretId);
  const runtime = createRuntime(config);

  step('throughput, ours and the peer');
  const rows = await throughput(stack, config, credentials, idempotencyTable);
  step('CPU per record and by stage');
  const cpu = await cpuByStage(stack, runtime, credentials, idempotencyTable);
  step('Secrets Manager reads, DynamoDB calls');
  const secretsCallsPer100Invocations = await secretReadsPer100Invocations(stack);
  const calls = await dynamoCalls(stack, runtime, credentials, idempotencyTable);

  const bundleEnv = { ...env, POWERTOOLS_METRICS_DISABLED: 'true' };
  step('bundles, cold start, import profile');
  const built = await buildBundles();
  const queueBundle = built.bundles.find((b) => b.fn === 'queue')!.file;
  const cold = await coldStart(built.bundles, built.dir, bundleEnv);
  const profile = await importProfile(await buildReadable('queue', built.dir), bundleEnv);

  const runEnv = { ...env, POWERTOOLS_LOG_LEVEL: 'INFO', POWERTOOLS_METRICS_DISABLED: 'false' };
  step('connections and memory of a fresh process');
  const connections = await connectionsOfFreshContainer(stack, queueBundle, built.dir, runEnv);
  const mem = await memory(stack, queueBundle, built.dir, runEnv);

  const partial = {
    machine: `${process.version}, ${cpus().length} cores`,
    throughput: rows,
    cpu: { ...cpu, secretsCallsPer100Invocations },
    dynamoCalls: calls,
    bundles: cold.bundles,
    emptyImportMs: cold.emptyImportMs,
    importProfile: profile,
    memory: { ...mem, tcpConnectionsFreshContainer: connections.connections, connectionRunRecords: connections.records },
  };
  const report: Report = { ...partial, headline: headline(partial), benchSeconds: Math.round((Date.now() - started) / 1000) };
  console.log(process.argv.includes('--json') ? JSON.stringify(report, null, 2) : render(report));
} finally {
  stack.stop();
}
process.exit(0);
