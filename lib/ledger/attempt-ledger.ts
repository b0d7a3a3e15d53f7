/**
 * The attempt ledger: where a failure event's run belongs (its chain and
 * generation, found by lib/ledger/locate.ts) and the conditional writes of
 * docs/ledger-protocol.md. Every write names the revision it was computed
 * from, so two deliveries can never both act on one run: the second finds a
 * conflict and reads again.
 */

import { exponentialCeiling } from '../platform/backoff.js';
import { logger } from '../platform/observability.js';
import {
  type Chain,
  type ClaimIntent,
  type DesktopStart,
  desktopKey,
  handlingGeneration,
  isChain,
  isDesktopStart,
  isLink,
  type Link,
  memberKey,
  newChain,
  pendingKey,
  type RunFacts,
  readingKey,
  taskKey,
  withRunFacts,
} from './chain.js';
import {
  type LocateAccess,
  type Located,
  type LocateOptions,
  locateRun,
  ownedElsewhere,
  type ReadAhead,
  type RecordLookup,
  readAhead,
} from './locate.js';
import { runsOf } from './runs.js';
import {
  type Item,
  type Keyed,
  type LedgerStore,
  LedgerUnavailableError,
  type Marker,
  type TogetherWrite,
} from './store.js';
import {
  claimed,
  type DesktopWaitDetails,
  deadLettered,
  desktopWaiting,
  type Evidence,
  type RetriedDetails,
  released,
  retried,
  unknown,
} from './transitions.js';

/**
 * The ledger's lease and item lifetime, how far other clocks may differ, and the clock and sleep (injected in tests).
 */
export interface LedgerOptions {
  readonly leaseMs: number;
  readonly ttlDays: number;
  /** How far other clocks (other containers', Workspace's) may differ from ours (CLOCK_SKEW_SECONDS; default none). */
  readonly skewMs?: number;
  readonly now?: () => number;
  /** Waits between attempts to record an accepted retry (tests pass a no-op). */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** How a claim is taken. */
export interface ClaimOptions {
  /** The chain to claim from, when the pipeline already moved it on (a lost retry found not to have run). */
  readonly base?: Chain | undefined;
  /** A give-up decided again keeps its first decision's time. */
  readonly decidedAt?: number | undefined;
  /** Workspace is known to answer retries with a new task (lib/workspace/retry-readings.ts). */
  readonly freshTask?: boolean | undefined;
}

/** A claim held by this delivery: its writes are conditional on `chain.rev`. */
export interface Claim {
  readonly chain: Chain;
}

const SETTLE_ATTEMPTS = 3;
/** Waits between those tries: 200 ms, then 400 ms. */
const SETTLE_BASE_MS = 100;
const SETTLE_CAP_MS = 1_000;

/**
 * The attempt ledger over a LedgerStore: locates a failure's run, takes claims and settles them, and keeps links,
 * desktop starts and retry readings. A write that finds another revision reports a conflict; the caller reads again.
 */
export class AttemptLedger {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    readonly store: LedgerStore,
    private readonly options: LedgerOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  get leaseMs(): number {
    return this.options.leaseMs;
  }

  /** What is left of a claim's lease, by the clock that wrote it. */
  leaseLeftMs(claim: Claim): number {
    return (claim.chain.lease_until ?? 0) - this.now();
  }

  /** Where the run an event names belongs: its chain and generation (lib/ledger/locate.ts). */
  locate(run: RunFacts, lookup: RecordLookup, options: LocateOptions = { cache: true }): Promise<Located> {
    return locateRun(this.access(), run, lookup, options);
  }

  /** Starts the reads that locating this run begins with, for `locate`'s `ahead` (lib/ledger/locate.ts readAhead). */
  readAhead(run: RunFacts): ReadAhead {
    return readAhead(this.access(), run);
  }

  private access(): LocateAccess {
    return {
      store: this.store,
      now: this.now,
      skewMs: this.options.skewMs ?? 0,
      stamped: (item) => this.stamped(item),
    };
  }

