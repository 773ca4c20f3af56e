import type { Destination, Route } from '../route/route';
import type { Settings } from '../settings';
import { isMappable, mapKeys, RouteMapBuilder, routeMapFiles } from './route-maps';
import { sameTls, TlsFiles } from './types';
import { BuiltView, buildView, domainAlgoOf, httpRank, inStrictOrder, MappedDestination, routesByName, ViewMemo } from './view';

/** More changed routes than this at once: the whole view is built (a first load, a burst). */
const MAX_CHANGED = 16;

interface Last {
  readonly byName: Map<string, Route>;
  readonly settings: Settings;
  readonly tls: TlsFiles | false;
  readonly useMaps: boolean;
  readonly built: BuiltView;
}

/**
 * The view of the last build, and the view of a change that only moves route map entries
 * (a path or domain of a plain route) without building the whole view again: such a change leaves
 * every part of the view as it was (the config text stays; the templates need not run), and only
 * the maps are filled again, from the last build's destinations in their order, so collisions and
 * wildcards come out as a whole build makes them. Anything else builds the whole view (whose parts
 * ViewMemo still reuses route by route). At 10,000 routes this is a few milliseconds instead of
 * tens.
 */
export class ViewCache {
  private last: Last | undefined;

  constructor(private readonly memo: ViewMemo) {}

  build(routes: readonly Route[], settings: Settings, tls: TlsFiles | false, useMaps: boolean): BuiltView {
    const last = this.last;
    const changed = this.mapsOnly(routes, settings, tls, useMaps);
    if (last && changed) {
      // The same services: the index by name changes in place (it is this cache's own).
      for (const route of changed.routes.values()) last.byName.set(route.serviceName, route);
      this.last = { ...last, built: changed.built };
      return changed.built;
    }
    const built = buildView(routes, settings, tls, this.memo, useMaps);
    this.remember(routes, settings, tls, useMaps, built);
    return built;
  }

  /** The view for `routes` (and the routes that changed) when they differ from the last build's only in map entries; else undefined. */
  private mapsOnly(
    routes: readonly Route[],
    settings: Settings,
    tls: TlsFiles | false,
    useMaps: boolean,
  ): { readonly built: BuiltView; readonly routes: ReadonlyMap<string, Route> } | undefined {
    const last = this.last;
    // Without maps (templates older than them) every path and domain is in an ACL line of the view.
    if (!useMaps || !last || last.settings !== settings || !sameTls(last.tls, tls) || !last.useMaps) return undefined;
    if (routes.length !== last.byName.size || !inStrictOrder(routes)) return undefined;
    const changed = new Map<string, Route>();
    for (const route of routes) {
      const before = last.byName.get(route.serviceName);
      if (before === route) continue;
      if (!before || changed.size === MAX_CHANGED || !movesMapEntriesOnly(before, route, settings)) return undefined;
      changed.set(route.serviceName, route);
    }
    if (changed.size === 0) return { built: last.built, routes: changed };
    return { built: { ...last.built, ...this.mapsWith(last.built.mapped, changed, settings) }, routes: changed };
  }

  /** The maps again, from the destinations of the last build in their order, the changed routes' with their new keys. */
  private mapsWith(mapped: readonly MappedDestination[], changed: ReadonlyMap<string, Route>, settings: Settings): Pick<BuiltView, 'maps' | 'mapped'> {
    const builder = new RouteMapBuilder(routeMapFiles(settings.stateDir));
    const next = mapped.map((entry): MappedDestination => {
      const route = changed.get(entry.route.serviceName);
      if (!route) return entry;
      const destination = route.destinations.find((d) => d.index === entry.index) as Destination;
      return { ...entry, route, keys: mapKeys(destination) };
    });
    for (const entry of next) builder.add(entry.keys, entry.backend);
    const maps = builder.build((file) => this.memo.previousMap(file));
    this.memo.rememberMaps(maps);
    return { maps, mapped: next };
  }

  private remember(routes: readonly Route[], settings: Settings, tls: TlsFiles | false, useMaps: boolean, built: BuiltView): void {
    const byName = routesByName(this.last?.byName, routes);
    // Two routes of one service: which one a build keeps depends on their order.
    this.last = byName.size === routes.length ? { byName, settings, tls, useMaps, built } : undefined;
  }
}

/**
 * Whether `after` differs from `before` only in the paths and domains of destinations that both
 * versions route by the maps, in the same place of the rule order: nothing else in the view
 * depends on them (the ACL lines, the redirects of redirectFromDomain and SNI do, but such
 * destinations are not in the maps or are excluded here).
 */
function movesMapEntriesOnly(before: Route, after: Route, settings: Settings): boolean {
  const { params: _paramsBefore, destinations: destinationsBefore, ...restBefore } = before;
  const { params: _paramsAfter, destinations: destinationsAfter, ...restAfter } = after;
  if (!sameData(restBefore, restAfter) || destinationsBefore.length !== destinationsAfter.length) return false;
  return destinationsBefore.every((d, i) => {
    const next = destinationsAfter[i];
    const { servicePath: _pathBefore, serviceDomain: _domainBefore, ...fieldsBefore } = d;
    const { servicePath: _pathAfter, serviceDomain: _domainAfter, ...fieldsAfter } = next;
    return (
      sameData(fieldsBefore, fieldsAfter) &&
      d.redirectFromDomain.length === 0 &&
      httpRank(d) === httpRank(next) &&
      isMappable(d, domainAlgoOf(before, settings), false) &&
      isMappable(next, domainAlgoOf(after, settings), false)
    );
  });
}

/** Plain data (objects, arrays, strings, numbers, booleans, undefined) equal field by field, in the same key order. */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  const recordA = a as Record<string, unknown>;
  const recordB = b as Record<string, unknown>;
  return keysA.every((key, i) => key === keysB[i] && sameData(recordA[key], recordB[key]));
}
