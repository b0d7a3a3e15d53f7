import type { ColdStart } from './cold-start.js';
import type { CpuFigures } from './cpu-by-stage.js';
import type { DynamoCalls } from './dynamo-calls.js';
import type { ClientFigures } from './dynamo-clients.js';
import type { ImportCost } from './import-profile.js';
import type { MemoryFigures } from './memory.js';
import type { ThroughputRow } from './throughput.js';

/** The bench's figures: JSON (`--json`) or the table docs/performance.md shows. */

export interface Report {
  machine: string;
  throughput: ThroughputRow[];
  cpu: CpuFigures & { secretsCallsPer100Invocations: number };
  dynamoCalls: DynamoCalls;
  dynamoClients: ClientFigures[];
  bundles: ColdStart['bundles'];
  emptyImportMs: number;
  importProfile: ImportCost[];
  memory: MemoryFigures & { tcpConnectionsFreshContainer: number; connectionRunRecords: number };
  headline: Headline;
  benchSeconds: number;
}

export interface Headline {
  cpuMicrosPerRecord: number;
  peerCpuMicrosPerRecord: number;
  ratioToIdeal: number;
  peerRatioToIdeal: number;
  dynamoCallsPerRetriedRecord: number;
  coldImportMsOverEmpty: number;
  peakRssMb128: number;
  /** The queue function's deployed `.mjs` (without the chunks it loads later). */
  queueBundleKb: number;
}

export function headline(r: Omit<Report, 'headline' | 'benchSeconds'>): Headline {
  const cell = r.throughput.find((t) => t.n === 1000 && t.c === 10)!;
  return {
    cpuMicrosPerRecord: r.cpu.perRecordMicros,
    peerCpuMicrosPerRecord: r.cpu.peerPerRecordMicros,
    ratioToIdeal: cell.ratio!,
    peerRatioToIdeal: cell.peerRatio!,
    dynamoCallsPerRetriedRecord: r.dynamoCalls.perRetriedRecord,
    coldImportMsOverEmpty: r.bundles.find((b) => b.fn === 'queue')!.overEmptyMs,
    peakRssMb128: r.memory.peakRssMbHeapFor128MbFunction,
    queueBundleKb: r.bundles.find((b) => b.fn === 'queue')!.kb,
  };
}

const pad = (v: unknown, n: number) => String(v ?? '').padStart(n);
const ratio = (ours: number, peer: number) => (peer ? (ours / peer).toFixed(2) : '');

