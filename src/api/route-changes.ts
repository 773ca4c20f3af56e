import type { AppliedState } from '../applied-state';
import { NotLive } from '../errors';
import type { Route, RouteParams } from '../route/route';
import type { RouteStore } from '../store/route-store';
import type { ApplierPort } from './ports';

export interface RouteChangesOptions {
  readonly store: RouteStore;
  readonly applier: ApplierPort;
  readonly parse: (input: Readonly<Record<string, unknown>>) => Route;
  readonly parseServiceName: (input: unknown) => string;
  /** How long to wait for the local HAProxy to serve a stored change. */
  readonly liveTimeoutMs: number;
}

export interface ChangeResult {
  readonly serviceName: string;
  readonly index: number;
  readonly params?: RouteParams;
}

/**
 * The write path shared by the HTTP API: validate, check against HAProxy, store once, then wait
 * until the local HAProxy serves the stored change. The store is the only thing written; the
 * applier picks the change up from the store watch like any other replica.
 */
export class RouteChanges {
  constructor(private readonly options: RouteChangesOptions) {}

  /** Validate and check a route without storing it (the first half of reconfigure). */
  async prepare(input: Readonly<Record<string, unknown>>): Promise<Route> {
    const route = this.options.parse(input);
    await this.options.applier.checkRoute(route);
    return route;
  }

  async store(route: Route): Promise<ChangeResult> {
    const index = await this.options.store.put(route.params);
    const state = await this.options.applier.waitForIndex(index, this.options.liveTimeoutMs);
    assertNotLeftOut(state, route.serviceName);
    return { serviceName: route.serviceName, index, params: route.params };
  }

  async reconfigure(input: Readonly<Record<string, unknown>>): Promise<ChangeResult> {
    return this.store(await this.prepare(input));
  }

  validServiceName(input: unknown): string {
    return this.options.parseServiceName(input);
  }

  async remove(input: unknown): Promise<ChangeResult> {
    const serviceName = this.options.parseServiceName(input);
    const index = await this.options.store.remove(serviceName);
    await this.options.applier.waitForIndex(index, this.options.liveTimeoutMs);
    return { serviceName, index };
  }
}

function assertNotLeftOut(state: AppliedState, serviceName: string): void {
  const invalid = state.invalid.find((entry) => entry.serviceName === serviceName);
  if (invalid) throw new NotLive(`${serviceName} was stored but HAProxy does not serve it: ${invalid.reason}`);
}
