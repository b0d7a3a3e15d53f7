import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import * as esbuild from 'esbuild';
import { toAttributes } from '../lib/platform/attribute-values.js';
import { dynamoDbClient } from '../lib/platform/dynamodb-client.js';
import { esbuildOptions, sizes } from './bundles.js';
import { importMs } from './cold-start.js';
import { cpuMicros, round1 } from './fixtures.js';
import { ROOT } from './stack-process.js';

/**
 * The DynamoDB clients the ledger could use, side by side on the same call:
 * a conditional PutItem of a ledger-sized item (attribute_not_exists, fresh
 * keys), ten at a time, warmed, against the stack's dynalite; CPU of the
 * bench process per call (client only: dynalite runs in the stack's process).
 * Then each client alone in a bundle built with the deployed options: what
 * importing it reads and costs a fresh process (median of 7).
 *
 * - the AWS SDK v3 low-level client, attribute values built by us;
 * - aws-lite with its DynamoDB plugin, given plain items (it marshals them);
 * - ours: our SigV4 signer over our kept connections (lib/platform/aws-json.ts,
 *   lib/platform/sigv4.ts, lib/platform/keep-alive-http.ts),
 *   attribute values built by lib/platform/attribute-values.ts.
 */

const CALLS = 2_000;
const WARM = 200;
const CONCURRENCY = 10;

export interface ClientFigures {
  client: string;
  cpuMicrosPerCall: number;
  /** What importing it reads: its bundle and the chunks that bundle imports statically. */
  startKb: number;
  /** Importing the bundle, over importing an empty module. */
  importMsOverEmpty: number;
}

type Put = (item: Record<string, unknown>) => Promise<unknown>;

const CONDITION = 'attribute_not_exists(pk)';
let serial = 0;

/** A chain as the ledger writes it at a claim. */
function item(): Record<string, unknown> {
  const n = ++serial;
  return {
    pk: `bench-client#${process.pid}#${n}`,
    state: 'claimed',
    rev: 1,
    attempts: 1,
    intent: 'retry',
    project_id: 'be0cbe0cbe0cbe0cbe0cbe0cbe0cbe0c',
    record_id: `r${n}`,
    resource_id: `desk${n}`,
    script_id: 'bench-script',
    tasks: [`t${n}`],
    lease_until: Date.now() + 60_000,
    first_seen_at: Date.now(),
    expires_at: 1_900_000_000,
    history: [{ attempt: 1, at: new Date().toISOString(), outcome: 'claimed' }],
  };
}

async function clients(
  tableName: string,
  env: Record<string, string>,
): Promise<Array<{ client: string; put: Put; entry: string }>> {
  const { DynamoDBClient, PutItemCommand } = await import('@aws-sdk/client-dynamodb');
  const sdk = new DynamoDBClient({});
  const { default: awsLite } = await import('@aws-lite/client');
  const lite = await awsLite({
    plugins: [import('@aws-lite/dynamodb')],
    region: env['AWS_REGION'],
    endpoint: env['AWS_ENDPOINT_URL_DYNAMODB'],
    keepAlive: true,
    autoloadPlugins: false,
  });
  const ours = dynamoDbClient();
  return [
    {
      client: 'AWS SDK v3 DynamoDBClient',
      put: (i) =>
        sdk.send(
          new PutItemCommand({ TableName: tableName, Item: toAttributes(i) as never, ConditionExpression: CONDITION }),
        ),
      entry: `import { DynamoDBClient } from '@aws-sdk/client-dynamodb'; export const client = new DynamoDBClient({});`,
    },
    {
      client: 'aws-lite (@aws-lite/client + @aws-lite/dynamodb)',
      put: (i) =>
        (lite as unknown as { DynamoDB: { PutItem: (input: object) => Promise<unknown> } }).DynamoDB.PutItem({
          TableName: tableName,
          Item: i,
          ConditionExpression: CONDITION,
        }),
      entry: `import awsLite from '@aws-lite/client'; import dynamodb from '@aws-lite/dynamodb'; export const client = await awsLite({ plugins: [dynamodb], region: 'us-east-1', autoloadPlugins: false });`,
    },
    {
      client: 'ours: our SigV4 over our kept connections',
      put: (i) => ours.send('PutItem', { TableName: tableName, Item: toAttributes(i), ConditionExpression: CONDITION }),
      entry: `import { dynamoDb } from ${JSON.stringify(join(ROOT, 'lib/platform/dynamodb-client.ts'))}; export const client = dynamoDb();`,
    },
  ];
}

async function cpuPerCall(put: Put): Promise<number> {
  const run = async (calls: number) => {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = 0; i < calls / CONCURRENCY; i++) await put(item());
      }),
    );
  };
  await run(WARM);
  const before = process.cpuUsage();
  await run(CALLS);
  return round1(cpuMicros(before) / CALLS);
}

export async function dynamoClients(
  tableName: string,
  env: Record<string, string>,
  dir: string,
): Promise<ClientFigures[]> {
  const figures: ClientFigures[] = [];
  const empty = join(dir, 'client-empty.mjs');
  await writeFile(empty, 'export const client = {};\n');
  const emptyMs = importMs(empty, env);
  for (const { client, put, entry } of await clients(tableName, env)) {
    // Twice, the cheaper kept: the first pass of each may meet the machine busier.
    const cpu = Math.min(await cpuPerCall(put), await cpuPerCall(put));
    const source = join(dir, `client${figures.length}.mjs`);
    const bundle = join(dir, 'clients', `client${figures.length}.mjs`);
    await writeFile(source, entry);
    const { metafile } = await esbuild.build({
      ...esbuildOptions,
      entryPoints: [source],
      outdir: join(dir, 'clients'),
      outExtension: { '.js': '.mjs' },
      nodePaths: [join(ROOT, 'node_modules')],
      metafile: true,
    });
    figures.push({
      client,
      cpuMicrosPerCall: cpu,
      startKb: sizes(metafile, relative(process.cwd(), bundle)).startKb,
      importMsOverEmpty: round1(importMs(bundle, env) - emptyMs),
    });
  }
  return figures;
}
