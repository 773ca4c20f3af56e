import { setTimeout as sleep } from 'timers/promises';
import { Backoff } from '../files/backoff';
import type { StoreSnapshot, StoreWatch } from './route-store';

/**
 * The blocking-query loop (the rules of Consul's "blocking queries" docs, as consul-template's
 * watch/ applies them): block on the last index, never on 0; start over from 0 when the index
 * goes backwards, after an error and after a failover to another address; at most one query per
 * minIntervalMs; capped exponential backoff on errors, forever. Every answer is passed on (the
 * store's de-duplicating wrapper keeps only real changes).
 */

export interface BlockingSource {
  /** Read the snapshot; index 0 answers at once, a larger one blocks until the data passes it. */
  read(index: number, signal: AbortSignal): Promise<StoreSnapshot>;
  /** Subscribe to "the source now talks to another address"; returns the unsubscribe function. */
  onFailover(listener: () => void): () => void;
}

export interface KvWatchOptions {
  readonly minIntervalMs: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
}

export interface KvWatchHandlers {
  readonly onSnapshot: (snapshot: StoreSnapshot) => void;
  readonly onError?: (error: Error) => void;
  /** Told each time the loop starts over (error, failover, index reset): for health(). */
  readonly onRestart?: () => void;
}

export class KvWatch implements StoreWatch {
  private stopped = false;
  private index = 0;
  /** When the last query started, on performance.now()'s clock; -Infinity before the first. */
  private lastStart = -Infinity;
  private inFlight?: AbortController;
  /** Counts failovers, so a read that spanned one knows to start over after it. */
  private failovers = 0;
  private readonly stopping = new AbortController();
  private readonly backoff: Backoff;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly source: BlockingSource,
    private readonly handlers: KvWatchHandlers,
    private readonly options: KvWatchOptions,
  ) {
    this.backoff = new Backoff({ minMs: options.backoffMinMs, maxMs: options.backoffMaxMs });
    this.unsubscribe = source.onFailover(() => this.failedOver());
    void this.run();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe();
    this.inFlight?.abort();
    this.stopping.abort();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      // On the monotonic clock (time sync may step the wall clock). Timers round to whole
      // milliseconds, so pause until the interval has really passed.
      while (!this.stopped && performance.now() - this.lastStart < this.options.minIntervalMs) {
        await this.pause(this.lastStart + this.options.minIntervalMs - performance.now());
      }
      if (this.stopped) return;
      await this.once();
    }
  }

  private async once(): Promise<void> {
    const controller = new AbortController();
    this.inFlight = controller;
    const failovers = this.failovers;
    try {
      const reading = this.source.read(this.index, controller.signal);
      // Taken once the query has gone out, not before: a pause of this process between the two
      // (a busy machine) would otherwise shorten the gap to the next query by that pause.
      this.lastStart = performance.now();
      this.accept(await reading);
      // The answer is good data, but its index may be another address's: start over from 0
      // (failedOver already counted the restart).
      if (this.failovers !== failovers) this.index = 0;
    } catch (error) {
      await this.failed(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.inFlight = undefined;
    }
  }

  private accept(snapshot: StoreSnapshot): void {
    if (this.stopped) return;
    this.backoff.reset();
    this.advance(snapshot.index);
    this.handlers.onSnapshot(snapshot);
  }

  /** The next index to block on: the answer's, or 0 to start over when it went backwards. */
  private advance(index: number): void {
    if (index < this.index) {
      this.restart();
      return;
    }
    // An index of 0 (an empty KV store) would make the next query return at once, in a loop.
    this.index = Math.max(index, 1);
  }

  private async failed(error: Error): Promise<void> {
    if (this.stopped) return;
    this.restart();
    this.handlers.onError?.(error);
    await this.pause(this.backoff.next());
  }

  /**
   * The next query starts over from index 0. A query in flight is not aborted: it may be the very
   * request that failed over, and one still blocked on the old address returns within its wait.
   */
  private failedOver(): void {
    this.failovers++;
    this.restart();
  }

  private restart(): void {
    this.index = 0;
    this.handlers.onRestart?.();
  }

  /** Sleep that stop() cuts short. */
  private async pause(ms: number): Promise<void> {
    if (ms <= 0 || this.stopped) return;
    await sleep(ms, undefined, { signal: this.stopping.signal }).catch(() => undefined);
  }
}
