/**
 * `npm run bench` (add `--json` for JSON): each measurement is its own file
 * in bench/; this runner starts the local stack in a child process (so the
 * figures are the function's own), runs them in turn and prints the report.
 * `--only=cpu,cold` runs just those pieces (throughput, cpu, calls, clients,
 * cold, memory) and prints their figures as JSON: for before/after comparisons of
 * one change, several times, without the 4 minutes of a full run.
 */
import { cpus } from 'node:os';
import { loadConfig } from '../lib/config/app-config.js';
import { createRuntime } from '../lib/ways-in/runtime.js';
import { buildBundles, buildReadable } from './bundles.js';
import { coldStart } from './cold-start.js';
import { connectionsOfFreshContainer } from './connections.js';
import { cpuByStage } from './cpu-by-stage.js';
import { dynamoCalls } from './dynamo-calls.js';
import { dynamoClients } from './dynamo-clients.js';
import { secretCredentials } from './fixtures.js';
import { importProfile } from './import-profile.js';
import { memory } from './memory.js';
import { headline, type Report, render } from './report.js';
import { secretReadsPer100Invocations } from './secret-reads.js';
import { StackProcess } from './stack-process.js';
import { throughput } from './throughput.js';

const PIECES = ['throughput', 'cpu', 'calls', 'clients', 'cold', 'memory'] as const;
const onlyArg = process.argv.find((a) => a.startsWith('--only='));
const only = onlyArg ? onlyArg.slice('--only='.length).split(',') : [...PIECES];
const unknownPiece = only.find((p) => !(PIECES as readonly string[]).includes(p));
if (unknownPiece) throw new Error(`--only: unknown piece "${unknownPiece}"; the pieces are ${PIECES.join(', ')}`);
const runs = (piece: (typeof PIECES)[number]) => only.includes(piece);

const started = Date.now();
/** Progress on stderr, so `--json` stays clean on stdout. */
const step = (what: string) =>
  process.stderr.write(`bench: ${what} (${Math.round((Date.now() - started) / 1000)} s)\n`);
const { stack, env } = await StackProcess.start();
Object.assign(process.env, env, {
  POWERTOOLS_LOG_LEVEL: 'INFO',
  POWERTOOLS_METRICS_DISABLED: 'false',
  LEDGER_LEASE_SECONDS: '600',
});
const idempotencyTable = env['IDEMPOTENCY_TABLE']!;
try {
  const config = loadConfig();
  const credentials = secretCredentials(config.credentialsSecretId);
  const runtime = createRuntime(config);
  const partial: Partial<Omit<Report, 'headline' | 'benchSeconds'>> = {
    machine: `${process.version}, ${cpus().length} cores`,
  };

  if (runs('throughput')) {
    step('throughput, ours and the peer');
    partial.throughput = await throughput(stack, config, credentials, idempotencyTable);
  }
  if (runs('cpu')) {
    step('CPU per record and by stage');
    const cpu = await cpuByStage(stack, runtime, credentials, idempotencyTable);
    step('Secrets Manager reads');
    partial.cpu = { ...cpu, secretsCallsPer100Invocations: await secretReadsPer100Invocations(stack) };
  }
  if (runs('calls')) {
    step('DynamoDB calls');
    partial.dynamoCalls = await dynamoCalls(stack, runtime, credentials, idempotencyTable);
  }

  const bundleEnv = { ...env, POWERTOOLS_METRICS_DISABLED: 'true' };
  const built = runs('cold') || runs('memory') || runs('clients') ? await buildBundles() : undefined;
  if (built && runs('clients')) {
    step('DynamoDB clients side by side');
    partial.dynamoClients = await dynamoClients(config.ledgerTable, bundleEnv, built.dir);
  }
  if (built && runs('cold')) {
    step('bundles, cold start, import profile');
    const cold = await coldStart(built.bundles, built.dir, bundleEnv);
    Object.assign(partial, {
      bundles: cold.bundles,
      emptyImportMs: cold.emptyImportMs,
      importProfile: await importProfile(await buildReadable('queue', built.dir), bundleEnv),
    });
  }
  if (built && runs('memory')) {
    const queueBundle = built.bundles.find((b) => b.fn === 'queue')!.file;
    const runEnv = { ...env, POWERTOOLS_LOG_LEVEL: 'INFO', POWERTOOLS_METRICS_DISABLED: 'false' };
    step('connections and memory of a fresh process');
    const connections = await connectionsOfFreshContainer(stack, queueBundle, built.dir, runEnv);
    const mem = await memory(stack, queueBundle, built.dir, runEnv);
    partial.memory = {
      ...mem,
      tcpConnectionsFreshContainer: connections.connections,
      connectionRunRecords: connections.records,
    };
  }

  if (onlyArg) {
    console.log(JSON.stringify({ ...partial, benchSeconds: Math.round((Date.now() - started) / 1000) }, null, 2));
  } else {
    const whole = partial as Omit<Report, 'headline' | 'benchSeconds'>;
    const report: Report = {
      ...whole,
      headline: headline(whole),
      benchSeconds: Math.round((Date.now() - started) / 1000),
    };
    console.log(process.argv.includes('--json') ? JSON.stringify(report, null, 2) : render(report));
  }
} finally {
  stack.stop();
}
process.exit(0);
