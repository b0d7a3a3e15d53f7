/**
 * `npm run ops`: an operator's command line for a deployed stack (its
 * CloudFormation outputs, your AWS credentials) or, with --local, the
 * embedded stack of `npm run stack`.
 *
 *   status <project_id> <record_id|task_id>   the ledger's view of one failure (any of its tasks, the original's too)
 *   dead-letters [--reason R] [--limit N]      the DLQ's messages, not consumed
 *   replay [--reason R] [--limit N] [--dry-run]  move dead letters back to the failure queue (or list what would move)
 *   reading <project_id> <record_id>           what Workspace's retry does, on one failed record
 *
 * Installed as the bin `workspace-script-retry-ops` (ops/bin.mjs) with the same arguments.
 *
 * Exit codes: 0 done, 1 nothing found or nothing to do, 2 usage error or no
 * stack/credentials, 3 an AWS call failed (or a replay moved only part).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { unsafeIdReason } from '../lib/events/identifiers.js';
import { renderChain } from './chain-view.js';
import { approximateDepth, peek, replay } from './dead-letter-queue.js';
import { describeDeadLetter, matchesReason, renderDeadLetters } from './dead-letter-view.js';
import { readChains } from './ledger-reader.js';
import { classifyFailure, EXIT_CODE, OpsError } from './ops-error.js';
import { checkReading, renderReadingReport } from './reading-check.js';
import { resolveTarget, type Target } from './target.js';
import { workspaceAccess } from './workspace-access.js';

export const USAGE = `usage: npm run ops -- [--local [--stack-env F] | --stage S | --stack NAME] [--region R] [--json] <command>
   or: workspace-script-retry-ops [the same]

  status <project_id> <record_id|task_id>   the ledger's view of one failure: state, attempts, lineage, history
                                             (any task of it: the failed run's own, found by a scan of the table, or a retry's)
  dead-letters [--reason R] [--limit N]      the dead-letter queue's messages (default 20), without consuming them;
                                             --reason: only those whose reason, rule or error code contains R
  replay [--reason R] [--limit N] [--dry-run]
                                             move dead letters (those whose reason, rule or error code contains R)
                                             back to the failure queue, after their cause is fixed;
                                             --dry-run: list what would move, move nothing
  reading <project_id> <record_id> [--confirm-retry] [--secret-id S] [--workspace-region R] [--workspace-endpoint URL]
                                             which reading of Workspace's retry holds: with --confirm-retry, retries
                                             that one FAILED record, compares the answer's task with the record's and
                                             lists its desktop and script with and without show_history

  --local       the embedded stack (\`npm run stack\` writes local/.stack.env; --stack-env reads another file)
  --stage S     the deployed stack workspace-script-retry-S (default dev); --stack names it outright
  --queue-url, --dlq-url, --table   skip the stack lookup
  --json        machine-readable output

exit codes: 0 done, 1 nothing found / nothing to do, 2 usage or no stack/credentials, 3 AWS call failed`;

const OPTIONS = {
  local: { type: 'boolean', default: false },
  'stack-env': { type: 'string' },
  stage: { type: 'string', default: 'dev' },
  stack: { type: 'string' },
  region: { type: 'string' },
  'queue-url': { type: 'string' },
  'dlq-url': { type: 'string' },
  table: { type: 'string' },
  json: { type: 'boolean', default: false },
  limit: { type: 'string' },
  reason: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  'confirm-retry': { type: 'boolean', default: false },
  'secret-id': { type: 'string' },
  'workspace-region': { type: 'string' },
  'workspace-endpoint': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly now: () => number;
}

const processIo: Io = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  now: Date.now,
};

function positiveInteger(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^[1-9][0-9]{0,5}$/.test(value))
    throw new OpsError('usage', `${flag} must be a whole number from 1 to 999999, got "${value}"`);
  return Number(value);
}

type Args = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;

/** Every usage error found before any AWS call. */
function checkUsage(command: string, args: Args): void {
  const pair = command === 'status' || command === 'reading';
  const extra = args.positionals.slice(pair ? 3 : 1);
  if (extra.length > 0)
    throw new OpsError(
      'usage',
      `${command} takes ${pair ? 'two arguments' : 'no arguments'}; unexpected "${extra.join(' ')}"`,
    );
  if (pair) {
    const [, projectId, id] = args.positionals;
    if (!projectId || !id)
      throw new OpsError(
        'usage',
        `${command} takes two arguments: <project_id> <${command === 'status' ? 'record_id|task_id' : 'record_id'}>`,
      );
    for (const [field, value] of [
      ['project_id', projectId],
      ['record_id|task_id', id],
    ] as const) {
      const problem = unsafeIdReason(value);
      if (problem) throw new OpsError('usage', `${field} "${value}" ${problem}`);
    }
  }
  positiveInteger(args.values.limit, '--limit', 1);
  if (command === 'status' && args.values.limit !== undefined) throw new OpsError('usage', 'status takes no --limit');
  if (command === 'status' && args.values.reason !== undefined) throw new OpsError('usage', 'status takes no --reason');
  if (
    command === 'reading' &&
    (args.values.reason !== undefined || args.values.limit !== undefined || args.values['dry-run'])
  )
    throw new OpsError(
      'usage',
      'reading takes no --reason, --limit or --dry-run (without --confirm-retry it sends nothing)',
    );
  if (command !== 'replay' && args.values['dry-run'])
    throw new OpsError('usage', `${command} takes no --dry-run (it moves nothing already)`);
  if (args.values.reason !== undefined && args.values.reason.trim() === '')
    throw new OpsError('usage', '--reason must not be empty (leave it out for every dead letter)');
}

