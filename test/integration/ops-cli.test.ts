import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type MessageAttributeValue, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { main } from '../../ops/cli.js';

/**
 * `npm run ops -- --local …` as an operator runs it, in a child process,
 * against the embedded stack: ledger items written in the ledger's format,
 * dead letters put on the DLQ as the functions write them.
 */
const P = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
let stack: LocalStack;
let dir: string;
let envFile: string;

type Run = { code: number; stdout: string; stderr: string };

/** `npm run ops -- --local …` in a child process, as an operator runs it, without the caller's AWS credentials. */
async function npmOps(...args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_CONFIG_FILE: join(dir, 'none'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
  };
  for (const key of [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_REGION',
    'AWS_PROFILE',
    'AWS_ENDPOINT_URL_SQS',
    'AWS_ENDPOINT_URL_DYNAMODB',
  ])
    delete env[key];
  return promisify(execFile)('npm', ['run', '--silent', 'ops', '--', ...args], { env, timeout: 60_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

/** The same command line through its main function (a child process per call costs seconds on a busy machine). */
async function ops(...args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['--local', '--stack-env', envFile, ...args], {
    out: (t) => out.push(`${t}\n`),
    err: (t) => err.push(`${t}\n`),
    now: Date.now,
  });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const text = (value: string): MessageAttributeValue => ({ DataType: 'String', StringValue: value });
const deadLetterAttributes = (
  reason: string,
  errorCode: string,
  ruleId: string,
): Record<string, MessageAttributeValue> => ({
  reason: text(reason),
  error_code: text(errorCode),
  attempts: { DataType: 'Number', StringValue: '1' },
  source_message_id: text('source-1'),
  decided_at: text(new Date(Date.now() - 3_600_000).toISOString()),
  first_seen_at: text(new Date(Date.now() - 3_700_000).toISOString()),
  rule_id: text(ruleId),
  tenant: text('an attribute the original event carried'),
});
const putDeadLetter = (recordId: string, attributes: Record<string, MessageAttributeValue>) =>
  stack.sqs.send(
    new SendMessageCommand({
      QueueUrl: stack.dlqUrl,
      MessageBody: JSON.stringify({ project_id: P, record_id: recordId }),
      MessageAttributes: attributes,
    }),
  );
const visible = async (url: string) => (await stack.depth(url)).visible;
/**
 * Messages a consumer could receive right now (a receive, because fauxqs makes expired visibility timeouts visible
 * again on receive, not on GetQueueAttributes).
 */
const receivable = async (url: string) =>
  (
    await stack.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 0, WaitTimeSeconds: 0 }),
    )
  ).Messages?.length ?? 0;

