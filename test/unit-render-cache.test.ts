import { loadTemplates, Templates } from '../src/render';
import type { RenderResult } from '../src/render/types';
import { EntryParser, withRoutes } from '../src/route/entries';
import { parseRoute } from '../src/route/params';
import type { Route, RouteParams } from '../src/route/route';
import { aclTemplates, loopbackSettings, shippedTemplates } from './helpers/render';
import { seededRandom } from './helpers/random';
import { removeTempDirs } from './helpers/tmp';

/**
 * The render keeps what it built before (the parts of unchanged routes, the whole view when only
 * route map entries move); whatever sequence of changes comes, its result must be byte for byte
 * what a fresh template set renders from nothing.
 */

afterAll(removeTempDirs);

const NAMES = ['api', 'web', 'shop', 'docs', 'admin', 'blog', 'mail', 'zeta'];
const PATHS = ['/a', '/b', '/a/deep', '/', '/.well-known/x', '/a,/b', '/c;d', '/shop/v2'];
const DOMAINS = ['', '', 'a.test', 'B.test', 'a.test:8080', '*.w.test', '*.a.w.test', 'a.test,*.w.test'];

type Rand = () => number;
const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)];

/** Parameters only a map entry depends on, for a route that keeps everything else. */
function movePathOrDomain(rand: Rand, params: RouteParams): Record<string, string> {
  const next: Record<string, string> = { ...params };
  const key = pick(rand, ['servicePath', 'serviceDomain', 'servicePath.1']);
  const value = key === 'serviceDomain' ? pick(rand, DOMAINS) : pick(rand, PATHS);
  if (value === '' || (key === 'servicePath.1' && next['port.1'] === undefined)) delete next[key];
  else next[key] = value;
  return next;
}

/** Any route: plain ones (in the maps) and every kind that keeps ACL lines or changes the view. */
function anyRoute(rand: Rand, serviceName: string): Record<string, string> {
  const params: Record<string, string> = { serviceName, port: pick(rand, ['1', '2', '3']) };
  const path = pick(rand, [...PATHS, '']);
  if (path !== '') params.servicePath = path;
  const domain = pick(rand, DOMAINS);
  if (domain !== '') params.serviceDomain = domain;
  if (params.servicePath === undefined && params.serviceDomain === undefined) params.servicePath = '/x';
  const extras: [number, () => void][] = [
    [0.15, () => (params.pathType = pick(rand, ['path', 'path_reg', 'path_end']))],
    [0.1, () => (params.aclName = pick(rand, ['aaa', 'zzz', 'api']))],
    [0.1, () => (params.serviceHeader = 'X-A:1')],
    [0.15, () => Object.assign(params, { 'port.1': '4', 'servicePath.1': pick(rand, PATHS) })],
    [0.05, () => (params.replicas = '0')],
    [0.05, () => (params.httpsPort = '8443')],
    [0.05, () => (params.isDefaultBackend = 'true')],
    [0.05, () => (params.users = 'u:p')],
    [0.05, () => (params.redirectFromDomain = 'old.test')],
    [0.05, () => (params.addReqHeader = 'X-B b')],
  ];
  for (const [chance, apply] of extras) if (rand() < chance) apply();
  return params;
}

function tryParse(params: RouteParams): Route | undefined {
  try {
    return parseRoute(params);
  } catch {
    return undefined;
  }
}

function comparable(result: RenderResult): unknown {
  return { config: result.config, problems: result.problems, maps: result.maps.map((map) => ({ file: map.file, entries: [...map.entries] })) };
}

function runSequence(seed: number, templates: Templates, steps: number): void {
  const rand = seededRandom(seed);
  const settings = loopbackSettings(18080);
  const stored = new Map<string, RouteParams>();
  const parser = new EntryParser();
  for (const name of NAMES.slice(0, 5)) stored.set(name, anyRoute(rand, name));
  for (let step = 0; step < steps; step++) {
    const name = pick(rand, NAMES);
    const before = stored.get(name);
    const roll = rand();
    let params: RouteParams | undefined;
    if (before && roll < 0.6) params = movePathOrDomain(rand, before);
    else if (before && roll < 0.7) stored.delete(name);
    else params = anyRoute(rand, name);
    if (params && tryParse(params)) stored.set(name, params);
    const entries = [...stored].sort(([a], [b]) => (a < b ? -1 : 1)).map(([serviceName, p]) => ({ serviceName, params: p }));
    let routes: readonly Route[] = parser.entries(entries).routes;
    // The API's check: the live routes with one changed route put in.
    const candidate = rand() < 0.3 ? tryParse(anyRoute(rand, pick(rand, NAMES))) : undefined;
    if (candidate) routes = withRoutes(routes, [candidate]);
    const fresh = loadTemplates(templates.dir).renderWithProblems(routes, settings);
    expect({ seed, step, ...(comparable(templates.renderWithProblems(routes, settings)) as object) }).toEqual({ seed, step, ...(comparable(fresh) as object) });
  }
}

describe('render after a sequence of route changes', () => {
  it('gives with the shipped templates (route maps) what a fresh template set gives, step by step', () => {
    for (const seed of [1, 2, 3]) runSequence(seed, loadTemplates(shippedTemplates().dir), 80);
  });

  it('gives with templates that route by ACLs only what a fresh template set gives, step by step', () => {
    for (const seed of [4, 5]) runSequence(seed, loadTemplates(aclTemplates().dir), 60);
  });
});
