import { startLocalStack } from '../local/stack.js';
import { dynamoDbClient } from '../lib/platform/dynamodb-client.js';
import { toAttributes } from '../lib/platform/attribute-values.js';
const stack = await startLocalStack({ name: 'txcost' });
const db = dynamoDbClient({ env: stack.env });
const T = stack.tableName;
const N = 2000;
async function measure(name: string, fn: (i: number) => Promise<unknown>) {
  for (let i = 0; i < 200; i++) await fn(-i - 1);
  const t = process.cpuUsage(); const w = performance.now();
  for (let i = 0; i < N; i += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => fn(i + j)));
  const c = process.cpuUsage(t);
  console.log(name, 'cpu µs/call (client+server)', Math.round((c.user + c.system) / N), 'wall ms', Math.round(performance.now() - w));
}
const chain = (i: number, p: string) => toAttributes({ pk: `${p}#record#${i}`, rev: 1, state: 'claimed', attempts: 1, runs: [{ g: 0, record: `r${i}` }], history: [], tasks: ['t'] });
await measure('PutItem cond', (i) => db.send('PutItem', { TableName: T, Item: chain(i, 'a'), ConditionExpression: 'attribute_not_exists(pk)' }));
await measure('PutItem plain', (i) => db.send('PutItem', { TableName: T, Item: chain(i, 'b') }));
await measure('Tx 1 put', (i) => db.send('TransactWriteItems', { TransactItems: [{ Put: { TableName: T, Item: chain(i, 'c'), ConditionExpression: 'attribute_not_exists(pk)' } }] }));
await measure('Tx 3 (put, update, put)', (i) => db.send('TransactWriteItems', { TransactItems: [
  { Put: { TableName: T, Item: chain(i, 'd'), ConditionExpression: 'attribute_not_exists(pk)' } },
  { Update: { TableName: T, Key: { pk: { S: `m${i % 50}` } }, UpdateExpression: 'SET link_to = :to, recent = list_append(:one, if_not_exists(recent, :none))', ExpressionAttributeValues: toAttributes({ ':to': 'x', ':one': ['x'], ':none': [] }) } },
  { Put: { TableName: T, Item: toAttributes({ pk: `member${i}`, link_to: 'x' }) } },
] }).catch(() => undefined));
await measure('GetItem-ish BatchGet', (i) => db.send('BatchGetItem', { RequestItems: { [T]: { Keys: [{ pk: { S: `a#record#${i}` } }], ConsistentRead: true } } }));
await stack.stop();
