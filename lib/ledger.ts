import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { failureKey, type ScriptFailure } from './failure.js';

/**
 * The attempt ledger: one DynamoDB item per failed execution (project +
 * record, or project + task), shared by every way in, so a duplicate delivery,
 * the sweep and a console run never retry one failure twice, and
 * max_attempts holds across redeliveries and retries that fail again.
 *
 * Single-item conditional writes only (no transactions), so the same code runs
 * on DynamoDB and on dynalite.
 *
 * Items:
 * - a failure item, `pk` = `<project>#record#<id>` or `<project>#task#<id>`:
 *   `attempts`, `state` (in-flight | retried | deferred | dead-lettered),
 *   `lease_until` and `holder_token` while a call is in flight, `handled`
 *   (the occurrences already acted on), `events` (event ids seen), the last
 *   outcome, `new_task_id`, `request_id`, `rule_id`, `history`, `expires_at`.
 * - a link item, `pk` = `<project>#task#<new task id>`, `link_to` = the
 *   failure item a retry came from: lineage, so the retried task failing
 *   again counts as the next attempt of the same failure.
 */

export type LedgerState = 'in-flight' | 'retried' | 'deferred' | 'dead-lettered';

export interface LedgerItem {
  readonly pk: string;
  readonly attempts: number;
  readonly state: LedgerState;
  readonly lease_until?: number;
  readonly holder?: string;
  readonly holder_token?: string;
  readonly last_attempt_at?: number;
  readonly first_seen_at?: number;
  readonly handled?: Set<string>;
  readonly events?: Set<string>;
  readonly new_task_id?: string;
  readonly reason?: string;
  readonly history?: readonly HistoryEntry[];
}

export interface HistoryEntry {
  readonly attempt: number;
  readonly at: string;
  readonly outcome: string;
  readonly rule_id?: string;
  readonly task_id?: string;
  readonly request_id?: string;
  readonly error_code?: string;
  readonly reason?: string;
  readonly forced_by?: string;
}

/** Where a failure stands in the ledger when an event for it arrives. */
export interface LedgerView {
  /** The failure item this occurrence belongs to (through lineage). */
  readonly rootKey: string;
  /** This occurrence's own key. */
  readonly occurrence: string;
  readonly item?: LedgerItem | undefined;
}

/** The ledger's answer about an occurrence: go ahead, or it is a duplicate and why. */
export type Standing =
  | {
      readonly kind: 'new';
      readonly attemptsMade: number;
      readonly lastAttemptAt?: number | undefined;
      /** The holder token of a dead claim this occurrence takes over. */
      readonly takeover?: string | undefined;
      /** An operator forces a failure that was dead-lettered: it is reopened. */
      readonly reopen?: boolean | undefined;
    }
  | { readonly kind: 'duplicate'; readonly reason: string }
  /** Another delivery holds a live lease: wait until it ends (if its holder dies, this one takes over). */
  | { readonly kind: 'in-flight'; readonly leaseEndsAt: number };

/** A claim held for one call: settle it with the token. */
export interface Claim {
  readonly rootKey: string;
  readonly occurrence: string;
  readonly token: string;
  readonly attempt: number;
}

/** The table cannot be reached or answered unexpectedly: the record stays on the queue. */
export class LedgerUnavailableError extends Error {
  override readonly name = 'LedgerUnavailableError';
}

/**
 * Pure: what an existing item means for this occurrence. `forced` (an
 * operator's override) reopens a failure that was dead-lettered, never one
 * that was retried or is in flight.
 */
