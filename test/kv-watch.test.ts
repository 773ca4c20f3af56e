import { BlockingSource, KvWatch } from '../src/store/kv-watch';
import { SnapshotDedup } from '../src/store/dedup';
import type { StoreSnapshot } from '../src/store/route-store';
import { waitFor } from './helpers/ports';

/**
 * The rules of the blocking-query loop, on a scripted source (the Consul side of the same loop is
 * covered against a real cluster in consul-store.test.ts). Each scripted step answers one read.
 */

type Step = StoreSnapshot | Error | ((signal: AbortSignal) => Promise<StoreSnapshot>);

interface Read {
  readonly index: number;
  readonly at: number;
}

function snapshot(index: number, ...names: string[]): StoreSnapshot {
  return { index, entries: names.map((serviceName) => ({ serviceName, params: { serviceName } })) };
}

/** Answers reads from `steps` in order; once they run out, every read waits until aborted. */
function scriptedSource(steps: Step[]): BlockingSource & { reads: Read[]; failOver: () => void } {
  const reads: Read[] = [];
  const listeners = new Set<() => void>();
  return {
    reads,
    failOver: () => listeners.forEach((listener) => listener()),
    onFailover(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async read(index, signal) {
      reads.push({ index, at: performance.now() });
      const step = steps.shift();
      if (step === undefined) return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
      if (step instanceof Error) throw step;
      if (typeof step === 'function') return step(signal);
      return step;
    },
  };
}

const fast = { minIntervalMs: 0, backoffMinMs: 10, backoffMaxMs: 40 };

describe('KvWatch', () => {
  const watches: KvWatch[] = [];
  afterEach(() => watches.splice(0).forEach((watch) => watch.stop()));

  function start(source: BlockingSource, options = fast) {
    const seen: StoreSnapshot[] = [];
    const errors: Error[] = [];
    const indexes: number[] = [];
    let restarts = 0;
    // Behind the stores' de-duplicating wrapper, as the store's watch() gives it.
    const dedup = new SnapshotDedup(
      (s) => seen.push(s),
      (i) => indexes.push(i),
    );
    const watch = new KvWatch(
      source,
      {
        onSnapshot: (s) => dedup.offer(s),
        onError: (e) => errors.push(e),
        onRestart: () => restarts++,
      },
      options,
    );
    watches.push(watch);
    return { seen, errors, indexes, restarts: () => restarts };
  }

  it('starts at index 0, then blocks on the last index and never on 0', async () => {
    const source = scriptedSource([snapshot(0), snapshot(5, 'a'), snapshot(9, 'a', 'b')]);
    const run = start(source);
    await waitFor('four reads', async () => source.reads.length === 4);
    expect(source.reads.map((r) => r.index)).toEqual([0, 1, 5, 9]);
    expect(run.seen.map((s) => s.index)).toEqual([0, 5, 9]);
  });

  it('emits only real changes but reports every index', async () => {
    const source = scriptedSource([snapshot(3, 'a'), snapshot(4, 'a'), snapshot(6, 'a', 'b'), snapshot(7, 'a', 'b')]);
    const run = start(source);
    await waitFor('five reads', async () => source.reads.length === 5);
    expect(run.seen.map((s) => s.index)).toEqual([3, 6]);
    expect(run.indexes).toEqual([3, 4, 6, 7]);
  });

  it('starts over from 0 when the index goes backwards', async () => {
    const source = scriptedSource([snapshot(50, 'a'), snapshot(20, 'a'), snapshot(21, 'a', 'b')]);
    const run = start(source);
    await waitFor('four reads', async () => source.reads.length === 4);
    expect(source.reads.map((r) => r.index)).toEqual([0, 50, 0, 21]);
    expect(run.restarts()).toBe(1);
    expect(run.seen.map((s) => s.index)).toEqual([50, 21]);
  });

  it('backs off after errors up to the cap, retries, and starts over from 0', async () => {
    const failures = Array.from({ length: 5 }, (_, i) => new Error(`down ${i}`));
    const source = scriptedSource([snapshot(8, 'a'), ...failures, snapshot(12, 'a', 'b')]);
    const run = start(source);
    await waitFor('the recovery', async () => run.seen.length === 2, 5000);
    expect(run.errors.map((e) => e.message)).toEqual(failures.map((e) => e.message));
    const reads = source.reads.slice(0, 7);
    expect(reads.map((r) => r.index)).toEqual([0, 8, 0, 0, 0, 0, 0]);
    const gaps = reads.slice(2).map((r, i) => r.at - reads[i + 1].at);
    // Full jitter below 10, 20, 40, 40, 40 ms: at least half of each, never more than the cap.
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(Math.min(10 * 2 ** i, 40) / 2 - 2));
    gaps.forEach((gap) => expect(gap).toBeLessThan(40 + 100));
  });

  it('starts over from 0 after a failover, without emitting the same routes again', async () => {
    let answer: (s: StoreSnapshot) => void = () => undefined;
    const parked = () => new Promise<StoreSnapshot>((resolve) => (answer = resolve));
    const source = scriptedSource([snapshot(8, 'a'), parked, snapshot(9, 'a')]);
    const run = start(source);
    await waitFor('the blocking read', async () => source.reads.length === 2);
    source.failOver();
    answer(snapshot(30, 'a'));
    await waitFor('the read after the failover', async () => source.reads.length === 4);
    expect(source.reads.map((r) => r.index)).toEqual([0, 8, 0, 9]);
    expect(run.seen).toHaveLength(1);
  });

  it('queries at most once per minIntervalMs', async () => {
    const source = scriptedSource(Array.from({ length: 5 }, (_, i) => snapshot(i + 1, `r${i}`)));
    start(source, { ...fast, minIntervalMs: 60 });
    await waitFor('five reads', async () => source.reads.length === 5, 5000);
    for (let i = 1; i < 5; i++) expect(source.reads[i].at - source.reads[i - 1].at).toBeGreaterThanOrEqual(60);
  });

  it('keeps queries minIntervalMs apart as the server sees them, when sending one takes the process a while', async () => {
    // The query reaches the server only after some synchronous work (or a pause of this process on a
    // busy machine), more for some queries than for others: here 20 ms, then none, in turn.
    const base = scriptedSource(Array.from({ length: 6 }, (_, i) => snapshot(i + 1, `r${i}`)));
    let calls = 0;
    const source: BlockingSource = {
      onFailover: (listener) => base.onFailover(listener),
      read(index, signal) {
        if (calls++ % 2 === 0) for (const until = performance.now() + 20; performance.now() < until;);
        return base.read(index, signal);
      },
    };
    start(source, { ...fast, minIntervalMs: 60 });
    await waitFor('six reads', async () => base.reads.length === 6, 5000);
    for (let i = 1; i < 6; i++) expect(base.reads[i].at - base.reads[i - 1].at).toBeGreaterThanOrEqual(60);
  });

  it('stops: aborts the read in flight and reads no more', async () => {
    const source = scriptedSource([snapshot(2, 'a')]);
    const run = start(source);
    await waitFor('the parked read', async () => source.reads.length === 2);
    watches.forEach((watch) => watch.stop());
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(source.reads).toHaveLength(2);
    expect(run.errors).toEqual([]);
  });
});
