import { EntryIndex } from '../store/entry-index';
import type { StoreEntry, StoreSnapshot } from '../store/route-store';
import type { ChangeEntry, ChangeSource } from './report-types';

/** How many changes a replica keeps (and the dashboard shows). */
export const CHANGES_KEPT = 100;

/** Which parameters differ between two stored values, by name only: values may be secrets (users). */
function changedNames(before: StoreEntry, after: StoreEntry): string {
  if (after.params === null) return `invalid value: ${after.error ?? 'not a route'}`;
  if (before.params === null) return 'value repaired';
  const names = new Set([...Object.keys(before.params), ...Object.keys(after.params)]);
  const changed = [...names].filter((name) => before.params?.[name] !== after.params?.[name]);
  return changed.join(', ');
}

function sourceOf(entry: StoreEntry): ChangeSource {
  return entry.writer ?? 'KV edit';
}

/** A logged change, and the index of the snapshot before it: the write that made it lies in between. */
interface Logged {
  readonly change: ChangeEntry;
  readonly after: number;
}

/**
 * The last CHANGES_KEPT route changes this replica's store watch saw, newest first: added,
 * changed (which parameters) or removed, and who made them. A write marks its writer in the store
 * where it can (Consul KV flags); a removal leaves no value to mark, so the API tells this log
 * which removals (and file-store writes) it made, through attribute(). Anything else is a hand edit.
 */
export class ChangeLog {
  private readonly entries = new EntryIndex();
  private previousIndex = 0;
  private logged: Logged[] = [];
  /** Writes the API made whose snapshot the watch has not brought yet, by service. */
  private readonly pending = new Map<string, { index: number; source: ChangeSource }>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  /** A snapshot from the store watch. The first one is the starting point, not a change. */
  observe(snapshot: StoreSnapshot): void {
    const after = this.previousIndex;
    this.previousIndex = snapshot.index;
    if (!this.entries.started) {
      this.entries.update(snapshot.entries);
      return;
    }
    const at = this.now().toISOString();
    const found: Logged[] = [];
    const log = (serviceName: string, what: ChangeEntry['what'], detail: string, source: ChangeSource) =>
      found.push({ after, change: { at, index: snapshot.index, serviceName, what, detail, source: this.claim(serviceName, after, snapshot.index) ?? source } });
    this.entries.update(snapshot.entries, {
      added: (entry) => log(entry.serviceName, 'added', entry.params === null ? `invalid value: ${entry.error}` : '', sourceOf(entry)),
      changed: (before, entry) => log(entry.serviceName, 'changed', changedNames(before, entry), sourceOf(entry)),
      removed: (serviceName) => log(serviceName, 'removed', '', 'KV edit'),
    });
    this.logged = [...found.reverse(), ...this.logged].slice(0, CHANGES_KEPT);
    // A write this snapshot covers and that changed nothing (the same value again) is no change.
    for (const [name, made] of this.pending) if (made.index <= snapshot.index) this.pending.delete(name);
  }

  /** The API stored (or removed) `serviceName` at store index `index`: the change it made is the API's. */
  attribute(serviceName: string, index: number, source: ChangeSource): void {
    if (index > this.previousIndex) {
      this.pending.set(serviceName, { index, source });
      return;
    }
    this.logged = this.logged.map((item) => {
      const { change } = item;
      const made = change.serviceName === serviceName && item.after < index && index <= change.index;
      return made && change.source === 'KV edit' ? { ...item, change: { ...change, source } } : item;
    });
  }

  recent(): readonly ChangeEntry[] {
    return this.logged.map((item) => item.change);
  }

  /** The source of an API write of `serviceName` that landed between two snapshots, once. */
  private claim(serviceName: string, after: number, index: number): ChangeSource | undefined {
    const made = this.pending.get(serviceName);
    if (!made || made.index <= after || made.index > index) return undefined;
    this.pending.delete(serviceName);
    return made.source;
  }
}