  /** Takes the claim; undefined when another delivery wrote first (read again and decide again). */
  async claim(
    located: Located,
    expectedRev: number | undefined,
    intent: ClaimIntent,
    options: ClaimOptions = {},
  ): Promise<Claim | undefined> {
    const now = this.now();
    const from = options.base ?? located.chain ?? newChain(located.run, now);
    const next = this.stamped(
      claimed(from, located.run, intent, {
        now,
        leaseMs: this.options.leaseMs,
        decidedAt: options.decidedAt,
        freshTask: options.freshTask,
      }),
    );
    // A retry's pending marker and member item go with its claim, all or none: if this holder dies mid-call, a
    // failure of the retry's run reported before anyone links it still finds this chain.
    const writes: TogetherWrite[] = [{ kind: 'write', item: next, expectedRev }];
    const marker = intent === 'retry' ? this.pendingOf(next) : undefined;
    const member = intent === 'retry' ? this.memberOf(next, located.run.taskId) : undefined;
    if (marker) writes.push({ kind: 'marker', marker });
    if (member) writes.push({ kind: 'put', item: member });
    return (await this.store.writeTogether(writes)).includes(0) ? undefined : { chain: next };
  }

  /**
   * Writes an accepted retry's outcome with its link, all or none. A link another chain already holds (or an earlier
   * answer of this one) is left as it is: the outcome is then written alone.
   */
  private async writeOutcome(
    next: Chain,
    expectedRev: number,
    link: Link | undefined,
  ): Promise<'written' | 'conflict'> {
    const writes: TogetherWrite[] = [{ kind: 'write', item: next, expectedRev }];
    if (link) writes.push({ kind: 'write', item: link, expectedRev: undefined });
    const refused = await this.store.writeTogether(writes);
    if (refused.includes(0)) return 'conflict';
    if (refused.length === 0 || !link) return 'written';
    const written = await this.store.write(next, expectedRev);
    await this.linkHeld(link);
    return written;
  }

  /**
   * Records an accepted retry, trying the write a few times: the new task id
   * must not be thrown away. 'lease-lost' when another delivery took over.
   */
  async settleRetried(claim: Claim, details: RetriedDetails): Promise<{ outcome: 'settled' | 'lease-lost' }> {
    const next = this.stamped(retried(claim.chain, details, { now: this.now() }));
    const link = this.linkOf(claim.chain, details.taskId);
    for (let attempt = 1; ; attempt++) {
      try {
        // The link is written with the outcome, not later: a failure of the new run must find this chain even if
        // the delivery dies right after (batching it with the rest of the batch would leave that window open).
        if ((await this.writeOutcome(next, claim.chain.rev, link)) === 'written') return { outcome: 'settled' };
        const current = await this.store.read(claim.chain.pk);
        const ours = isChain(current) && current.rev === next.rev && current.new_task_id === details.taskId;
        return { outcome: ours ? 'settled' : 'lease-lost' };
      } catch (error) {
        if (!(error instanceof LedgerUnavailableError) || attempt === SETTLE_ATTEMPTS) throw error;
        await this.sleep(exponentialCeiling(attempt, SETTLE_BASE_MS, SETTLE_CAP_MS));
      }
    }
  }

  /**
   * Resolves an unknown outcome the lookup found landed: no call is made. False when another delivery wrote first; its
   * link is then not written (the run was found from a chain that has changed since, so it may not be this chain's).
   */
  async resolveLanded(chain: Chain, details: RetriedDetails): Promise<boolean> {
    const next = this.stamped(retried(chain, details, { now: this.now() }));
    return (await this.writeOutcome(next, chain.rev, this.linkOf(chain, details.taskId))) === 'written';
  }

  /**
   * The runs among these that belong to a chain other than `chain` (its lost
   * retry's lookup asks: lib/ledger/locate.ts ownedElsewhere), by record id.
   */
  async claimedElsewhere(chain: Chain, runs: readonly RunFacts[]): Promise<Set<string>> {
    const elsewhere = await Promise.all(runs.map((run) => ownedElsewhere(this.access(), run, chain)));
    return new Set(runs.filter((_, i) => elsewhere[i]).map((run) => run.recordId));
  }

