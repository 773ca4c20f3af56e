import { EntryChanges, EntryIndex } from '../src/store/entry-index';
import type { StoreEntry } from '../src/store/route-store';

const entry = (serviceName: string, port: string): StoreEntry => ({ serviceName, params: { serviceName, port } });

function recorder(): { changes: EntryChanges; seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    changes: {
      added: (e) => seen.push(`added ${e.serviceName}`),
      changed: (before, after) => seen.push(`changed ${after.serviceName} ${before.params?.port}->${after.params?.port}`),
      removed: (name) => seen.push(`removed ${name}`),
    },
  };
}

describe('EntryIndex: what each store snapshot changed', () => {
  it('starts from the first snapshot, then tells additions, changes and removals in the snapshot order, removals last', () => {
    const index = new EntryIndex();
    const first = recorder();
    const [a, b, c] = [entry('a', '1'), entry('b', '2'), entry('c', '3')];
    expect(index.started).toBe(false);
    index.update([a, b, c], first.changes);
    expect(index.started).toBe(true);
    expect(first.seen).toEqual([]);
    const next = recorder();
    index.update([entry('a', '1'), entry('aa', '9'), b, entry('c', '4')], next.changes);
    expect(next.seen).toEqual(['added aa', 'changed c 3->4']);
    const last = recorder();
    index.update([entry('c', '4')], last.changes);
    expect(last.seen).toEqual(['removed a', 'removed aa', 'removed b']);
  });

  it('tells nothing for a snapshot with the same values again, as new objects or the same ones', () => {
    const index = new EntryIndex();
    const a = entry('a', '1');
    index.update([a]);
    const again = recorder();
    index.update([a], again.changes);
    index.update([entry('a', '1')], again.changes);
    expect(again.seen).toEqual([]);
  });
});