export function standingOf(view: LedgerView, eventId: string | undefined, now: number, forced = false): Standing {
  const item = view.item;
  if (!item) return { kind: 'new', attemptsMade: 0 };
  if (item.state === 'in-flight') {
    if ((item.lease_until ?? 0) > now) return { kind: 'in-flight', leaseEndsAt: item.lease_until! };
    // The holder died mid-call: its own occurrence takes over, as the same attempt.
    if (item.holder === view.occurrence) {
      return { kind: 'new', attemptsMade: Math.max(0, item.attempts - 1), lastAttemptAt: item.last_attempt_at, takeover: item.holder_token };
    }
  }
  if (forced && item.state === 'dead-lettered') return { kind: 'new', attemptsMade: item.attempts, lastAttemptAt: item.last_attempt_at, reopen: true };
  if (item.handled?.has(view.occurrence)) return { kind: 'duplicate', reason: `this failure was already ${item.state}` };
  if (eventId !== undefined && item.events?.has(eventId)) return { kind: 'duplicate', reason: `event ${eventId} was already handled` };
  return { kind: 'new', attemptsMade: item.attempts, lastAttemptAt: item.last_attempt_at };
}

export interface LedgerOptions {
  readonly tableName: string;
  readonly leaseSeconds: number;
  readonly ttlDays: number;
  readonly now?: () => number;
}

export interface SettleDetails {
  readonly outcome: 'retried' | 'deferred' | 'dead-lettered';
  readonly ruleId?: string | undefined;
  readonly taskId?: string | undefined;
  readonly requestId?: string | undefined;
  readonly errorCode?: string | undefined;
  readonly reason?: string | undefined;
  readonly forcedBy?: string | undefined;
  /** The call certainly did not run the script (refused before the backend, or never made): do not count it. */
  readonly refundAttempt?: boolean | undefined;
}

export class AttemptLedger {
  private readonly now: () => number;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly options: LedgerOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Reads the failure item, following a link when the failure's task came from an earlier retry. */
  async view(failure: ScriptFailure): Promise<LedgerView> {
    const occurrence = failureKey(failure);
    const linkKey = failure.taskId !== undefined ? failureKey({ projectId: failure.projectId, taskId: failure.taskId }) : undefined;
    // The failure's own item and its task's link are read together: one call in the common case.
    const [own, link] = linkKey && linkKey !== occurrence ? await this.getBoth(occurrence, linkKey) : [await this.get(occurrence), undefined];
    const linked = typeof link?.['link_to'] === 'string' ? link['link_to'] : typeof own?.['link_to'] === 'string' ? own['link_to'] : undefined;
    if (linked === undefined || linked === occurrence) return { rootKey: occurrence, occurrence, item: own as LedgerItem | undefined };
    const item = (await this.get(linked)) as LedgerItem | undefined;
    return { rootKey: linked, occurrence, item: item && 'link_to' in item ? undefined : item };
  }

  /**
   * Takes the in-flight lease and counts the attempt, if nobody else has:
   * returns undefined when another claimant got there first.
   */
  async claim(view: LedgerView, standing: Extract<Standing, { kind: 'new' }>, eventId: string | undefined, token: string): Promise<Claim | undefined> {
    const now = this.now();
    const values: Record<string, unknown> = {
      ':lease': now + this.options.leaseSeconds * 1000,
      ':now': now,
      ':inflight': 'in-flight',
      ':occ': view.occurrence,
      ':occset': new Set([view.occurrence]),
      ':token': token,
      ':ttl': this.expiresAt(now),
      ':zero': 0,
      ':inc': standing.takeover ? 0 : 1,
    };
    let condition: string;
    if (standing.takeover) {
      condition = '#state = :inflight AND holder = :occ AND holder_token = :old AND lease_until < :now';
      values[':old'] = standing.takeover;
    } else if (view.item && standing.reopen) {
      condition = 'attempts = :expected AND #state = :dead';
      values[':expected'] = view.item.attempts;
      values[':dead'] = 'dead-lettered';
    } else if (view.item) {
      condition = 'attempts = :expected AND (#state <> :inflight OR lease_until < :now) AND NOT contains(handled, :occ)';
      values[':expected'] = view.item.attempts;
    } else {
      condition = 'attribute_not_exists(pk)';
    }
    let update = 'SET attempts = if_not_exists(attempts, :zero) + :inc, #state = :inflight, lease_until = :lease, holder = :occ, holder_token = :token, last_attempt_at = :now, first_seen_at = if_not_exists(first_seen_at, :now), expires_at = :ttl ADD handled :occset';
    if (eventId !== undefined) {
      update += ', events :evset';
      values[':evset'] = new Set([eventId]);
    }
    const claimed = await this.conditional(
      new UpdateCommand({ TableName: this.options.tableName, Key: { pk: view.rootKey }, UpdateExpression: update, ConditionExpression: condition, ExpressionAttributeNames: { '#state': 'state' }, ExpressionAttributeValues: values }),
    );
    return claimed ? { rootKey: view.rootKey, occurrence: view.occurrence, token, attempt: standing.attemptsMade + 1 } : undefined;
  }