async function status(args: Args, target: Target, io: Io, json: boolean): Promise<number> {
  const [, projectId = '', id = ''] = args.positionals;
  const chains = await readChains(target.dynamo, target.table, projectId, id);
  if (chains.length === 0) {
    const message = `no ledger item for ${projectId} record or task ${id} in ${target.table} (never seen, or expired after LEDGER_TTL_DAYS)`;
    if (json) io.out(JSON.stringify({ found: false, project_id: projectId, id, message }));
    else io.err(message);
    return EXIT_CODE['not-found'];
  }
  io.out(
    json
      ? JSON.stringify({ found: true, chains }, null, 2)
      : chains.map((chain) => renderChain(chain, io.now())).join('\n\n'),
  );
  return 0;
}

/** How many dead letters a filtered look reads at most to find its matches. */
const FILTERED_PEEK = 1_000;

/** Up to `limit` dead letters matching `reason` (all without one), read without consuming them. */
async function matching(target: Target, io: Io, reason: string | undefined, limit: number) {
  const messages = await peek(target.sqs, target.dlqUrl, reason === undefined ? limit : Math.max(limit, FILTERED_PEEK));
  return messages
    .map((m) => describeDeadLetter(m, io.now()))
    .filter((row) => matchesReason(row, reason))
    .slice(0, limit);
}

const matchingText = (reason: string | undefined) => (reason === undefined ? '' : ` matching "${reason}"`);

async function deadLetters(args: Args, target: Target, io: Io, json: boolean): Promise<number> {
  const limit = positiveInteger(args.values.limit, '--limit', 20);
  const reason = args.values.reason;
  const [rows, depth] = await Promise.all([
    matching(target, io, reason, limit),
    approximateDepth(target.sqs, target.dlqUrl),
  ]);
  if (json)
    io.out(
      JSON.stringify(
        { queue: target.dlqUrl, approximate_depth: depth, reason: reason ?? null, messages: rows },
        null,
        2,
      ),
    );
  else if (rows.length === 0)
    io.err(
      reason === undefined
        ? `the dead-letter queue is empty (${target.dlqUrl})`
        : `no dead letter${matchingText(reason)} among about ${depth} on ${target.dlqUrl}`,
    );
  else
    io.out(
      `${renderDeadLetters(rows)}\n\n${rows.length}${matchingText(reason)} shown of about ${Math.max(depth, rows.length)} on ${target.dlqUrl} (none consumed)`,
    );
  return rows.length === 0 ? EXIT_CODE['not-found'] : 0;
}

/** replay --dry-run: what would move, read without consuming anything. */
async function replayPreview(args: Args, target: Target, io: Io, json: boolean): Promise<number> {
  const reason = args.values.reason;
  const rows = await matching(target, io, reason, positiveInteger(args.values.limit, '--limit', FILTERED_PEEK));
  if (json)
    io.out(
      JSON.stringify(
        { dry_run: true, would_move: rows.length, to: target.queueUrl, reason: reason ?? null, messages: rows },
        null,
        2,
      ),
    );
  else {
    if (rows.length > 0) io.out(`${renderDeadLetters(rows)}\n`);
    io.out(
      `dry run: would move ${rows.length} dead letter${rows.length === 1 ? '' : 's'}${matchingText(reason)} to ${target.queueUrl}; nothing moved`,
    );
  }
  return rows.length === 0 ? EXIT_CODE['not-found'] : 0;
}

