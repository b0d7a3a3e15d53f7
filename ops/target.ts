/**
 * Where `npm run ops` looks: the deployed stack's outputs (CloudFormation
 * DescribeStacks: what is really deployed, for any stage and region, with one
 * read-only permission), explicit flags, or with --local the embedded stack's
 * env file that `npm run stack` writes (its endpoints and local credentials).
 */

import { readFile } from 'node:fs/promises';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { OpsError } from './ops-error.js';

export interface Target {
  readonly description: string;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly table: string;
  readonly sqs: SQSClient;
  readonly dynamo: DynamoDBClient;
}

export interface TargetOptions {
  readonly local: boolean;
  readonly envFile: string;
  readonly stage: string;
  readonly stack?: string | undefined;
  readonly region?: string | undefined;
  readonly queueUrl?: string | undefined;
  readonly dlqUrl?: string | undefined;
  readonly table?: string | undefined;
}

/** `K='v'` lines, as local/stack-cli.ts writes them. */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(?:'(.*)'|(.*))$/.exec(line.trim());
    if (match) env[match[1]!] = match[2] ?? match[3] ?? '';
  }
  return env;
}

async function localTarget(options: TargetOptions): Promise<Target> {
  const text = await readFile(options.envFile, 'utf8').catch(() => {
    throw new OpsError(
      'setup',
      `no local stack: ${options.envFile} not found (start one with \`npm run stack\` in another terminal)`,
    );
  });
  const env = parseEnvFile(text);
  const need = (name: string) => {
    const value = env[name];
    if (!value) throw new OpsError('setup', `${options.envFile} has no ${name}: write it again with \`npm run stack\``);
    return value;
  };
  const credentials = { accessKeyId: need('AWS_ACCESS_KEY_ID'), secretAccessKey: need('AWS_SECRET_ACCESS_KEY') };
  const region = need('AWS_REGION');
  return {
    description: `local stack (${options.envFile})`,
    queueUrl: need('SOURCE_QUEUE_URL'),
    dlqUrl: need('DLQ_URL'),
    table: need('LEDGER_TABLE'),
    sqs: new SQSClient({ region, credentials, endpoint: need('AWS_ENDPOINT_URL_SQS') }),
    dynamo: new DynamoDBClient({ region, credentials, endpoint: need('AWS_ENDPOINT_URL_DYNAMODB') }),
  };
}

const OUTPUTS = { queueUrl: 'FailureQueueUrl', dlqUrl: 'DeadLetterQueueUrl', table: 'LedgerTableName' } as const;

async function stackOutputs(stackName: string, region: string | undefined): Promise<Record<string, string>> {
  const cloudformation = new CloudFormationClient(region ? { region } : {});
  try {
    const { Stacks = [] } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    const outputs: Record<string, string> = {};
    for (const output of Stacks[0]?.Outputs ?? [])
      if (output.OutputKey && output.OutputValue) outputs[output.OutputKey] = output.OutputValue;
    return outputs;
  } catch (error) {
    const e = error as Error;
    if (e.name === 'ValidationError' && /does not exist/.test(e.message)) {
      throw new OpsError(
        'setup',
        `stack ${stackName} not found in ${await cloudformation.config.region().catch(() => 'the default region')}: deploy it, or pass --stage/--stack/--region (or --local)`,
      );
    }
    throw e;
  } finally {
    cloudformation.destroy();
  }
}

export async function resolveTarget(options: TargetOptions): Promise<Target> {
  if (options.local) return localTarget(options);
  const given = { queueUrl: options.queueUrl, dlqUrl: options.dlqUrl, table: options.table };
  const stackName = options.stack ?? `workspace-script-retry-${options.stage}`;
  const complete = Object.values(given).every(Boolean);
  const outputs = complete ? {} : await stackOutputs(stackName, options.region);
  const pick = (key: keyof typeof OUTPUTS) => {
    const value = given[key] ?? outputs[OUTPUTS[key]];
    if (!value)
      throw new OpsError(
        'setup',
        `stack ${stackName} has no output ${OUTPUTS[key]} (deployed from an older serverless.yml?): deploy again, or pass it as a flag`,
      );
    return value;
  };
  const region = options.region;
  return {
    description: complete ? 'flags' : `stack ${stackName}`,
    queueUrl: pick('queueUrl'),
    dlqUrl: pick('dlqUrl'),
    table: pick('table'),
    sqs: new SQSClient(region ? { region } : {}),
    dynamo: new DynamoDBClient(region ? { region } : {}),
  };
}
