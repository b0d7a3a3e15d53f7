/**
 * The embedded local stack: fauxqs (SQS with redrive), dynalite (DynamoDB),
 * Secrets Manager and SSM stand-ins and the Workspace simulator, all in-process on
 * 127.0.0.1 with random ports. `start()` also sets the standard environment
 * (AWS_ENDPOINT_URL_SQS, …) and the function's own variables, so the
 * handlers run unchanged against it.
 */

import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { dynaliteWithTransactions } from './dynalite-transactions.js';
import { SecretsManagerServer } from './secrets-manager-server.js';
import { SsmServer } from './ssm-server.js';
import type { DynamoTransactionControls } from './transaction-hooks.js';
import { type SimulatorOptions, WorkspaceSimulator } from './workspace-simulator.js';

export const LOCAL_REGION = 'cn-north-4';
export const LOCAL_KEY = { ak: 'LOCALSTACKACCESSKEY', sk: 'local-stack-secret-key-not-for-production' };

export interface StackOptions {
  readonly simulator?: SimulatorOptions;
  /** Source queue visibility timeout (default 2 s, so deferred records come back quickly locally). */
  readonly visibilityTimeoutSeconds?: number;
  readonly maxReceiveCount?: number;
  /** The DLQ's MaximumMessageSize (default SQS's, 1 MiB; a queue created before 2025 kept 262,144). */
  readonly dlqMaximumMessageSize?: number;
  /** A suffix for queue, table and secret names, so several stacks or tests never share state. */
  readonly name?: string;
  /** The clock of the DynamoDB stand-in's transaction tokens (ClientRequestToken lasts 10 minutes); default Date.now. */
  readonly dynamoClock?: () => number;
}

export interface LocalStack {
  readonly simulator: WorkspaceSimulator;
  readonly secrets: SecretsManagerServer;
  /** SSM Parameter Store, holding the kill switch `killSwitchParameter` ("true"). */
  readonly ssm: SsmServer;
  readonly killSwitchParameter: string;
  readonly sqs: SQSClient;
  readonly sqsEndpoint: string;
  readonly dynamoEndpoint: string;
  /** DynamoDB calls received, by operation (GetItem, UpdateItem, …); clear it to start counting afresh. */
  readonly dynamoCalls: Map<string, number>;
  /**
   * Steering for dynalite's TransactWriteItems stand-in: `pauseNextTransaction()` / `pauseNextWrite()` hold the
   * next transaction / single-item write once it has its items (`reached`, then `resume()`);
   * `conflictTransactions({ count, skip?, onKey? })` cancels coming transactions with TransactionConflict.
   */
  readonly dynamoTransactions: DynamoTransactionControls;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly dlqUrl: string;
  readonly tableName: string;
  readonly secretId: string;
  /** The function's environment for this stack. */
  readonly env: Record<string, string>;
  /** Messages visible, in flight and delayed on a queue. */
  depth(queueUrl: string): Promise<{ visible: number; inFlight: number; delayed: number }>;
  stop(): Promise<void>;
}

