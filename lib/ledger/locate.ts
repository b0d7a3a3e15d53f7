/**
 * Where a failure event's run belongs: its chain and its generation
 * (docs/ledger-protocol.md, "Identity" and "Runs"). Reads, plus the one
 * write that keeps what a record lookup found (a new chain, or a pointer to
 * an old one).
 */

import {
  type Chain,
  isChain,
  isLink,
  markerChains,
  memberKey,
  newChain,
  overlaidFacts,
  pendingKey,
  type RunFacts,
  recordKey,
  taskKey,
} from './chain.js';
import { type CurrentRun, placeRun, runsOf } from './runs.js';
import type { Item, LedgerStore } from './store.js';

/** A failure event's place in the ledger. */
export interface Located {
  /** The chain item's key (it may not exist yet). */
  readonly chainKey: string;
  readonly chain: Chain | undefined;
  /** Retries that came before the run the event names. */
  readonly generation: number;
  /** The run, with what a lookup or the chain added. */
  readonly run: RunFacts;
  /**
   * Placed from reads made before the run's turn (`LocateOptions.ahead`): the chain may be old, so it decides a claim
   * (a write conditional on the revision read) or a duplicate, and nothing else (docs/ledger-protocol.md, "Reads made
   * ahead").
   */
  readonly ahead?: true;
}

/**
 * Workspace's current run of the record an event names (record detail), and whether it failed (undefined: as the event
 * says).
 */
export type RecordNow = RunFacts & { readonly failed?: boolean | undefined };

/**
 * Looks the event's record up in Workspace: to complete an event that lacks its task, desktop or script, or to tell its
 * runs apart.
 */
export type RecordLookup = () => Promise<RecordNow>;

/**
 * A run's reads made before its turn (lib/pipeline/runner.ts reads the next
 * records' keys while the current records' calls are in flight). Items of
 * any age: what is located from them is marked `ahead`, and decides only a
 * claim, which is conditional on the revision read, or a duplicate
 * (docs/ledger-protocol.md, "Reads made ahead").
 */
export interface ReadAhead {
  readonly read: (pk: string) => Promise<Item | undefined>;
}

/** How a run is located: whether a lookup's findings are written, and reads already made ahead. */
export interface LocateOptions {
  /** Whether a lookup's findings are written (not in a dry run). */
  readonly cache: boolean;
  /** The run's first reads, made ahead (readAhead). */
  readonly ahead?: ReadAhead | undefined;
}

/**
 * Starts the reads a run's location begins with (its keys, then the chains
 * they lead to) and keeps them for its first placement. A read that failed
 * is made again when used.
 */
export function readAhead(access: LocateAccess, run: RunFacts): ReadAhead {
  const issued = new Map<string, Promise<Item | undefined>>();
  const read = (pk: string): Promise<Item | undefined> => {
    let item = issued.get(pk);
    if (!item) {
      item = access.store.read(pk);
      // Never left unhandled: a read that failed is made again when used.
      item.catch(() => undefined);
      issued.set(pk, item);
    }
    return item;
  };
  void candidateChains(access, run, { read }).catch(() => undefined);
  return { read: (pk) => read(pk).catch(() => access.store.read(pk)) };
}

/**
 * What locating needs of the ledger: its store, its clock, the clock skew it allows, and the expiry every item it
 * writes carries.
 */
export interface LocateAccess {
  readonly store: LedgerStore;
  readonly now: () => number;
  readonly skewMs: number;
  readonly stamped: <T extends object>(item: T) => T & { expires_at: number };
}

/**
 * Finds the chain of the run an event names, among the chains its keys lead
 * to: its task's link (a retry's new task), the record's own item (a chain,
 * or a cached pointer), the marker of its desktop and script (a retry's run
 * no link names). Each candidate is asked whether the run is one of its runs
 * (lib/ledger/runs.ts placeRun), so a key never decides alone. An event that
 * lacks its task, desktop or script, or names a record that may have run
 * again in place without its start, is completed by one lookup. A run no
 * chain claims starts a chain of its own.
 */
