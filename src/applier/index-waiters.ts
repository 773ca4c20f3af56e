import { NotLive } from '../errors';

interface Waiter<T> {
  readonly index: number;
  readonly resolve: (value: T) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Callers waiting until the applied store index reaches theirs. */
export class IndexWaiters<T> {
  private waiters: Waiter<T>[] = [];

  wait(index: number, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new NotLive(`store index ${index} is not live after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push({ index, resolve, reject, timer });
    });
  }

  /** `applied` is now live: release everyone waiting for it or less. */
  release(applied: number, value: T): void {
    const ready = this.waiters.filter((w) => w.index <= applied);
    this.waiters = this.waiters.filter((w) => w.index > applied);
    for (const waiter of ready) {
      clearTimeout(waiter.timer);
      waiter.resolve(value);
    }
  }

  rejectAll(error: Error): void {
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }
}