  /**
   * The answer was lost: the chain says so, and a marker by desktop and
   * script lets the lost retry's run find the chain before anyone links it
   * (best effort: a claim left as it is means the same).
   */
  async markUnknown(claim: Claim, evidence: Evidence, facts?: RunFacts): Promise<void> {
    const chain = facts ? withRunFacts(claim.chain, facts) : claim.chain;
    const marker = this.pendingOf(chain);
    await Promise.all([
      this.store.write(this.stamped(unknown(chain, evidence, { now: this.now() })), claim.chain.rev),
      marker && this.store.putMarker(marker),
    ]);
  }

  /** Gives the claim back; a retry's attempt is not counted (the script did not run). */
  async release(claim: Claim, evidence: Evidence): Promise<void> {
    await this.store.write(this.stamped(released(claim.chain, evidence, { now: this.now() })), claim.chain.rev);
  }

  /** The dead letter was accepted: the chain is dead-lettered (a retry refused by Workspace is not counted). */
  async settleDeadLettered(
    claim: Claim,
    evidence: Evidence & { decidedAt: number; forcedBy?: string | undefined },
  ): Promise<void> {
    const refund = claim.chain.intent === 'retry';
    await this.store.write(
      this.stamped(deadLettered(claim.chain, { ...evidence, refund }, { now: this.now() })),
      claim.chain.rev,
    );
  }

  /**
   * The handled run waits for its desktop (docs/ledger-protocol.md,
   * "Desktops"): written from the chain as located (or `base`), conditional on
   * `expectedRev`, and false when another delivery wrote first. A start this
   * delivery sent is recorded even so: the chain is read again and the start
   * laid over it, while the chain still handles that run and no start of it
   * is recorded (a few tries).
   */
  async recordDesktopWait(
    located: Located,
    expectedRev: number | undefined,
    details: DesktopWaitDetails,
    base?: Chain,
  ): Promise<boolean> {
    let from = base ?? located.chain ?? newChain(located.run, this.now());
    let rev = expectedRev;
    for (let attempt = 1; ; attempt++) {
      if ((await this.store.write(this.stamped(desktopWaiting(from, details, { now: this.now() })), rev)) === 'written')
        return true;
      if (!details.started || attempt === SETTLE_ATTEMPTS) return false;
      const current = await this.store.read(located.chainKey);
      if (
        !isChain(current) ||
        handlingGeneration(current) !== details.g ||
        (current.desktop_wait?.g === details.g && current.desktop_wait.woken_at !== undefined)
      )
        return false;
      from = current;
      rev = current.rev;
    }
  }

  /**
   * Takes the desktop's one start for `windowMs` (a conditional write on its
   * item): 'taken' for the caller, who then sends it; or the start another
   * delivery took and that is still in its window (none sent again).
   */
  async claimDesktopStart(
    projectId: string,
    desktopId: string,
    by: { readonly chain: string; readonly g: number },
    windowMs: number,
  ): Promise<{ readonly taken: DesktopStart } | { readonly held: DesktopStart | undefined }> {
    const now = this.now();
    const pk = desktopKey(projectId, desktopId);
    const current = await this.store.read(pk);
    if (isDesktopStart(current) && current.until > now) return { held: current };
    const rev = typeof current?.['rev'] === 'number' ? (current['rev'] as number) : undefined;
    const next: DesktopStart = this.stamped({
      pk,
      started_by: by.chain,
      g: by.g,
      at: now,
      until: now + windowMs,
      rev: (rev ?? 0) + 1,
    });
    if ((await this.store.write(next, rev)) === 'written') return { taken: next };
    const winner = await this.store.read(pk);
    return { held: isDesktopStart(winner) ? winner : undefined };
  }

  /** Gives a desktop's start back: it was certainly not sent, so the next delivery may send it. */
  async releaseDesktopStart(start: DesktopStart): Promise<void> {
    await this.store.write(this.stamped({ ...start, until: this.now(), rev: start.rev + 1 }), start.rev);
  }

