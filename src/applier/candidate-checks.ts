import { withRoutes } from '../route/entries';
import type { Route } from '../route/route';

interface Pending {
  readonly route: Route;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Checks routes the API is about to store, many at once. `haproxy -c` costs the same for one new
 * route as for fifty, and a burst of reconfigure calls would otherwise start one HAProxy each.
 * Routes that arrive while a check runs wait and are checked together in the next one; when that
 * combined check fails, each route of the batch is checked on its own so that only the bad ones
 * are refused, with HAProxy's message.
 */
export class CandidateChecks {
  private queue: Pending[] = [];
  private running = false;

  constructor(
    private readonly check: (routes: readonly Route[]) => Promise<void>,
    private readonly base: () => readonly Route[],
  ) {}

  /** Resolves when `route`, added to what is live, passes `haproxy -c`. */
  submit(route: Route): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ route, resolve, reject });
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0) await this.run(this.nextBatch());
    } finally {
      this.running = false;
    }
  }

  /** One route per service in a batch: two versions of one service cannot be checked together. */
  private nextBatch(): Pending[] {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    const names = new Set<string>();
    for (const pending of this.queue) {
      if (names.has(pending.route.serviceName)) rest.push(pending);
      else {
        names.add(pending.route.serviceName);
        batch.push(pending);
      }
    }
    this.queue = rest;
    return batch;
  }

  private async run(batch: readonly Pending[]): Promise<void> {
    try {
      await this.check(
        withRoutes(
          this.base(),
          batch.map((pending) => pending.route),
        ),
      );
      for (const pending of batch) pending.resolve();
      return;
    } catch (error) {
      if (batch.length === 1) return batch[0].reject(error);
    }
    for (const pending of batch) {
      await this.check(withRoutes(this.base(), [pending.route])).then(pending.resolve, pending.reject);
    }
  }
}
