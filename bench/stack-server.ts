/**
 * The local stack in its own process for the benchmark, so the benchmark's
 * CPU and memory figures are the function's alone. Prints one JSON line with
 * the function's environment (plus IDEMPOTENCY_TABLE, the peer's table), then
 * answers commands on stdin, one per line, each with the counters as JSON:
 * `stats`, `reset` (answers the counters, then zeroes them), `latency <ms>`,
 * `seed <run> <n> <start>` (the failed records of a bench batch, bench/fixtures.ts).
 */
import { createInterface } from 'node:readline';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startLocalStack } from '../local/stack.js';
import { benchRecords, PROJECT } from './fixtures.js';

const stack = await startLocalStack({ name: 'bench', simulator: { acceptAnyId: true } });

// The peer's idempotency table, as Powertools documents it: partition key `id` (string).
const idempotencyTable = 'workspace-script-retry-idempotency-bench';
const ddb = new DynamoDBClient({
  region: stack.env['AWS_REGION'],
  endpoint: stack.dynamoEndpoint,
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
await ddb.send(
  new CreateTableCommand({
    TableName: idempotencyTable,
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
  }),
);
ddb.destroy();

process.stdout.write(`${JSON.stringify({ env: { ...stack.env, IDEMPOTENCY_TABLE: idempotencyTable } })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  const [command, arg, count, start] = line.trim().split(' ');
  if (command === 'latency') stack.simulator.faults = { latencyMs: Number(arg) };
  if (command === 'seed') stack.simulator.seedRecords(PROJECT, benchRecords(arg!, Number(count), start!));
  const { simulator, secrets } = stack;
  const stats = {
    connectionsOpened: simulator.connectionsOpened,
    requests: simulator.requestsReceived,
    retries: simulator.retries.length,
    secretReads: secrets.readCount(stack.secretId),
    dynamoCalls: Object.fromEntries(stack.dynamoCalls),
    /** CPU this process has spent (its stand-ins serving both sides), µs. */
    cpuMicros: (({ user, system }) => user + system)(process.cpuUsage()),
  };
  if (command === 'reset') {
    simulator.resetCounters();
    stack.dynamoCalls.clear();
  }
  process.stdout.write(`${JSON.stringify(stats)}\n`);
}
await stack.stop();