  /** The link of the retry a chain received, written again (a redelivery repairs a link that was lost). */
  relinkOf(chain: Chain): Link | undefined {
    return chain.new_task_id ? this.linkOf(chain, chain.new_task_id) : undefined;
  }

  /** Writes links (a batch's repairs) each as `writeLink` does; returns the keys that could not be written. */
  async writeLinks(links: readonly Link[]): Promise<string[]> {
    const unique = [...new Map(links.map((link) => [link.pk, link])).values()];
    const results = await Promise.all(
      unique.map((link) =>
        this.writeLink(link).then(
          () => undefined,
          () => link.pk,
        ),
      ),
    );
    return results.filter((pk): pk is string => pk !== undefined);
  }

  /**
   * Writes a link only where the task id means nothing else to the ledger:
   * absent, or already this chain's. A link of another chain under that key
   * is left as it is (the run is placed by its chain's runs, not by the key).
   */
  private async writeLink(link: Link): Promise<void> {
    if ((await this.store.write(link, undefined)) === 'written') return;
    await this.linkHeld(link);
  }

  /** A link that could not be written is left as it is: said when another chain holds its key. */
  private async linkHeld(link: Link): Promise<void> {
    const current = await this.store.read(link.pk);
    if (isLink(current) && current.link_to !== link.link_to)
      logger.warn('a retry answered a task another chain already links: its link is kept', {
        task: link.pk,
        chain: link.link_to,
        linkedTo: current.link_to,
      });
  }

  /**
   * Which of these readings of Workspace's retry any container has recorded an answer showing, for this project
   * (lib/workspace/retry-readings.ts).
   */
  async readingsSeen<R extends string>(projectId: string, readings: readonly R[]): Promise<R[]> {
    const items = await Promise.all(readings.map((reading) => this.store.read(readingKey(projectId, reading))));
    return readings.filter((_, i) => items[i] !== undefined);
  }

  /** Records that an answer showed this reading (best effort: each container also keeps its own). */
  async noteReading(projectId: string, reading: string): Promise<void> {
    const item = { pk: readingKey(projectId, reading), seen_at: this.now() };
    await this.store.put(item);
  }

  /** Reads one item by key (sweep progress, operators, tests). */
  get(pk: string): Promise<Item | undefined> {
    return this.store.read(pk);
  }

  /** Writes a plain item (sweep progress). */
  put(item: Keyed & Item): Promise<void> {
    return this.store.put(this.stamped(item));
  }

  /** The chain's claim on its runs in the retried run's task, on its desktop and script (chain.ts memberKey). */
  private memberOf(chain: Chain, taskId: string | undefined): (Link & { expires_at: number }) | undefined {
    const { project_id: project, resource_id: desktop, script_id: script } = chain;
    return taskId && desktop && script
      ? this.stamped({ pk: memberKey(project, taskId, desktop, script), link_to: chain.pk, generation: chain.attempts })
      : undefined;
  }

  /**
   * The pending marker naming this chain first (the store keeps the chains before it: lib/ledger/chain.ts
   * markerChains).
   */
  private pendingOf(chain: Chain): Marker | undefined {
    if (!chain.resource_id || !chain.script_id) return undefined;
    return this.stamped({
      pk: pendingKey(chain.project_id, chain.resource_id, chain.script_id),
      link_to: chain.pk,
      generation: chain.attempts,
    });
  }

  /**
   * The link from the answer of retry `chain.attempts` to the chain; none when
   * the answer names the task of an earlier run (the retried run's own task:
   * that task id also means its other desktops' runs, so it must not point here).
   */
  private linkOf(chain: Chain, taskId: string): Link | undefined {
    if (runsOf(chain).some((run) => run.g < chain.attempts && run.task === taskId)) return undefined;
    return this.stamped({ pk: taskKey(chain.project_id, taskId), link_to: chain.pk, generation: chain.attempts });
  }

  private stamped<T extends object>(item: T): T & { expires_at: number } {
    return { ...item, expires_at: Math.floor(this.now() / 1000) + this.options.ttlDays * 86_400 };
  }
}
