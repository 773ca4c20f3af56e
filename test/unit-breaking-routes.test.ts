import { findBreakingRoutes } from '../src/applier/breaking-routes';
import { ConfigRejected } from '../src/errors';
import { parseRoute } from '../src/route/params';
import type { Route } from '../src/route/route';

/** The bisection that finds the routes HAProxy rejects, against a fake `haproxy -c`. */
function route(name: string): Route {
  return parseRoute({ serviceName: name, servicePath: `/${name}`, port: '80' });
}

/** A fake check: rejects any set that holds a route named in `bad`, or both routes of a clashing pair. */
function fakeCheck(bad: readonly string[], clash: readonly [string, string][] = []) {
  const calls: string[][] = [];
  const check = async (routes: readonly Route[]): Promise<void> => {
    const names = routes.map((r) => r.serviceName);
    calls.push(names);
    const broken = names.find((name) => bad.includes(name));
    if (broken) throw new ConfigRejected('HAProxy rejected the configuration', `route ${broken} is broken`);
    const pair = clash.find(([a, b]) => names.includes(a) && names.includes(b));
    if (pair) throw new ConfigRejected('HAProxy rejected the configuration', `${pair[0]} clashes with ${pair[1]}`);
  };
  return { check, calls };
}

describe('findBreakingRoutes', () => {
  const routes = Array.from({ length: 16 }, (_, i) => route(`r${i}`));

  it('finds nothing, with one check, when the whole set passes', async () => {
    const { check, calls } = fakeCheck([]);
    expect(await findBreakingRoutes(check, [], routes)).toEqual([]);
    expect(calls).toHaveLength(1);
  });

  it('finds one bad route among many in about 2 log2(n) checks, with its reason', async () => {
    const { check, calls } = fakeCheck(['r11']);
    const found = await findBreakingRoutes(check, [], routes);
    expect(found.map((b) => b.route.serviceName)).toEqual(['r11']);
    expect(found[0].reason).toBe('route r11 is broken');
    expect(calls.length).toBeLessThanOrEqual(2 * Math.log2(routes.length) + 1);
  });

  it('finds every bad route', async () => {
    const { check } = fakeCheck(['r0', 'r7', 'r15']);
    const found = await findBreakingRoutes(check, [], routes);
    expect(found.map((b) => b.route.serviceName)).toEqual(['r0', 'r7', 'r15']);
  });

  it('blames the later route of two that only clash together, and keeps the known ones in every check', async () => {
    const known = [route('known')];
    const { check, calls } = fakeCheck([], [['r3', 'r12']]);
    const found = await findBreakingRoutes(check, known, routes);
    expect(found.map((b) => b.route.serviceName)).toEqual(['r12']);
    expect(calls.every((names) => names.includes('known'))).toBe(true);
  });

  it('passes on an error that is not a rejection', async () => {
    const failing = async () => {
      throw new Error('cannot run haproxy');
    };
    await expect(findBreakingRoutes(failing, [], routes)).rejects.toThrow('cannot run haproxy');
  });
});