async function startDynalite(clock?: () => number): Promise<{
  endpoint: string;
  calls: Map<string, number>;
  transactions: DynamoTransactionControls;
  close: () => Promise<void>;
}> {
  // dynalite lacks TransactWriteItems: the stand-in answers it on the same server.
  const { server, transactions } = dynaliteWithTransactions(
    { createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 },
    clock,
  );
  // Every call by operation (X-Amz-Target: DynamoDB_20120810.GetItem), whichever client made it.
  const calls = new Map<string, number>();
  server.on('request', (req: { headers: Record<string, string | string[] | undefined> }) => {
    const operation = String(req.headers['x-amz-target'] ?? 'unknown')
      .split('.')
      .pop()!;
    calls.set(operation, (calls.get(operation) ?? 0) + 1);
  });
  await new Promise<void>((resolve, reject) => server.listen(0, '127.0.0.1', () => resolve()).on('error', reject));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    transactions,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Sets what every AWS SDK client reads, so no code has a local-only branch. */
function awsEnvironment(
  sqsEndpoint: string,
  dynamoEndpoint: string,
  secretsEndpoint: string,
  ssmEndpoint: string,
): Record<string, string> {
  return {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_SQS: sqsEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsEndpoint,
    AWS_ENDPOINT_URL_SSM: ssmEndpoint,
  };
}

export async function startLocalStack(options: StackOptions = {}): Promise<LocalStack> {
  const suffix = options.name ?? 'local';
  const [fauxqs, dynamo, secrets, ssm, simulator] = await Promise.all([
    startFauxqs({ port: 0, logger: false }),
    startDynalite(options.dynamoClock),
    SecretsManagerServer.start(),
    SsmServer.start(),
    WorkspaceSimulator.start({ credentials: [LOCAL_KEY], ...options.simulator }),
  ]);
  // fauxqs names queues sqs.<region>.localhost, which not every resolver knows: use path-style URLs on its address.
  const pathStyle = (url: string) => `${fauxqs.address}${new URL(url).pathname}`;
  const dlq = fauxqs.createQueue(
    `workspace-script-retry-dlq-${suffix}`,
    options.dlqMaximumMessageSize
      ? { attributes: { MaximumMessageSize: String(options.dlqMaximumMessageSize) } }
      : undefined,
  );
  const source = fauxqs.createQueue(`workspace-script-retry-${suffix}`, {
    attributes: {
      VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 2),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: dlq.queueArn,
        maxReceiveCount: options.maxReceiveCount ?? 5,
      }),
    },
  });
  const tableName = `workspace-script-retry-ledger-${suffix}`;
  const secretId = `workspace-script-retry/credentials-${suffix}`;
  secrets.putSecret(secretId, LOCAL_KEY);
  // Not in `env`: the functions read it only when RETRIES_ENABLED_PARAMETER names it (without it RETRIES_ENABLED
  // decides).
  const killSwitchParameter = `/workspace-script-retry/${suffix}/retries-enabled`;
  ssm.putParameter(killSwitchParameter, 'true');

  const aws = awsEnvironment(fauxqs.address, dynamo.endpoint, secrets.url, ssm.url);
  const ddb = new DynamoDBClient({
    region: aws.AWS_REGION,
    endpoint: dynamo.endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await ddb.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  // dynalite does not implement TTL; DynamoDB does (serverless.yml enables it).
  await ddb
    .send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      }),
    )
    .catch(() => undefined);
  ddb.destroy();

  const sqs = new SQSClient({
    region: aws.AWS_REGION,
    endpoint: fauxqs.address,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const queueUrl = pathStyle(source.queueUrl);
  const dlqUrl = pathStyle(dlq.queueUrl);
  const env: Record<string, string> = {
    ...aws,
    WORKSPACE_REGION: LOCAL_REGION,
    WORKSPACE_ENDPOINTS: JSON.stringify({ [LOCAL_REGION]: simulator.url }),
    CREDENTIALS_SECRET_ID: secretId,
    DLQ_URL: dlqUrl,
    SOURCE_QUEUE_URL: queueUrl,
    LEDGER_TABLE: tableName,
    POWERTOOLS_METRICS_NAMESPACE: 'WorkspaceScriptRetryLocal',
  };

  return {
    simulator,
    secrets,
    ssm,
    killSwitchParameter,
    sqs,
    sqsEndpoint: fauxqs.address,
    dynamoEndpoint: dynamo.endpoint,
    dynamoCalls: dynamo.calls,
    dynamoTransactions: dynamo.transactions,
    queueUrl,
    queueArn: source.queueArn,
    dlqUrl,
    tableName,
    secretId,
    env,
    async depth(url: string) {
      const { Attributes: a = {} } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: [
            'ApproximateNumberOfMessages',
            'ApproximateNumberOfMessagesNotVisible',
            'ApproximateNumberOfMessagesDelayed',
          ],
        }),
      );
      return {
        visible: Number(a.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
        delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
      };
    },
    async stop() {
      sqs.destroy();
      await Promise.all([fauxqs.stop(), dynamo.close(), secrets.stop(), ssm.stop(), simulator.stop()]);
    },
  };
}
