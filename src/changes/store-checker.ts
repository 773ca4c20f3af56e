import { checkConfigText } from '../haproxy/check';
import type { Templates } from '../render/templates';
import { parseEntries, withRoutes } from '../route/entries';
import type { Route } from '../route/route';
import type { Settings } from '../settings';
import type { RouteStore } from '../store/route-store';
import type { RouteChecker } from './ports';

/**
 * The checker of the one-shot CLI, which has no applier and so nothing live: a route is checked
 * against the routes in the store (valid ones), rendered with the configured templates.
 */
export class StoredRoutesChecker implements RouteChecker {
  constructor(
    private readonly store: Pick<RouteStore, 'list'>,
    private readonly templates: Templates,
    private readonly settings: Settings,
  ) {}

  async checkRoute(route: Route): Promise<void> {
    const { routes } = parseEntries((await this.store.list()).entries);
    await checkConfigText(this.settings.haproxyBin, this.templates.render(withRoutes(routes, [route]), this.settings));
  }
}
