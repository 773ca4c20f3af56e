import type { InvalidRoute } from '../render/types';
import type { Route } from '../route/route';

/**
 * Checks a route before it is stored: throws ConfigRejected (HAProxy's message) when the routes
 * it is checked against, with this one added or replacing its service, would not pass
 * `haproxy -c`. The applier checks against what is live; the CLI against what is stored.
 */
export interface RouteChecker {
  checkRoute(route: Route): Promise<void>;
}

/** What a replica serves: the store index that is live and the routes it left out. */
export interface Served {
  readonly index: number;
  readonly invalid: readonly InvalidRoute[];
}

/** Waits until the local HAProxy serves a store index (the applier); NotLive after the timeout. */
export interface ServedWaiter {
  waitForIndex(index: number, timeoutMs: number): Promise<Served>;
}
