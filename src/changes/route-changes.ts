import { ConfigRejected, NotLive } from '../errors';
import { parseRoute, parseServiceName } from '../route/params';
import type { Route, RouteParams } from '../route/route';
import { RouteDefaults, withDefaults } from '../route/defaults';
import { NO_USERS, resolveUsers, UserSource } from '../route/users';
import type { RouteStore } from '../store/route-store';
import type { RouteChecker, Served, ServedWaiter } from './ports';
import { explainRejection } from './rejection';

export interface RouteChangesOptions {
  readonly store: Pick<RouteStore, 'put' | 'remove'>;
  readonly checker: RouteChecker;
  /** Waits until the local HAProxy serves a stored change; the one-shot CLI has none. */
  readonly served?: ServedWaiter;
  /** How long to wait for the local HAProxy to serve a stored change. */
  readonly liveTimeoutMs: number;
  /** USERS and the user secrets: a route whose users cannot be found is refused (400). */
  readonly users?: UserSource;
  /** DEFAULT_REQ_MODE: stored with routes that give no reqMode. */
  readonly defaults?: RouteDefaults;
}

export interface ChangeResult {
  readonly serviceName: string;
  readonly index: number;
  readonly params?: RouteParams;
}

/**
 * The one write path, shared by the HTTP API and the CLI's `routes add/remove`: validate (route/),
 * check against HAProxy (what is live, or what is stored for the CLI), store once, then wait until
 * the local HAProxy serves the stored change. The store is the only thing written; the applier
 * picks the change up from the store watch like any other replica.
 */
export class RouteChanges {
  constructor(private readonly options: RouteChangesOptions) {}

  /** Validate and check a route without storing it (the first half of reconfigure). */
  async prepare(input: Readonly<Record<string, unknown>>): Promise<Route> {
    const route = parseRoute(withDefaults(input, this.options.defaults));
    resolveUsers(route, this.options.users ?? NO_USERS);
    try {
      await this.options.checker.checkRoute(route);
    } catch (error) {
      throw error instanceof ConfigRejected ? explainRejection(route, error) : error;
    }
    return route;
  }

  /** Store, then wait until served: at most `liveTimeoutMs` (by default the configured one). */
  async store(route: Route, liveTimeoutMs = this.options.liveTimeoutMs): Promise<ChangeResult> {
    const index = await this.options.store.put(route.params);
    const served = await this.options.served?.waitForIndex(index, liveTimeoutMs);
    if (served) assertNotLeftOut(served, route.serviceName);
    return { serviceName: route.serviceName, index, params: route.params };
  }

  /** Store the route; `replicas=0` removes the service instead (DFP: a service scaled to zero). */
  async reconfigure(input: Readonly<Record<string, unknown>>): Promise<ChangeResult> {
    const route = await this.prepare(input);
    if (route.replicas === 0) return this.remove(route.serviceName);
    return this.store(route);
  }

  validServiceName(input: unknown): string {
    return parseServiceName(input);
  }

  async remove(input: unknown, liveTimeoutMs = this.options.liveTimeoutMs): Promise<ChangeResult> {
    const serviceName = parseServiceName(input);
    const index = await this.options.store.remove(serviceName);
    await this.options.served?.waitForIndex(index, liveTimeoutMs);
    return { serviceName, index };
  }
}

function assertNotLeftOut(served: Served, serviceName: string): void {
  const invalid = served.invalid.find((entry) => entry.serviceName === serviceName);
  if (invalid) throw new NotLive(`${serviceName} was stored but HAProxy does not serve it: ${invalid.reason}`);
}
