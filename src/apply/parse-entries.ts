import type { InvalidRoute } from '../applied-state';
import type { Route, RouteParams } from '../route/route';
import type { StoreEntry } from '../store/route-store';

export type ParseRoute = (params: RouteParams) => Route;

export interface ParsedEntries {
  readonly routes: readonly Route[];
  readonly invalid: readonly InvalidRoute[];
}

/** Store entries -> routes; an entry that is not a valid route is set aside with the reason. */
export function parseEntries(entries: readonly StoreEntry[], parse: ParseRoute): ParsedEntries {
  const routes: Route[] = [];
  const invalid: InvalidRoute[] = [];
  for (const entry of entries) {
    if (!entry.params) {
      invalid.push({ serviceName: entry.serviceName, reason: entry.error ?? 'the stored value is not a JSON object of strings' });
      continue;
    }
    try {
      routes.push(parse(entry.params));
    } catch (error) {
      invalid.push({ serviceName: entry.serviceName, reason: (error as Error).message });
    }
  }
  return { routes, invalid };
}
