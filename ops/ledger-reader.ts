import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { type ChainView, candidateKeys, chainKeyOf, describeChain, type LedgerItem } from './chain-view.js';

/**
 * Reads what the ledger holds for an id that may be a record id or a task id:
 * both keys in one BatchGetItem, then each link's chain item (one hop: links
 * always point straight at their chain). Consistent reads, so an operator
 * sees the last write. An id under neither key may be the task of a failed
 * run itself (the task an operator started, which the ledger keys by record):
 * then the chains that list it among their tasks, found by a scan.
 */
export async function readChains(
  dynamo: DynamoDBClient,
  table: string,
  projectId: string,
  id: string,
): Promise<ChainView[]> {
  const documents = DynamoDBDocumentClient.from(dynamo);
  let keys = candidateKeys(projectId, id).map((pk) => ({ pk }));
  const found: LedgerItem[] = [];
  // BatchGetItem may leave keys unprocessed under throttling: ask again for those, a few times.
  for (let round = 0; keys.length > 0 && round < 5; round++) {
    const answer = await documents.send(
      new BatchGetCommand({ RequestItems: { [table]: { Keys: keys, ConsistentRead: true } } }),
    );
    found.push(...((answer.Responses?.[table] ?? []) as LedgerItem[]));
    keys = (answer.UnprocessedKeys?.[table]?.Keys ?? []) as Array<{ pk: string }>;
  }
  const views = new Map<string, ChainView>();
  // The record key first: a failure's own item is the better answer when a task id equals a record id.
  found.sort((a, b) => String(a['pk']).indexOf('#task#') - String(b['pk']).indexOf('#task#'));
  for (const item of found) {
    const chainKey = chainKeyOf(item);
    if (views.has(chainKey)) continue;
    const chain =
      chainKey === item['pk']
        ? item
        : ((await documents.send(new GetCommand({ TableName: table, Key: { pk: chainKey }, ConsistentRead: true })))
            .Item as LedgerItem | undefined);
    if (!chain)
      throw new Error(
        `ledger link ${String(item['pk'])} points at ${chainKey}, which is not in the table (expired, or written by a newer version)`,
      );
    views.set(chainKey, describeChain(chain, item));
  }
  if (views.size === 0)
    for (const chain of await chainsOfTask(documents, table, projectId, id))
      views.set(String(chain['pk']), describeChain(chain, chain, 'scan'));
  return [...views.values()];
}

/**
 * Every chain of the project whose tasks include `taskId`: one per desktop the task ran on. Reads the whole table, page
 * by page.
 */
async function chainsOfTask(
  documents: DynamoDBDocumentClient,
  table: string,
  projectId: string,
  taskId: string,
): Promise<LedgerItem[]> {
  const found: LedgerItem[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new ScanCommand({
        TableName: table,
        ExclusiveStartKey: start,
        FilterExpression: 'project_id = :p AND contains(tasks, :t)',
        ExpressionAttributeValues: { ':p': projectId, ':t': taskId },
      }),
    );
    found.push(...((page.Items ?? []) as LedgerItem[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return found.sort((a, b) => String(a['pk']).localeCompare(String(b['pk'])));
}
