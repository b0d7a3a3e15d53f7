/**
 * DynamoDB over the AWS JSON transport (lib/platform/aws-json.ts), with the
 * operations the ledger and the key-refusal record send, typed as the API
 * reference gives them: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Operations.html
 * Items are attribute values in their JSON form (lib/platform/attribute-values.ts).
 * One client per container; its retries are the SDK DynamoDB client's
 * defaults (4 attempts, first wait under 25 ms).
 */

import type { Attributes } from './attribute-values.js';
import { AwsJsonClient, type AwsJsonOptions, type AwsJsonService } from './aws-json.js';

/** DynamoDB as an AWS JSON service: the SDK client's retries (4 attempts, first wait under 25 ms). */
export const DYNAMODB: AwsJsonService = {
  signingName: 'dynamodb',
  targetPrefix: 'DynamoDB_20120810',
  jsonVersion: '1.0',
  endpointVariable: 'AWS_ENDPOINT_URL_DYNAMODB',
  maxAttempts: 4,
  baseDelayMs: 25,
};

interface Conditional {
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeValues?: Attributes;
}

/** What a refused condition in a transaction answers with: the item as it stood (`ALL_OLD`). */
interface OnConditionFailure {
  readonly ReturnValuesOnConditionCheckFailure?: 'ALL_OLD' | 'NONE';
}

/** One write of a TransactWriteItems: a Put or an Update, each with its own condition. */
export type TransactWrite =
  | { readonly Put: { TableName: string; Item: Attributes } & Conditional & OnConditionFailure }
  | {
      readonly Update: { TableName: string; Key: Attributes; UpdateExpression: string } & Conditional &
        OnConditionFailure;
    };

/** Why a transaction was cancelled, one per write in order: `None`, `ConditionalCheckFailed`, `TransactionConflict`… */
export interface CancellationReason {
  readonly Code?: string;
  readonly Message?: string;
  /** The item as it stood, when its write asked for ALL_OLD and its condition was refused. */
  readonly Item?: Attributes;
}

/** The DynamoDB operations we send, with their input and output as the API reference gives them. */
export interface DynamoDbOperations {
  GetItem: { input: { TableName: string; Key: Attributes; ConsistentRead?: boolean }; output: { Item?: Attributes } };
  PutItem: { input: { TableName: string; Item: Attributes } & Conditional; output: object };
  UpdateItem: { input: { TableName: string; Key: Attributes; UpdateExpression: string } & Conditional; output: object };
  BatchGetItem: {
    input: { RequestItems: Record<string, { Keys: Attributes[]; ConsistentRead?: boolean }> };
    output: { Responses?: Record<string, Attributes[]>; UnprocessedKeys?: Record<string, { Keys?: Attributes[] }> };
  };
  BatchWriteItem: {
    input: { RequestItems: Record<string, Array<{ PutRequest: { Item: Attributes } }>> };
    output: { UnprocessedItems?: Record<string, Array<{ PutRequest?: { Item?: Attributes } }>> };
  };
  /** All or none; refused as a TransactionCanceledException whose answer holds `CancellationReasons`. */
  TransactWriteItems: {
    input: { TransactItems: TransactWrite[]; ClientRequestToken?: string };
    output: object;
  };
}

/** The name of one of DynamoDbOperations. */
export type DynamoDbOperation = keyof DynamoDbOperations;

/** What the ledger store and the key-refusal record send DynamoDB through; tests wrap it to bend an answer. */
export interface DynamoDb {
  send<O extends DynamoDbOperation>(
    operation: O,
    input: DynamoDbOperations[O]['input'],
  ): Promise<DynamoDbOperations[O]['output']>;
}

/** A client of its own (tests point one at a stack); the functions share `dynamoDb()`. */
export function dynamoDbClient(options?: AwsJsonOptions): DynamoDb {
  const client = new AwsJsonClient(DYNAMODB, options);
  return { send: (operation, input) => client.call(operation, input) as never };
}

let shared: DynamoDb | undefined;

/** The container's client: AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB and the credentials read at the first call. */
export function dynamoDb(): DynamoDb {
  shared ??= dynamoDbClient();
  return shared;
}
