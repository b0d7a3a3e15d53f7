import { AwsServiceError } from '../../lib/platform/aws-json.js';
import {
  type DynamoDb,
  type DynamoDbOperation,
  type DynamoDbOperations,
  dynamoDbClient,
} from '../../lib/platform/dynamodb-client.js';
import type { LocalStack } from '../../local/stack.js';

/**
 * The functions' DynamoDB client (lib/platform/dynamodb-client.ts) on a test's
 * stack, and two ways to watch or bend it without leaving the wire: every
 * call still goes to dynalite unless a test answers for it.
 */

/** A client of its own on the stack's dynalite (the stack's credentials and region). */
export function stackDynamoDb(stack: Pick<LocalStack, 'env'>): DynamoDb {
  return dynamoDbClient({ env: stack.env });
}

/** `db` with its calls counted by operation (BatchGetItem, PutItem, …). */
export function counted(db: DynamoDb): { db: DynamoDb; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  return {
    calls,
    db: {
      send: (operation, input) => {
        calls.set(operation, (calls.get(operation) ?? 0) + 1);
        return db.send(operation, input);
      },
    },
  };
}

/** How a test answers one operation: given the input and the real call, it returns (or throws) what DynamoDB "said". */
export type Bend<O extends DynamoDbOperation> = (
  input: DynamoDbOperations[O]['input'],
  send: (input: DynamoDbOperations[O]['input']) => Promise<DynamoDbOperations[O]['output']>,
) => Promise<DynamoDbOperations[O]['output']>;

/** `db` with every call of `operation` answered by `bend`; the others go to DynamoDB unchanged. */
export function bent<O extends DynamoDbOperation>(db: DynamoDb, operation: O, bend: Bend<O>): DynamoDb {
  return {
    send: (op, input) =>
      (op as DynamoDbOperation) === operation
        ? (bend(input as never, (i) => db.send(operation, i)) as never)
        : db.send(op, input),
  };
}

/** DynamoDB throttling a call, as the client throws it once its retries are spent. */
export function throttled(): AwsServiceError {
  return new AwsServiceError('ProvisionedThroughputExceededException', 'slow down', 400, true);
}