  /** Records the outcome of a claimed call. A retry's new task id is linked back to this item. */
  async settle(claim: Claim, details: SettleDetails): Promise<void> {
    const now = this.now();
    const values: Record<string, unknown> = {
      ':state': details.outcome,
      ':token': claim.token,
      ':now': now,
      ':ttl': this.expiresAt(now),
      ':entry': [historyEntry(claim.attempt, now, details)],
      ':empty': [],
      ':zero': 0,
    };
    let update = 'SET #state = :state, lease_until = :zero, settled_at = :now, expires_at = :ttl, history = list_append(if_not_exists(history, :empty), :entry)';
    for (const [field, value] of [['new_task_id', details.taskId], ['request_id', details.requestId], ['rule_id', details.ruleId], ['reason', details.reason], ['error_code', details.errorCode]] as const) {
      if (value !== undefined) {
        update += `, ${field} = :${field}`;
        values[`:${field}`] = value;
      }
    }
    if (details.refundAttempt) {
      update += ', attempts = attempts - :one';
      values[':one'] = 1;
    }
    // A deferred occurrence will be tried again: it is no longer "handled".
    if (details.outcome === 'deferred') {
      update += ' DELETE handled :occset';
      values[':occset'] = new Set([claim.occurrence]);
    }
    // The link to a retry's new task is written beside the outcome (one round trip, not two).
    await Promise.all([
      this.conditional(
        new UpdateCommand({ TableName: this.options.tableName, Key: { pk: claim.rootKey }, UpdateExpression: update, ConditionExpression: 'holder_token = :token', ExpressionAttributeNames: { '#state': 'state' }, ExpressionAttributeValues: values }),
      ),
      details.outcome === 'retried' && details.taskId ? this.link(claim.rootKey, details.taskId) : undefined,
    ]);
  }

  /** Records a give-up decided without a call (not retryable, too old, exhausted), so it is surfaced once. */
  async recordGiveUp(view: LedgerView, eventId: string | undefined, details: SettleDetails): Promise<void> {
    const now = this.now();
    const values: Record<string, unknown> = {
      ':state': 'dead-lettered',
      ':inflight': 'in-flight',
      ':now': now,
      ':ttl': this.expiresAt(now),
      ':occset': new Set([view.occurrence]),
      ':zero': 0,
      ':entry': [historyEntry(view.item?.attempts ?? 0, now, details)],
      ':empty': [],
      ':reason': details.reason ?? '',
      ':rule': details.ruleId ?? '',
    };
    let update = 'SET #state = :state, attempts = if_not_exists(attempts, :zero), first_seen_at = if_not_exists(first_seen_at, :now), settled_at = :now, expires_at = :ttl, reason = :reason, rule_id = :rule, history = list_append(if_not_exists(history, :empty), :entry) ADD handled :occset';
    if (eventId !== undefined) {
      update += ', events :evset';
      values[':evset'] = new Set([eventId]);
    }
    await this.conditional(
      new UpdateCommand({ TableName: this.options.tableName, Key: { pk: view.rootKey }, UpdateExpression: update, ConditionExpression: 'attribute_not_exists(pk) OR #state <> :inflight OR lease_until < :now', ExpressionAttributeNames: { '#state': 'state' }, ExpressionAttributeValues: values }),
    );
  }

