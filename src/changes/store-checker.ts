import { ensureRouteMapFiles } from '../applier/route-map-files';
import { checkConfigText } from '../haproxy/check';
import { portClash } from '../render/port-clash';
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
    // A srcPort the API, the HTTP or stats frontend or another route holds: refused like the API does.
    const before = new Set(templates.renderWithProblems(routes, this.settings).problems.map((problem) => problem.serviceName));
    const rendered = templates.renderWithProblems(withRoutes(routes, [route]), this.settings);
    const clash = portClash(route, rendered.problems, before);
    if (clash) throw clash;
    await ensureRouteMapFiles(this.settings.stateDir);
    await checkConfigText(this.settings.haproxyBin, rendered.config);
  }
}
