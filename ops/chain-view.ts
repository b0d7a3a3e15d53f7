/**
 * `npm run ops -- status`: the ledger's view of one failure, from its items as
 * DynamoDB returns them (pure: no I/O). A failure chain item
 * (`<project>#record#<root record>`) holds the state, attempts, lineage and
 * history; a link item (`<project>#task#<id>` or `<project>#record#<id>`) points
 * at its chain with `link_to`: a retry's new task, or a later record of the chain.
 */

import { type HistoryEntry, recordKey, taskKey } from '../lib/ledger/chain.js';
import { renderTable } from './table.js';

export type LedgerItem = Record<string, unknown>;

/** A history entry as the ledger writes it (its attempt may be missing on items written by hand). */
export type HistoryRow = Omit<HistoryEntry, 'attempt'> & { readonly attempt: number | undefined };

export interface ChainView {
  readonly pk: string;
  /**
   * How the id asked about led here: the chain item itself, a link of the given generation, or a scan for one of its
   * tasks.
   */
  readonly via: { readonly pk: string; readonly generation?: number | undefined; readonly scan?: boolean | undefined };
  readonly project_id: string;
  readonly root_record: string | undefined;
  readonly state: string;
  readonly attempts: number;
  readonly resource_id?: string | undefined;
  readonly script_id?: string | undefined;
  readonly current_record?: string | undefined;
  readonly current_task?: string | undefined;
  readonly tasks: readonly string[];
  readonly new_task_id?: string | undefined;
  readonly reason?: string | undefined;
  readonly rule_id?: string | undefined;
  readonly error_code?: string | undefined;
  readonly first_seen_at?: string | undefined;
  readonly last_attempt_at?: string | undefined;
  readonly lease_until?: string | undefined;
  readonly claimed_at?: string | undefined;
  readonly dead_lettered_at?: string | undefined;
  readonly expires_at?: string | undefined;
  readonly history: readonly HistoryRow[];
}

/** The two keys an id may be stored under: a record id or a task id. */
export function candidateKeys(projectId: string, id: string): [string, string] {
  return [recordKey(projectId, id), taskKey(projectId, id)];
}

/** The chain key an item leads to: its `link_to` when it is a link, else its own key. */
export function chainKeyOf(item: LedgerItem): string {
  return typeof item['link_to'] === 'string' ? item['link_to'] : String(item['pk']);
}

const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
const num = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

/** Epoch ms, epoch seconds (TTL) or an ISO string, as ISO; undefined when absent. */
export function isoTime(value: unknown, unit: 'ms' | 's' = 'ms'): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  const n = num(value);
  return n === undefined ? undefined : new Date(unit === 's' ? n * 1000 : n).toISOString();
}

/** Reads a chain item into a view; throws with the key and the missing field when it is not one. */
export function describeChain(chain: LedgerItem, via: LedgerItem, how: 'key' | 'scan' = 'key'): ChainView {
  const pk = String(chain['pk']);
  const state = text(chain['state']);
  if (!state) throw new Error(`ledger item ${pk} is not a failure chain: it has no "state"`);
  const history = Array.isArray(chain['history']) ? (chain['history'] as Array<Record<string, unknown>>) : [];
  return {
    pk,
    via: {
      pk: String(via['pk']),
      generation: via === chain ? undefined : num(via['generation']),
      scan: how === 'scan' ? true : undefined,
    },
    project_id: text(chain['project_id']) ?? pk.split('#')[0]!,
    root_record: text(chain['root_record']),
    state,
    attempts: num(chain['attempts']) ?? 0,
    resource_id: text(chain['resource_id']),
    script_id: text(chain['script_id']),
    current_record: text(chain['current_record']),
    current_task: text(chain['current_task']),
    tasks: Array.isArray(chain['tasks']) ? (chain['tasks'] as unknown[]).map(String) : [],
    new_task_id: text(chain['new_task_id']),
    reason: text(chain['reason']),
    rule_id: text(chain['rule_id']),
    error_code: text(chain['error_code']),
    first_seen_at: isoTime(chain['first_seen_at']),
    last_attempt_at: isoTime(chain['last_attempt_at']),
    lease_until: isoTime(chain['lease_until']),
    claimed_at: isoTime(chain['claimed_at']),
    dead_lettered_at: isoTime(chain['dead_lettered_at']),
    expires_at: isoTime(chain['expires_at'], 's'),
    history: history.map((entry) => {
      const row: Record<string, unknown> = {
        attempt: num(entry['attempt']),
        at: isoTime(entry['at']) ?? '',
        outcome: text(entry['outcome']) ?? '',
      };
      for (const key of ['rule_id', 'task_id', 'record_id', 'request_id', 'error_code', 'reason', 'forced_by'] as const)
        if (text(entry[key])) row[key] = entry[key];
      return row as unknown as HistoryRow;
    }),
  };
}

/** The chain as a person reads it: a summary, the lineage, then one row per history entry. */
export function renderChain(view: ChainView, now: number): string {
  const lines: Array<[string, string | undefined]> = [
    ['failure', view.pk],
    [
      'found via',
      view.via.scan
        ? 'a scan of the table for one of its tasks'
        : view.via.pk === view.pk
          ? undefined
          : `${view.via.pk} (link, generation ${view.via.generation ?? '?'})`,
    ],
    ['state', view.state + (view.state === 'claimed' && view.lease_until ? leaseNote(view.lease_until, now) : '')],
    ['attempts', String(view.attempts)],
    ['desktop', view.resource_id],
    ['script', view.script_id],
    ['lineage', view.tasks.length > 0 ? view.tasks.join(' -> ') : undefined],
    [
      'current',
      [view.current_record && `record ${view.current_record}`, view.current_task && `task ${view.current_task}`]
        .filter(Boolean)
        .join(', ') || undefined,
    ],
    ['new task', view.new_task_id],
    ['reason', view.reason],
    ['rule', view.rule_id],
    ['error code', view.error_code],
    ['first seen', view.first_seen_at],
    ['last attempt', view.last_attempt_at],
    ['dead-lettered', view.dead_lettered_at],
    ['expires', view.expires_at],
  ];
  const width = Math.max(...lines.map(([label]) => label.length));
  const summary = lines
    .filter(([, value]) => value !== undefined)
    .map(([label, value]) => `${label.padEnd(width)}  ${value}`);
  const rows = view.history.map((h) => ({
    attempt: h.attempt === undefined ? '' : String(h.attempt),
    at: h.at,
    outcome: h.outcome,
    rule: h.rule_id ?? '',
    'task id': [h.task_id, h.record_id && `(record ${h.record_id})`].filter(Boolean).join(' '),
    'request id': h.request_id ?? '',
    'error code': h.error_code ?? '',
    reason: [h.reason, h.forced_by && `forced by: ${h.forced_by}`].filter(Boolean).join('; '),
  }));
  const history =
    rows.length > 0
      ? renderTable(rows, ['attempt', 'at', 'outcome', 'rule', 'task id', 'request id', 'error code', 'reason'], 60)
      : '(no attempt recorded yet)';
  return [...summary, '', 'history', history].join('\n');
}

function leaseNote(leaseUntil: string, now: number): string {
  const left = Date.parse(leaseUntil) - now;
  return left > 0
    ? ` (lease held for ${Math.ceil(left / 1000)} s more)`
    : ' (lease expired: the next delivery takes over)';
}
