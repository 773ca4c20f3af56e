import type { InvalidRoute } from '../render/types';
import type { StoreEntry } from '../store/route-store';
import { parseRoute } from './params';
import { Route, RouteParams, sameParams } from './route';

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

interface Parsed {
  readonly params: RouteParams;
  /** The route, or why the parameters do not make one. */
  readonly result: Route | string;
}

/**
 * parseEntries with a memory of the last call: an entry whose parameters did not change since
 * (the same object, as the Consul store hands out for a key whose ModifyIndex did not move, or
 * equal values, as the file store gives) keeps its Route without being validated again, so a
 * change of one key among 10,000 costs one validation. Unchanged routes keep their identity,
 * which later steps (the diff, the render) can use. `parse` must be pure.
 */
export class EntryParser {
  private readonly last = new Map<string, Parsed>();

  constructor(private readonly parse: ParseRoute = parseRoute) {}

  entries(entries: readonly StoreEntry[]): ParsedEntries {
    const routes: Route[] = [];
    const invalid: InvalidRoute[] = [];
    // Kept up to date in place: at 10,000 routes a new map per snapshot is garbage the collector pays for.
    let remembered = 0;
    for (const entry of entries) {
      if (!entry.params) {
        invalid.push({ serviceName: entry.serviceName, reason: entry.error ?? 'the stored value is not a JSON object of strings' });
        continue;
      }
      let parsed = this.last.get(entry.serviceName);
      if (!parsed || !sameParams(parsed.params, entry.params)) {
        parsed = { params: entry.params, result: this.parseOne(entry.params) };
        this.last.set(entry.serviceName, parsed);
      }
      remembered++;
      if (typeof parsed.result === 'string') invalid.push({ serviceName: entry.serviceName, reason: parsed.result });
      else routes.push(parsed.result);
    }
    if (this.last.size !== remembered) this.forgetAllBut(entries);
    return { routes, invalid };
  }

  /** Forget the services gone from the store (and those whose value is no longer a JSON object). */
  private forgetAllBut(entries: readonly StoreEntry[]): void {
    const kept = new Set(entries.filter((entry) => entry.params).map((entry) => entry.serviceName));
    for (const name of this.last.keys()) if (!kept.has(name)) this.last.delete(name);
  }

  private parseOne(params: RouteParams): Route | string {
    try {
      return this.parse(params);
    } catch (error) {
      return (error as Error).message;
    }
  }
}

/**
 * Put `added` into `base`, replacing the routes of the same services in their place (so routes in
 * serviceName order stay in it, which spares the render a sort); new services go last.
 */
export function withRoutes(base: readonly Route[], added: readonly Route[]): Route[] {
  const byName = new Map(added.map((route) => [route.serviceName, route]));
  // Two versions of one service to add: all of them, after the rest (which one counts is the render's rule).
  if (byName.size !== added.length) return [...base.filter((route) => !byName.has(route.serviceName)), ...added];
  const result: Route[] = [];
  for (const route of base) {
    const replacement = byName.get(route.serviceName);
    if (replacement === undefined) result.push(route);
    else if (byName.delete(route.serviceName)) result.push(replacement);
  }
  return [...result, ...added.filter((route) => byName.get(route.serviceName) === route)];
}
