import { ConfigRejected } from '../errors';
import type { Route } from '../route/route';

/** Checks the config rendered from these routes; throws ConfigRejected when HAProxy refuses it. */
export type CheckRoutes = (routes: readonly Route[]) => Promise<void>;

export interface BreakingRoute {
  readonly route: Route;
  /** HAProxy's message for the config with this route added to the accepted ones. */
  readonly reason: string;
}

async function accepted(check: CheckRoutes, routes: readonly Route[]): Promise<ConfigRejected | undefined> {
  try {
    await check(routes);
    return undefined;
  } catch (error) {
    if (error instanceof ConfigRejected) return error;
    throw error;
  }
}

/**
 * Bisection: the routes of `suspects` whose presence makes HAProxy reject a config that it
 * accepts with `known` alone. Halves that pass are cleared with one check, so a single bad route
 * among n costs about 2 log2(n) checks. A route that only clashes with another is blamed on the
 * later one in `suspects` order.
 */
export async function findBreakingRoutes(check: CheckRoutes, known: readonly Route[], suspects: readonly Route[]): Promise<BreakingRoute[]> {
  if (suspects.length === 0) return [];
  const rejection = await accepted(check, [...known, ...suspects]);
  if (!rejection) return [];
  if (suspects.length === 1) return [{ route: suspects[0], reason: rejection.detail || rejection.message }];
  const middle = Math.ceil(suspects.length / 2);
  const first = suspects.slice(0, middle);
  const badFirst = await findBreakingRoutes(check, known, first);
  const goodFirst = first.filter((route) => !badFirst.some((bad) => bad.route === route));
  const badSecond = await findBreakingRoutes(check, [...known, ...goodFirst], suspects.slice(middle));
  return [...badFirst, ...badSecond];
}
