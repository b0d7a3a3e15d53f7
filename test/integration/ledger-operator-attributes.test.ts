import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttemptLedger } from '../../lib/ledger/attempt-ledger.js';
import { newChain } from '../../lib/ledger/chain.js';
import { DynamoLedgerStore } from '../../lib/ledger/store.js';
import { stackDynamoDb } from '../helpers/dynamodb.js';
import { PROJECT_ID } from '../helpers/factories.js';
import { type Harness, startHarness } from '../helpers/harness.js';

/**
 * A chain carries every attribute it was read with into its next write (the
 * transitions of lib/ledger/chain.ts spread it). What an operator or an
 * earlier version stored through the DocumentClient (a string set, bytes)
 * the store reads (lib/platform/attribute-values.ts), so it must write it
 * back too, or that chain can never move again.
 */

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

describe('attributes the ledger reads it can write back', () => {
  it.each([
    ['a string set', new Set(['vip', 'audited'])],
    ['a number set', new Set([1, 2])],
    ['bytes', new Uint8Array([1, 2, 3])],
  ])(
    'a chain an operator tagged with %s through the DocumentClient can still be claimed, the tag kept',
    async (_, tag) => {
      // Prepare
      const client = new DynamoDBClient({
        region: 'us-east-1',
        endpoint: h.stack.dynamoEndpoint,
        credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
      });
      const documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
      const ledger = new AttemptLedger(new DynamoLedgerStore(stackDynamoDb(h.stack), h.stack.tableName), {
        leaseMs: 60_000,
        ttlDays: 30,
        sleep: async () => undefined,
      });
      const recordId = `tagged-${Math.random().toString(36).slice(2)}`;
      const run = {
        projectId: PROJECT_ID,
        recordId,
        taskId: `task-of-${recordId}`,
        resourceId: `desk-of-${recordId}`,
        scriptId: 'script-1',
      };
      await documents.send(
        new PutCommand({
          TableName: h.stack.tableName,
          Item: { ...newChain(run, Date.now()), rev: 1, operator_tag: tag },
          removeUndefinedValues: true,
        } as never),
      );
      const located = await ledger.locate(run, async () => run);

      // Act
      const claim = await ledger.claim(located, 1, 'retry');

      // Assess
      expect(claim).toBeDefined();
      expect((await ledger.get(located.chainKey))?.['operator_tag']).toEqual(tag);
    },
  );
});