export function render(r: Report): string {
  const h = r.headline;
  const lines = [`workspace-script-retry benchmark (${r.machine})`, ''];
  lines.push(
    'Side by side with the peer (Powertools BatchProcessor + makeIdempotent over DynamoDB, same Workspace client, same stack):',
  );
  lines.push('                                                       ours     peer   ours/peer');
  lines.push(
    `  CPU per record at L = 0 (µs)                     ${pad(h.cpuMicrosPerRecord, 8)} ${pad(h.peerCpuMicrosPerRecord, 8)}   ${pad(ratio(h.cpuMicrosPerRecord, h.peerCpuMicrosPerRecord), 9)}`,
  );
  const cell = r.throughput.find((t) => t.n === 1000 && t.c === 10)!;
  lines.push(
    `  wall ms, N = 1000, C = 10, L = 50 ms             ${pad(cell.wallMs, 8)} ${pad(cell.peerWallMs, 8)}   ${pad(ratio(cell.wallMs!, cell.peerWallMs!), 9)}`,
  );
  lines.push(
    `  ratio to the latency limit (ideal ${cell.idealMs} ms)      ${pad(h.ratioToIdeal.toFixed(2), 8)} ${pad(h.peerRatioToIdeal.toFixed(2), 8)}`,
  );
  if (cell.stackCpuMicrosPerRecord !== undefined)
    lines.push(
      `  the stack's CPU per record there (µs)            ${pad(cell.stackCpuMicrosPerRecord, 8)} ${pad(cell.peerStackCpuMicrosPerRecord, 8)}`,
    );
  lines.push(
    `  DynamoDB calls per record (batches of 10)        ${pad(h.dynamoCallsPerRetriedRecord, 8)} ${pad(r.dynamoCalls.peerPerRecord, 8)}`,
  );
  lines.push(`    by operation: ours ${ops(r.dynamoCalls.byOperation)}; peer ${ops(r.dynamoCalls.peerByOperation)}`);
  lines.push('', 'Throughput at L = 50 ms (ideal = ceil(N / C) × L):');
  lines.push(
    '  N       C   wall ms   ideal ms   ratio   peer ms   peer ratio   naive ms (sequential, secret per invocation, no connection reuse)',
  );
  for (const t of r.throughput) {
    lines.push(
      t.wallMs === null
        ? `  ${String(t.n).padEnd(6)}  ${String(t.c).padEnd(2)}  ${t.note}`
        : `  ${String(t.n).padEnd(6)}  ${String(t.c).padEnd(2)}  ${pad(t.wallMs, 7)}   ${pad(t.idealMs, 8)}   ${pad(t.ratio!.toFixed(2), 5)}   ${pad(t.peerWallMs, 7)}   ${pad(t.peerRatio?.toFixed(2), 10)}   ${t.naiveMs ?? ''}`,
    );
  }
  const c = r.cpu;
  const sum = Object.values(c.stages).reduce((a, b) => a + b, 0);
  lines.push(
    '',
    `CPU per record, whole pipeline at L = 0: ${c.perRecordMicros} µs (peer ${c.peerPerRecordMicros} µs), medians of ${c.rounds.ours.join(' / ')} (peer ${c.rounds.peer.join(' / ')})`,
  );
  lines.push(
    `  by stage (µs/record): ${Object.entries(c.stages)
      .map(([k, v]) => `${k} ${v} (${Math.round((v / c.perRecordMicros) * 100)}%)`)
      .join(', ')}`,
  );
  lines.push(
    `  stages sum to ${Math.round(sum)} µs (${Math.round((sum / c.perRecordMicros) * 100)}%); the Workspace call includes ${c.signingMicros} µs of signing; a dead letter costs ${c.deadLetterMicros} µs (not on this path)`,
  );
  lines.push(`Secrets Manager reads per 100 warm invocations: ${c.secretsCallsPer100Invocations}`);
  lines.push('', 'DynamoDB clients on one conditional PutItem (C = 10, warmed; bench/dynamo-clients.ts):');
  lines.push(
    '  client                                              CPU µs/call   KB read at import   import ms over empty',
  );
  for (const d of r.dynamoClients)
    lines.push(
      `  ${d.client.padEnd(50)}  ${pad(d.cpuMicrosPerCall, 11)}   ${pad(d.startKb, 17)}   ${pad(d.importMsOverEmpty, 20)}`,
    );
  lines.push(
    `TCP connections to Workspace opened by a fresh container for N = ${r.memory.connectionRunRecords.toLocaleString('en')}, C = 10: ${r.memory.tcpConnectionsFreshContainer}`,
  );
  lines.push('', `Cold start: empty module imports in ${r.emptyImportMs} ms (median of 7)`);
  for (const b of r.bundles)
    lines.push(
      `  ${b.fn.padEnd(9)} bundle ${pad(b.kb, 4)} KB minified (${b.startKb} KB read at start, ${b.laterKb} KB of chunks loaded when first needed), import ${b.importMs} ms (+${b.overEmptyMs} ms)`,
    );
  lines.push('  what importing the queue bundle costs, by package (--cpu-prof, ms per import, top 15):');
  for (const row of r.importProfile.slice(0, 15)) lines.push(`    ${pad(row.ms.toFixed(1), 6)}  ${row.module}`);
  lines.push('', 'Peak RSS handling one 10,000-record batch (bundled queue function, fresh process):');
  lines.push(
    `  V8 heap sized as for a 128 MB function (--max-old-space-size=90 --max-semi-space-size=2): ${r.memory.peakRssMbHeapFor128MbFunction} MiB`,
  );
  lines.push(`  V8 heap sized for this machine (grows lazily): ${r.memory.peakRssMbDefaultHeap} MiB`);
  lines.push(`Bench ran in ${r.benchSeconds} s.`);
  return lines.join('\n');
}

function ops(byOperation: Record<string, number>): string {
  return (
    Object.entries(byOperation)
      .map(([op, n]) => `${op} ${n}`)
      .join(', ') || 'none'
  );
}