export async function locateRun(
  access: LocateAccess,
  run: RunFacts,
  lookup: RecordLookup,
  options: LocateOptions,
): Promise<Located> {
  // Only the first placement may use reads made ahead: whatever follows it (a lookup, a write that found another
  // revision) reads afresh.
  const first = await placeAmongCandidates(access, run, { read: options.ahead?.read });
  if (first.located) return first.located;
  const complete = run.taskId !== undefined && run.resourceId !== undefined && run.scriptId !== undefined;
  if (complete && !first.ask)
    return startChain(access, run, run, first, lookup, options, options.cache ? 'over-pointer' : 'never');
  // One lookup: what the event lacks, or the record's current run (its start, and whether it failed) when the event has
  // no start.
  const { failed, ...now } = await lookup();
  const full = overlaidFacts(now, run);
  const second = await placeAmongCandidates(access, full, {
    current: run.startedAt === undefined ? { failed: failed ?? true } : undefined,
  });
  if (second.located) {
    // A record found through a link or a marker keeps a pointer to its chain, so the next event needs no lookup. Only
    // where the record still has no item: a chain or pointer written since is never overwritten (a refusal is kept).
    if (options.cache && second.located.chainKey !== recordKey(run.projectId, run.recordId) && !second.own) {
      await access.store.write(
        access.stamped({
          pk: recordKey(run.projectId, run.recordId),
          link_to: second.located.chainKey,
          generation: second.located.generation,
          rev: 0,
        }),
        undefined,
      );
    }
    return second.located;
  }
  return startChain(access, full, run, second, lookup, options, options.cache ? 'always' : 'never');
}

interface Candidates {
  readonly located?: Located | undefined;
  /** Some chain needs Workspace's word on the record to place the run. */
  readonly ask: boolean;
  /** The record's own item, when it has one. */
  readonly own: Item | undefined;
  /** Whether the items came from reads made ahead. */
  readonly ahead: boolean;
}

interface Placing {
  /** Workspace's current run of the record (a lookup's answer, when the event has no start). */
  readonly current?: CurrentRun | undefined;
  /** A chain not to ask. */
  readonly except?: string | undefined;
  /** How the items are read (default: from the store, now). */
  readonly read?: ((pk: string) => Promise<Item | undefined>) | undefined;
}

/**
 * The chains a run's keys lead to (other than `except`), in the order they are asked, with the record's own item and
 * the marker's chains.
 */
async function candidateChains(
  access: LocateAccess,
  run: RunFacts,
  placing: Placing = {},
): Promise<{ chains: Chain[]; own: Item | undefined; pending: string[] }> {
  const read = placing.read ?? ((pk: string) => access.store.read(pk));
  const onDesktop = run.resourceId !== undefined && run.scriptId !== undefined;
  const [own, link, member, marker] = await Promise.all([
    read(recordKey(run.projectId, run.recordId)),
    run.taskId ? read(taskKey(run.projectId, run.taskId)) : undefined,
    run.taskId && onDesktop ? read(memberKey(run.projectId, run.taskId, run.resourceId!, run.scriptId!)) : undefined,
    onDesktop ? read(pendingKey(run.projectId, run.resourceId!, run.scriptId!)) : undefined,
  ]);
  const pending = markerChains(marker);
  // A retry's task link first (the lineage's word), the record's own item, its task's chain on its desktop and script,
  // the marker's chains.
  const leads = [link, own, member].map((item) => (isChain(item) ? item.pk : isLink(item) ? item.link_to : undefined));
  const keys = [
    ...new Set([...leads, ...pending].filter((key): key is string => key !== undefined && key !== placing.except)),
  ];
  const items = await Promise.all(keys.map((key) => (isChain(own) && own.pk === key ? own : read(key))));
  return { chains: items.filter(isChain), own, pending };
}

async function placeAmongCandidates(access: LocateAccess, run: RunFacts, placing: Placing = {}): Promise<Candidates> {
  const { chains, own } = await candidateChains(access, run, placing);
  const ahead = placing.read !== undefined;
  let ask = false;
  for (const chain of chains) {
    const placement = placeRun(chain, run, { skewMs: access.skewMs }, placing.current);
    if (placement.kind === 'run')
      return {
        located: marked({ chainKey: chain.pk, chain, generation: placement.generation, run }, ahead),
        ask,
        own,
        ahead,
      };
    if (placement.kind === 'ask') ask = true;
  }
  return { ask, own, ahead };
}

function marked(located: Located, ahead: boolean): Located {
  return ahead ? { ...located, ahead } : located;
}

