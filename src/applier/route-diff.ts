import type { Route } from '../route/route';

/** Names listed per kind in a log line; a first apply of 10,000 routes must not log them all. */
const LISTED = 20;

export interface RouteDiff {
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
}

/** Parameters keep the order the store gives them, which is stable for an unchanged route. */
function paramsKey(route: Route): string {
  return JSON.stringify(route.params);
}

/** Which services an apply added, changed (other parameters) and removed, by serviceName. */
export function diffRoutes(before: readonly Route[], after: readonly Route[]): RouteDiff {
  const old = new Map(before.map((route) => [route.serviceName, route]));
  const added: string[] = [];
  const changed: string[] = [];
  for (const route of after) {
    const previous = old.get(route.serviceName);
    if (previous === undefined) added.push(route.serviceName);
    // The applier's EntryParser hands out the same Route for unchanged parameters: no JSON then.
    else if (previous !== route && paramsKey(previous) !== paramsKey(route)) changed.push(route.serviceName);
    old.delete(route.serviceName);
  }
  return { added, changed, removed: [...old.keys()] };
}

function listed(names: readonly string[]): string[] {
  return names.length <= LISTED ? [...names] : [...names.slice(0, LISTED), `... and ${names.length - LISTED} more`];
}

/** The diff as log fields: counts, and the names (at most LISTED of each kind). */
export function diffFields(diff: RouteDiff): Record<string, unknown> {
  return {
    added: listed(diff.added),
    changed: listed(diff.changed),
    removed: listed(diff.removed),
    counts: { added: diff.added.length, changed: diff.changed.length, removed: diff.removed.length },
  };
}
