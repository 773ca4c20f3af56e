import { checkConfigText } from '../haproxy/check';
import { loadTemplates } from '../render/templates';
import { parseEntries, withRoutes } from '../route/entries';
import type { Route } from '../route/route';
import type { Settings } from '../settings';
import type { RouteStore } from '../store/route-store';
import type { RouteChecker } from './ports';

/**
 * The checker of the one-shot CLI, which has no applier and so nothing live: a route is checked
 * against the routes in the store (valid ones), rendered with the configured templates (loaded
 * when a route is checked, so a bad parameter is reported before a template problem).
 */
export class StoredRoutesChecker implements RouteChecker {
  constructor(
    private readonly store: Pick<RouteStore, 'list'>,
    private readonly settings: Settings,
  ) {}

  async checkRoute(route: Route): Promise<void> {
    const templates = loadTemplates(this.settings.templatesDir);
    const { routes } = parseEntries((await this.store.list()).entries);
    await checkConfigText(this.settings.haproxyBin, templates.render(withRoutes(routes, [route]), this.settings));
  }
}