beforeAll(async () => {
  stack = await startLocalStack({ name: 'ops-cli' });
  dir = await mkdtemp(join(tmpdir(), 'wsr-ops-'));
  envFile = join(dir, 'stack.env');
  await writeFile(
    envFile,
    Object.entries(stack.env)
      .map(([k, v]) => `${k}='${v}'`)
      .join('\n') + '\n',
  );

  const chain = {
    pk: `${P}#record#rec-root`,
    project_id: P,
    root_record: 'rec-root',
    resource_id: 'desktop-7',
    script_id: 'script-1',
    state: 'retried',
    attempts: 1,
    current_record: 'rec-root',
    current_task: 'task-new-1',
    tasks: ['task-0', 'task-new-1'],
    new_task_id: 'task-new-1',
    first_seen_at: Date.now() - 600_000,
    last_attempt_at: Date.now() - 500_000,
    rev: 2,
    expires_at: Math.floor(Date.now() / 1000) + 86_400,
    history: [
      {
        attempt: 1,
        at: new Date(Date.now() - 500_000).toISOString(),
        outcome: 'retried',
        rule_id: 'timeout',
        task_id: 'task-new-1',
        request_id: 'req-ops-1',
      },
    ],
  };
  const dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      region: 'us-east-1',
      endpoint: stack.dynamoEndpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  );
  await dynamo.send(
    new BatchWriteCommand({
      RequestItems: {
        [stack.tableName]: [chain, { pk: `${P}#task#task-new-1`, link_to: chain.pk, generation: 1 }].map((Item) => ({
          PutRequest: { Item },
        })),
      },
    }),
  );
  dynamo.destroy();

  await putDeadLetter(
    'rec-gone',
    deadLetterAttributes('workspace-refused: 404 WKS.00210404 (X-Request-Id r1)', 'WKS.00210404', 'not-found'),
  );
  await putDeadLetter(
    'rec-gone-2',
    deadLetterAttributes('workspace-refused: 404 WKS.00210404 (X-Request-Id r2)', 'WKS.00210404', 'not-found'),
  );
  await putDeadLetter(
    'rec-denied',
    deadLetterAttributes(
      'permission-denied: The script or the account lacks a permission',
      'WKS.PERMISSION',
      'permission-denied',
    ),
  );
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('npm run ops -- --local', () => {
  it("status follows a retry's new task to its failure chain and prints state, lineage and history", async () => {
    const { code, stdout } = await npmOps('--local', '--stack-env', envFile, 'status', P, 'task-new-1');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^state\s+retried$/m);
    expect(stdout).toContain('task-0 -> task-new-1');
    expect(stdout).toMatch(/^1\s+\S+\s+retried\s+timeout\s+task-new-1\s+req-ops-1/m);
    const json = JSON.parse((await ops('status', P, 'rec-root', '--json')).stdout) as {
      chains: Array<{ state: string; attempts: number }>;
    };
    expect(json.chains).toEqual([expect.objectContaining({ state: 'retried', attempts: 1 })]);
  });

  it('status finds a failure by the task of its failed run (keyed by record in the ledger) with a scan', async () => {
    const { code, stdout } = await ops('status', P, 'task-0');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^failure\s+0a1b2c3d4e5f60718293a4b5c6d7e8f9#record#rec-root$/m);
    expect(stdout).toMatch(/^found via\s+a scan of the table for one of its tasks$/m);
    expect(stdout).toMatch(/^lineage\s+task-0 -> task-new-1$/m);
  });

  it('status answers 1 for an id the ledger does not know, and 2 for a malformed one', async () => {
    const missing = await ops('status', P, 'never-seen');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no ledger item');
    expect((await ops('status', P, '../etc')).code).toBe(2);
  });

  it('dead-letters lists every dead letter with its reason, error code and attempts, and consumes none', async () => {
    const { code, stdout } = await ops('dead-letters');
    expect(code).toBe(0);
    expect(stdout).toContain('permission-denied: The script or the account lacks a permis…');
    expect(stdout.match(/WKS\.00210404 \(X-Request-Id/g)).toHaveLength(2);
    expect(stdout).toContain('3 shown of about 3');
    const json = JSON.parse((await ops('dead-letters', '--json', '--limit', '2')).stdout) as {
      messages: Array<{ reason: string; attempts: number }>;
    };
    expect(json.messages).toHaveLength(2);
    expect(json.messages[0]).toMatchObject({ attempts: 1 });
    expect(await receivable(stack.dlqUrl)).toBe(3);
  });

  it('dead-letters --reason lists only the matching ones (reason, rule or error code), and consumes none', async () => {
    const { code, stdout } = await ops('dead-letters', '--reason', 'wks.00210404');
    expect(code).toBe(0);
    expect(stdout.match(/WKS\.00210404 \(X-Request-Id/g)).toHaveLength(2);
    expect(stdout).not.toContain('permission-denied');
    expect(stdout).toMatch(/2 matching "wks.00210404" shown of about \d+ on /);
    expect((await ops('dead-letters', '--reason', 'no-such-reason')).code).toBe(1);
    expect(await receivable(stack.dlqUrl)).toBe(3);
  });

  it('replay --dry-run lists what would move and moves nothing', async () => {
    const { code, stdout } = await ops('replay', '--reason', 'permission-denied', '--dry-run');
    expect(code).toBe(0);
    expect(stdout).toContain('permission-denied: The script');
    expect(stdout).toContain('dry run: would move 1 dead letter matching "permission-denied" to');
    expect(JSON.parse((await ops('replay', '--dry-run', '--json')).stdout)).toMatchObject({
      dry_run: true,
      would_move: 3,
    });
    expect(await receivable(stack.dlqUrl)).toBe(3);
    expect(await visible(stack.queueUrl)).toBe(0);
    expect((await ops('dead-letters', '--dry-run')).code).toBe(2);
  });

  it('runs as the installed bin (package.json) with the same arguments', async () => {
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { bin: Record<string, string> };
    const bin = pkg.bin['workspace-script-retry-ops']!;
    const { stdout } = await promisify(execFile)(
      bin,
      ['--local', '--stack-env', envFile, 'dead-letters', '--reason', 'permission-denied', '--json'],
      { timeout: 60_000 },
    );
    expect(JSON.parse(stdout)).toMatchObject({
      reason: 'permission-denied',
      messages: [{ rule_id: 'permission-denied' }],
    });
  });

  it('replay --reason moves only the matching dead letters, with their body and every attribute, and leaves the rest visible', async () => {
    const { code, stdout } = await ops('replay', '--reason', 'permission-denied', '--json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ moved: 1, left_on_dlq: 2, failed: [] });
    expect(await visible(stack.dlqUrl)).toBe(2);
    const { Messages = [] } = await stack.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.queueUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
        WaitTimeSeconds: 1,
      }),
    );
    expect(Messages).toHaveLength(1);
    expect(JSON.parse(Messages[0]!.Body!)).toEqual({ project_id: P, record_id: 'rec-denied' });
    const attributes = Object.fromEntries(
      Object.entries(Messages[0]!.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue]),
    );
    expect(Object.keys(attributes).sort()).toEqual([
      'attempts',
      'decided_at',
      'error_code',
      'first_seen_at',
      'reason',
      'rule_id',
      'source_message_id',
      'tenant',
    ]);
    expect(attributes['reason']).toBe('permission-denied: The script or the account lacks a permission');
  });

  it('replay moves the rest and says how many; a second replay finds nothing and answers 1', async () => {
    const first = await ops('replay');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('moved 2 dead letters to');
    expect(await visible(stack.dlqUrl)).toBe(0);
    const again = await ops('replay');
    expect(again.code).toBe(1);
    expect(again.stdout).toContain('moved 0 dead letters');
    expect((await ops('dead-letters')).code).toBe(1);
  });

  it('answers 2 with what to do when there is no local stack', async () => {
    const { code, stderr } = await npmOps('--local', '--stack-env', join(dir, 'missing.env'), 'dead-letters');
    expect(code).toBe(2);
    expect(stderr).toContain('npm run stack');
  });
});
