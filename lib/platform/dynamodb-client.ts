import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * One DynamoDB client per container (AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB
 * from the environment, like every SDK client). The ledger speaks attribute
 * values to it directly (lib/platform/attribute-values.ts); the document
 * client shares its configuration, credentials and connections for the
 * callers that still hand it plain items.
 */
let client: DynamoDBClient | undefined;
let documents: DynamoDBDocumentClient | undefined;

export function dynamoClient(): DynamoDBClient {
  client ??= new DynamoDBClient({});
  return client;
}

export function documentClient(): DynamoDBDocumentClient {
  documents ??= DynamoDBDocumentClient.from(dynamoClient(), { marshallOptions: { removeUndefinedValues: true } });
  return documents;
}
