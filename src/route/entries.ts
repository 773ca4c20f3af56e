import type { InvalidRoute } from '../render/types';
import type { StoreEntry } from '../store/route-store';
import { parseRoute } from './params';
import type { Route, RouteParams } from './route';

/** Parameters -> a validated Route, throwing on bad input (parseRoute; a test may pass a laxer one). */
export type ParseRoute = (params: RouteParams) => Route;

export interface ParsedEntries {
  readonly routes: readonly Route[];
  readonly invalid: readonly InvalidRoute[];
}

/**
 * Store entries -> routes. A stored value is as untrusted as a request (anyone may edit the KV
 * store by hand), so it passes the same gate; an entry that is not a valid route is set aside
 * with the reason.
 */
export function parseEntries(entries: readonly StoreEntry[], parse: ParseRoute = parseRoute): ParsedEntries {
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

/** Put `added` into `base`, replacing the routes of the same services. */
export function withRoutes(base: readonly Route[], added: readonly Route[]): Route[] {
  const names = new Set(added.map((route) => route.serviceName));
  return [...base.filter((route) => !names.has(route.serviceName)), ...added];
}