/**
 * Whether a run belongs to a chain other than `self`, for the lost-answer
 * lookup of `self` (whose retry's answer is lost). Another chain's, when a
 * chain its keys lead to places it by what it knows (lib/ledger/runs.ts,
 * `knownOnly`), or it runs a record or in a task another chain already had and
 * `self` did not (whatever the reading, a retry's run is in a new task, in the
 * retried run's task, or the retried record itself). Else, a run of no
 * record or task of `self`'s that another chain with a lost answer could also
 * take goes to the first in line (it surely called, its holder did not die
 * first; else it claimed last before the run started; else first after), so
 * no run is taken by two chains.
 */
export async function ownedElsewhere(access: LocateAccess, run: RunFacts, self: Chain): Promise<boolean> {
  const { chains } = await candidateChains(access, run, { except: self.pk });
  const skew = { skewMs: access.skewMs };
  if (chains.some((chain) => placeRun(chain, run, { ...skew, knownOnly: true }).kind === 'run')) return true;
  if (tiedTo(self, run)) return false;
  if (chains.some((chain) => tiedTo(chain, run))) return true;
  return chains.some(
    (chain) =>
      isPending(chain) && placeRun(chain, run, skew).kind === 'run' && beforeInLine(chain, self, run.startedAt) < 0,
  );
}

/** Whether a run is of a record, or in a task, that the chain already had. */
function tiedTo(chain: Chain, run: RunFacts): boolean {
  return runsOf(chain).some(
    (entry) => entry.record === run.recordId || (entry.task !== undefined && entry.task === run.taskId),
  );
}

function isPending(chain: Chain): boolean {
  return chain.state === 'unknown' || (chain.state === 'claimed' && chain.intent === 'retry');
}

/** Which of two chains with a lost answer takes a run that started at `start` (negative: `a`). */
function beforeInLine(a: Chain, b: Chain, start: number | undefined): number {
  const called = (c: Chain) => (c.state === 'unknown' ? 0 : 1);
  const claimedAt = (c: Chain) => c.claimed_at ?? 0;
  const before = (c: Chain) => (start === undefined || claimedAt(c) <= start ? 0 : 1);
  const order = (c: Chain) => (before(c) === 0 ? -claimedAt(c) : claimedAt(c));
  return (
    called(a) - called(b) || before(a) - before(b) || order(a) - order(b) || (a.pk < b.pk ? -1 : a.pk > b.pk ? 1 : 0)
  );
}

/**
 * A run no chain claims: the record's own chain. Written now (`always`) when
 * a lookup found what it holds, so the next event for the record needs no
 * lookup; written over a pointer its chain no longer claims (a lost retry's
 * run that turned out not to have run) unless nothing may be written (a dry
 * run); otherwise written by its first claim. A write that finds another
 * revision locates the event again from its own facts (`event`): not from
 * what a lookup said of the record's current run, which may have changed.
 */
async function startChain(
  access: LocateAccess,
  run: RunFacts,
  event: RunFacts,
  found: Candidates,
  lookup: RecordLookup,
  options: LocateOptions,
  write: 'always' | 'over-pointer' | 'never',
): Promise<Located> {
  const { own } = found;
  const chainKey = recordKey(run.projectId, run.recordId);
  // The record is a chain's root whatever its keys say (its desktop or script was given otherwise): that chain.
  if (isChain(own)) return marked({ chainKey, chain: own, generation: 0, run }, found.ahead);
  const pointerRev = isLink(own) && typeof own['rev'] === 'number' ? (own['rev'] as number) : undefined;
  // A pointer written before pointers had a revision cannot be replaced safely: its chain's claim decides.
  if (isLink(own) && pointerRev === undefined)
    return marked({ chainKey, chain: undefined, generation: 0, run }, found.ahead);
  if (write === 'never' || (write === 'over-pointer' && !isLink(own)))
    return marked({ chainKey, chain: undefined, generation: 0, run }, found.ahead);
  const chain = { ...newChain(run, access.now()), rev: (pointerRev ?? 0) + 1 };
  // Another revision: located again from fresh reads (the ones made ahead led here).
  if ((await access.store.write(access.stamped(chain), pointerRev)) === 'conflict')
    return locateRun(access, event, lookup, { cache: options.cache });
  return { chainKey, chain, generation: 0, run };
}
