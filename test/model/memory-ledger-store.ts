import { isChain } from '../../lib/ledger/chain.js';
import {
  type Item,
  type Keyed,
  type LedgerStore,
  LedgerUnavailableError,
  MARKER_RECENT,
  type Marker,
  prunedRecent,
  type TogetherWrite,
} from '../../lib/ledger/store.js';

/**
 * The ledger table on a map, with the same contract as DynamoLedgerStore:
 * a write lands only if the stored item is at the revision it names (absent
 * for undefined), puts are unconditional. Faults are armed by the model and
 * consumed by the next calls of their kind: `write` throws before the write,
 * `write-lost` writes and then throws (DynamoDB timed out after applying).
 * Writes together are one call: all of them or none, one fault for the set.
 */

export type LedgerFault = 'read' | 'write' | 'write-lost';

export class MemoryLedgerStore implements LedgerStore {
  readonly items = new Map<string, Item>();
  /** Highest `attempts` ever written per chain key (P2 reads it). */
  readonly maxAttempts = new Map<string, number>();
  private armed: Array<{ readonly fault: LedgerFault; skip: number }> = [];
  faultsFired = 0;

  /** The next `count` calls of the fault's kind fail, after `skip` calls of that kind went through. */
  arm(fault: LedgerFault, count: number, skip = 0): void {
    for (let i = 0; i < count; i++) this.armed.push({ fault, skip });
  }

  disarm(): void {
    this.armed = [];
  }

  async read(pk: string): Promise<Item | undefined> {
    this.fault('read', pk);
    const item = this.items.get(pk);
    return item && clone(item);
  }

  async write(item: Keyed, expectedRev: number | undefined): Promise<'written' | 'conflict'> {
    const lost = this.fault('write', item.pk);
    if (!this.atRevision(item.pk, expectedRev)) return this.after(lost, item.pk, 'conflict');
    this.store(item);
    return this.after(lost, item.pk, 'written');
  }

  async writeTogether(writes: readonly TogetherWrite[]): Promise<number[]> {
    const keys = writes.map(togetherKey);
    if (new Set(keys).size < keys.length) throw new Error(`writes together name one item twice: ${keys.join(', ')}`);
    const lost = this.fault('write', keys.join(','));
    const refused = writes.flatMap((w, i) =>
      w.kind === 'write' && !this.atRevision(w.item.pk, w.expectedRev) ? [i] : [],
    );
    if (refused.length > 0) return this.after(lost, keys.join(','), refused);
    for (const w of writes)
      if (w.kind === 'marker') this.appendMarker(w.marker);
      else this.store(w.item);
    return this.after(lost, keys.join(','), []);
  }

  private atRevision(pk: string, expectedRev: number | undefined): boolean {
    const current = this.items.get(pk);
    return expectedRev === undefined ? current === undefined : current !== undefined && current['rev'] === expectedRev;
  }

  async put(item: Keyed): Promise<void> {
    const lost = this.fault('write', item.pk);
    this.store(item);
    this.after(lost, item.pk, undefined);
  }

  async putMarker(marker: Marker): Promise<void> {
    const lost = this.fault('write', marker.pk);
    this.appendMarker(marker);
    this.after(lost, marker.pk, undefined);
  }

  private appendMarker(marker: Marker): void {
    const recent = this.items.get(marker.pk)?.['recent'];
    const before = Array.isArray(recent) ? (recent as string[]) : [];
    const recentNow =
      before.length < MARKER_RECENT ? [marker.link_to, ...before] : prunedRecent(marker.link_to, before);
    this.store({ ...marker, recent: recentNow } as Keyed);
  }

  async putAll(items: ReadonlyArray<Keyed>): Promise<string[]> {
    const failed: string[] = [];
    for (const item of items) {
      try {
        await this.put(item);
      } catch {
        failed.push(item.pk);
      }
    }
    return failed;
  }

  private store(item: Keyed): void {
    const copy = clone(item as Item);
    this.items.set(item.pk, copy);
    if (isChain(copy)) this.maxAttempts.set(item.pk, Math.max(this.maxAttempts.get(item.pk) ?? 0, copy.attempts));
  }

  /** Throws for an armed `read`/`write`; returns true when a `write-lost` is due after the write. */
  private fault(kind: 'read' | 'write', pk: string): boolean {
    const index = this.armed.findIndex((f) => (kind === 'read' ? f.fault === 'read' : f.fault !== 'read'));
    if (index < 0) return false;
    const entry = this.armed[index]!;
    if (entry.skip > 0) {
      for (const f of this.armed) if (f.fault === entry.fault) f.skip = Math.max(0, f.skip - 1);
      return false;
    }
    const fault = this.armed.splice(index, 1)[0]!.fault;
    this.faultsFired++;
    if (fault === 'write-lost') return true;
    throw new LedgerUnavailableError(
      `ledger model could not be ${kind === 'read' ? 'read' : 'written'} (${pk}): injected fault`,
    );
  }

  private after<T>(lost: boolean, pk: string, value: T): T {
    if (lost) throw new LedgerUnavailableError(`ledger model wrote ${pk} but the answer was lost: injected fault`);
    return value;
  }
}

/** The key of one write of a set written together. */
export function togetherKey(write: TogetherWrite): string {
  return write.kind === 'marker' ? write.marker.pk : write.item.pk;
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