  /** Reads one item by key (for operators, the sweep's watermark and tests). */
  async get(pk: string): Promise<Record<string, unknown> | undefined> {
    try {
      const result = await this.db.send(new GetCommand({ TableName: this.options.tableName, Key: { pk }, ConsistentRead: true }));
      return result.Item;
    } catch (error) {
      throw new LedgerUnavailableError(`ledger ${this.options.tableName} could not be read: ${describe(error)}`);
    }
  }

  /** Two items in one BatchGetItem (strongly consistent); keys DynamoDB leaves unprocessed are read one by one. */
  private async getBoth(first: string, second: string): Promise<[Record<string, unknown> | undefined, Record<string, unknown> | undefined]> {
    let result;
    try {
      result = await this.db.send(new BatchGetCommand({ RequestItems: { [this.options.tableName]: { Keys: [{ pk: first }, { pk: second }], ConsistentRead: true } } }));
    } catch (error) {
      throw new LedgerUnavailableError(`ledger ${this.options.tableName} could not be read: ${describe(error)}`);
    }
    const items = result.Responses?.[this.options.tableName] ?? [];
    const unprocessed = new Set((result.UnprocessedKeys?.[this.options.tableName]?.Keys ?? []).map((k) => String(k['pk'])));
    const pick = async (pk: string) => (unprocessed.has(pk) ? this.get(pk) : items.find((i) => i['pk'] === pk));
    return Promise.all([pick(first), pick(second)]);
  }

  /** Writes a plain item (the sweep's watermark). */
  async put(item: Record<string, unknown>): Promise<void> {
    try {
      await this.db.send(new PutCommand({ TableName: this.options.tableName, Item: { ...item, expires_at: this.expiresAt(this.now()) } }));
    } catch (error) {
      throw new LedgerUnavailableError(`ledger ${this.options.tableName} could not be written: ${describe(error)}`);
    }
  }

  private async link(rootKey: string, newTaskId: string): Promise<void> {
    const projectId = rootKey.slice(0, rootKey.indexOf('#'));
    await this.conditional(
      new PutCommand({
        TableName: this.options.tableName,
        Item: { pk: failureKey({ projectId, taskId: newTaskId }), link_to: rootKey, expires_at: this.expiresAt(this.now()) },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  /** Runs a conditional write: false when the condition failed, LedgerUnavailableError on anything else. */
  private async conditional(command: UpdateCommand | PutCommand): Promise<boolean> {
    try {
      await this.db.send(command as UpdateCommand);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException') return false;
      throw new LedgerUnavailableError(`ledger ${this.options.tableName} could not be written: ${describe(error)}`);
    }
  }

  private expiresAt(now: number): number {
    return Math.floor(now / 1000) + this.options.ttlDays * 86_400;
  }
}

function historyEntry(attempt: number, now: number, details: SettleDetails): HistoryEntry {
  const entry: Record<string, unknown> = { attempt, at: new Date(now).toISOString(), outcome: details.outcome };
  if (details.ruleId) entry['rule_id'] = details.ruleId;
  if (details.taskId) entry['task_id'] = details.taskId;
  if (details.requestId) entry['request_id'] = details.requestId;
  if (details.errorCode) entry['error_code'] = details.errorCode;
  if (details.reason) entry['reason'] = details.reason.slice(0, 500);
  if (details.forcedBy) entry['forced_by'] = details.forcedBy;
  return entry as unknown as HistoryEntry;
}

function describe(error: unknown): string {
  const e = error as Error;
  return `${e.name}${e.message && e.message !== e.name ? ` (${e.message.slice(0, 200)})` : ''}`;
}