async function replayCommand(args: Args, target: Target, io: Io, json: boolean): Promise<number> {
  if (args.values['dry-run']) return replayPreview(args, target, io, json);
  const limit = positiveInteger(args.values.limit, '--limit', 100_000);
  const reason = args.values.reason;
  const result = await replay(
    target.sqs,
    target.dlqUrl,
    target.queueUrl,
    (m) => matchesReason(describeDeadLetter(m, io.now()), reason),
    limit,
  );
  const moved = result.moved.map((m) => describeDeadLetter(m, io.now()));
  if (json)
    io.out(
      JSON.stringify(
        {
          moved: moved.length,
          to: target.queueUrl,
          reason: reason ?? null,
          left_on_dlq: result.left,
          failed: result.failed,
          messages: moved,
        },
        null,
        2,
      ),
    );
  else {
    if (moved.length > 0) io.out(`${renderDeadLetters(moved)}\n`);
    io.out(
      `moved ${moved.length} dead letter${moved.length === 1 ? '' : 's'}${matchingText(reason)} to ${target.queueUrl}; ${result.left} left on the DLQ`,
    );
    for (const f of result.failed) io.err(`not moved: ${f.message_id}: ${f.error}`);
  }
  if (result.failed.length > 0) return EXIT_CODE.aws;
  return moved.length === 0 ? EXIT_CODE['not-found'] : 0;
}

/** Settles which reading of Workspace's retry holds (ops/reading-check.ts): needs Workspace's keys, not the stack. */
async function readingCommand(args: Args, io: Io, json: boolean): Promise<number> {
  const [, projectId = '', recordId = ''] = args.positionals;
  const access = await workspaceAccess({
    local: args.values.local,
    envFile: envFileOf(args),
    secretId: args.values['secret-id'],
    workspaceRegion: args.values['workspace-region'],
    workspaceEndpoint: args.values['workspace-endpoint'],
  });
  const probe = {
    workspace: access.workspace,
    project: { projectId, region: access.region },
    credentials: await access.credentialsFor(projectId),
    sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
    waitMs: 30_000,
  };
  const report = await checkReading(probe, recordId, args.values['confirm-retry']);
  io.out(json ? JSON.stringify(report, null, 2) : renderReadingReport(report));
  return report.retried && report.verdict === 'undetermined' ? EXIT_CODE['not-found'] : 0;
}

function envFileOf(args: Args): string {
  return args.values['stack-env'] ?? join(import.meta.dirname, '..', 'local', '.stack.env');
}

const COMMANDS = { status, 'dead-letters': deadLetters, replay: replayCommand, reading: readingCommand } as const;

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const json = argv.includes('--json');
  let target: Target | undefined;
  try {
    let args: Args;
    try {
      args = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    } catch (error) {
      throw new OpsError('usage', (error as Error).message);
    }
    if (args.values.help) return (io.out(USAGE), 0);
    const command = args.positionals[0];
    if (!command || !(command in COMMANDS))
      throw new OpsError('usage', command ? `unknown command "${command}"` : 'no command given');
    checkUsage(command, args);
    if (command === 'reading')
      return await readingCommand(args, io, json).catch((error) => Promise.reject(classifyFailure(error, 'Workspace')));
    const resolved = await resolveTarget({
      local: args.values.local,
      envFile: envFileOf(args),
      stage: args.values.stage,
      stack: args.values.stack,
      region: args.values.region,
      queueUrl: args.values['queue-url'],
      dlqUrl: args.values['dlq-url'],
      table: args.values.table,
    }).catch((error) => Promise.reject(classifyFailure(error, 'CloudFormation')));
    target = resolved;
    return await COMMANDS[command as Exclude<keyof typeof COMMANDS, 'reading'>](args, resolved, io, json).catch(
      (error) => Promise.reject(classifyFailure(error, 'the stack')),
    );
  } catch (error) {
    const failure = classifyFailure(error, 'the stack');
    if (json) io.out(JSON.stringify({ error: failure.kind, message: failure.message }));
    io.err(`ops: ${failure.message}${failure.kind === 'usage' ? `\n\n${USAGE}` : ''}`);
    return EXIT_CODE[failure.kind];
  } finally {
    target?.sqs.destroy();
    target?.dynamo.destroy();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = await main(process.argv.slice(2));
