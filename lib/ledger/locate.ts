import { isChain, isLink, newChain, pendingKey, recordKey, taskKey, type Chain, type Link, type RunFacts } from './chain.js';
import type { Item, LedgerStore } from './store.js';

/**
 * Where a failure event's run belongs: its chain and its generation
 * (docs/ledger-protocol.md, "Identity"). Reads, plus the one write that keeps
 * what a record lookup found (a new chain, or a pointer to an old one).
 */

/** A failure event's place in the ledger. */
export interface Located {
  /** The chain item's key (it may not exist yet). */
  readonly chainKey: string;
  readonly chain: Chain | undefined;
  /** Retries that came before the run the event names. */
  readonly generation: number;
  /** The run, with what a lookup or the chain added. */
  readonly run: RunFacts;
}

/** Looks a record up in Workspace when an event lacks its task (record detail). */
export type RecordLookup = () => Promise<RunFacts>;

/** What locating needs of the ledger: its store, its clock, and the expiry every item it writes carries. */
export interface LocateAccess {
  readonly store: LedgerStore;
  readonly now: () => number;
  readonly stamped: <T extends object>(item: T) => T & { expires_at: number };
}

/**
 * Finds the chain of the run an event names: the record's own item (a
 * chain, or a cached pointer), else its task's link (a retry's new task),
 * else a pending lost retry on its desktop and script. An event without its
 * task, desktop or script is completed by one lookup, cached here.
 */
export async function locateRun(access: LocateAccess, run: RunFacts, lookup: RecordLookup, options: { readonly cache: boolean }): Promise<Located> {
  const { store } = access;
  const [own, link, pending] = await Promise.all([
    store.read(recordKey(run.projectId, run.recordId)),
    run.taskId ? store.read(taskKey(run.projectId, run.taskId)) : undefined,
    readPending(store, run),
  ]);
  // A retry's task link is the lineage's word: it wins over an item cached for the record before the link existed.
  if (isLink(link)) return follow(store, link, run);
  if (isChain(own)) return { chainKey: own.pk, chain: own, generation: 0, run };
  if (isLink(own)) return follow(store, own, run);
  if (run.taskId && run.resourceId && run.scriptId) return (await lostRetryRun(store, pending, run)) ?? { chainKey: recordKey(run.projectId, run.recordId), chain: undefined, generation: 0, run };
  // A new run that does not say its task, desktop or script: one lookup completes it (and is cached below).
  const full = { ...(await lookup()), ...definedOf(run) };
  const [taskLink, pendingFull] = await Promise.all([full.taskId ? store.read(taskKey(run.projectId, full.taskId)) : undefined, readPending(store, full)]);
  if (isLink(taskLink)) {
    if (options.cache) await store.put(access.stamped({ pk: recordKey(run.projectId, run.recordId), link_to: taskLink.link_to, generation: taskLink.generation }));
    return follow(store, taskLink, full);
  }
  const lost = await lostRetryRun(store, pendingFull, full);
  if (lost) return lost;
  // A new chain: what the lookup found is kept, so the next event for this record needs none.
  if (!options.cache) return { chainKey: recordKey(run.projectId, run.recordId), chain: undefined, generation: 0, run: full };
  const chain = { ...newChain(full, access.now()), rev: 1 };
  if ((await store.write(access.stamped(chain), undefined)) === 'conflict') return locateRun(access, full, lookup, options);
  return { chainKey: chain.pk, chain, generation: 0, run: full };
}

function readPending(store: LedgerStore, run: RunFacts): Promise<Item | undefined> | undefined {
  return run.resourceId && run.scriptId ? store.read(pendingKey(run.projectId, run.resourceId, run.scriptId)) : undefined;
}

/**
 * A run no link names, on a desktop and script whose chain has a retry with
 * a lost answer pending: it may be that retry's run, so it belongs to that
 * chain (one generation on) and the lost answer is resolved first.
 */
async function lostRetryRun(store: LedgerStore, pending: Item | undefined, run: RunFacts): Promise<Located | undefined> {
  if (!isLink(pending)) return undefined;
  const item = await store.read(pending.link_to);
  if (!isChain(item)) return undefined;
  const at = (generation: number): Located => ({ chainKey: item.pk, chain: item, generation, run });
  // A run the chain already knows (its root, the run it handles, a task of its own) is that run, never a new chain.
  if (run.recordId === item.root_record) return at(0);
  const pendingRetry = item.state === 'unknown' || (item.state === 'claimed' && item.intent === 'retry');
  if (run.recordId === item.current_record) return at(pendingRetry || item.state === 'retried' ? item.attempts - 1 : item.attempts);
  const known = run.taskId !== undefined ? item.tasks.indexOf(run.taskId) : -1;
  if (known >= 0) return at(known);
  // Otherwise only a retry still pending makes a run no link names yet: the next generation.
  return pendingRetry ? at(item.attempts) : undefined;
}

async function follow(store: LedgerStore, link: Link, run: RunFacts): Promise<Located> {
  const item = await store.read(link.link_to);
  return { chainKey: link.link_to, chain: isChain(item) ? item : undefined, generation: link.generation, run };
}

function definedOf(run: RunFacts): Partial<RunFacts> {
  return Object.fromEntries(Object.entries(run).filter(([, v]) => v !== undefined)) as Partial<RunFacts>;
}
