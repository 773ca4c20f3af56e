import { sameEntry } from './dedup';
import type { StoreEntry } from './route-store';

/** What a snapshot changed, route by route, in the snapshot's order (removals last). */
export interface EntryChanges {
  added(entry: StoreEntry): void;
  changed(before: StoreEntry, after: StoreEntry): void;
  removed(serviceName: string): void;
}

/**
 * The entries of the last store snapshot by serviceName, and what each new snapshot changed. The
 * index is kept up to date in place: at 10,000 routes a new map per snapshot is garbage the
 * collector pays for, and an entry the store did not change is the same object (both stores hand
 * out the same entry for a value that did not change), so most entries cost one lookup.
 */
export class EntryIndex {
  private byName: Map<string, StoreEntry> | undefined;

  /** Whether a snapshot came before (the first one is where changes start from, not a change). */
  get started(): boolean {
    return this.byName !== undefined;
  }

  /** Take the entries of a snapshot (one per serviceName); `changes` hears what differs from the last ones. */
  update(entries: readonly StoreEntry[], changes?: EntryChanges): void {
    const known = this.byName;
    if (!known) {
      this.byName = new Map(entries.map((entry) => [entry.serviceName, entry]));
      return;
    }
    for (const entry of entries) {
      const before = known.get(entry.serviceName);
      if (before === entry) continue;
      known.set(entry.serviceName, entry);
      if (!before) changes?.added(entry);
      else if (!sameEntry(before, entry)) changes?.changed(before, entry);
    }
    if (known.size === entries.length) return;
    const present = new Set(entries.map((entry) => entry.serviceName));
    const removed = [...known.keys()].filter((serviceName) => !present.has(serviceName));
    // In serviceName order, the order of the snapshot they were in (both stores sort their entries).
    for (const serviceName of removed.sort()) {
      known.delete(serviceName);
      changes?.removed(serviceName);
    }
  }
}
