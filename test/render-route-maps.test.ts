import * as fs from 'fs';
import { Backend, request, startBackend } from './helpers/backends';
import { RunningHaproxy, startHaproxy } from './helpers/haproxy';
import { freePort } from './helpers/ports';
import { aclTemplates, loopbackSettings, renderChecked } from './helpers/render';
import { routeMapFiles } from '../src/render/route-maps';
import { parseRoute } from '../src/route';
import { Settings } from '../src/settings';

/**
 * Map-based routing, through a real HAProxy: which route wins when routes overlap (the most
 * specific host, then an exact path, then the longest prefix), hosts with ports and wildcards,
 * and how the routes that keep ACL lines (regex paths, header matchers, `/.well-known`, a root
 * path without a domain) come before or after the maps.
 */

const NAMES = [
  'api',
  'api-v2',
  'api-v2-exact',
  'root',
  'site',
  'site-api',
  'ported',
  'wild',
  'wild-deep',
  'wild-path',
  'regex',
  'header',
  'acme',
  'first',
  'second',
  'upper',
  'semi',
] as const;
type Name = (typeof NAMES)[number];

const backends = {} as Record<Name, Backend>;
let haproxy: RunningHaproxy;
let base: string;
let settings: Settings;

function to(name: Name, params: Record<string, string>): Record<string, string> {
  return { serviceName: name, port: String(backends[name].port), outboundHostname: '127.0.0.1', ...params };
}

async function backendOf(urlPath: string, host?: string, headers: Record<string, string> = {}): Promise<string | undefined> {
  const answer = await request(`${base}${urlPath}`, { headers: { ...(host ? { Host: host } : {}), ...headers } });
  return answer.status === 200 ? answer.backend : String(answer.status);
}

const ROUTES = (): Record<string, string>[] => [
  // Overlapping prefixes without a domain: the longest wins, whatever the aclName order says.
  to('api', { aclName: 'zz-api', servicePath: '/api' }),
  to('api-v2', { aclName: 'aa-api-v2', servicePath: '/api/v2' }),
  to('api-v2-exact', { servicePath: '/api/v2/status', pathType: 'path' }),
  to('root', { aclName: 'aaa-root', servicePath: '/' }),
  // A host: its routes win over routes without one, then the longest path within it.
  to('site', { serviceDomain: 'Site.Test' }),
  to('site-api', { serviceDomain: 'site.test', servicePath: '/api' }),
  to('ported', { serviceDomain: 'site.test:8080', servicePath: '/api' }),
  to('wild', { serviceDomain: '*.wild.test' }),
  to('wild-deep', { serviceDomain: '*.deep.wild.test' }),
  to('wild-path', { serviceDomain: '*.wild.test', servicePath: '/only' }),
  // ACL routes: tried before the maps.
  to('regex', { servicePath: '^/api/v[0-9]+/regex', pathType: 'path_reg' }),
  to('header', { servicePath: '/api', serviceHeader: 'X-Canary:yes' }),
  to('acme', { servicePath: '/.well-known/acme-challenge' }),
  // Two routes with one key: the first in aclName order keeps it, as with ACLs.
  to('second', { aclName: 'b', servicePath: '/same' }),
  to('first', { aclName: 'a', servicePath: '/same' }),
  // Paths are case-sensitive, hosts are not.
  to('upper', { servicePath: '/Upper' }),
  // `;` separates Runtime API commands: such a path keeps its ACL.
  to('semi', { servicePath: '/semi;x' }),
];

beforeAll(async () => {
  for (const name of NAMES) backends[name] = await startBackend(name);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  settings = loopbackSettings(port);
  haproxy = await startHaproxy(renderChecked(ROUTES(), settings));
});

afterAll(async () => {
  await haproxy?.stop();
  for (const backend of Object.values(backends)) await backend?.close();
});

describe('map-based routing', () => {
  it('writes the plain routes to the maps and keeps ACL lines for the others', () => {
    const files = routeMapFiles(settings.stateDir);
    const prefix = fs.readFileSync(files.prefix, 'utf8');
    expect(prefix).toContain('/api/v2 api-v2-be');
    expect(prefix).toContain('site.test/ site-be');
    expect(fs.readFileSync(files.exact, 'utf8')).toContain('/api/v2/status api-v2-exact-be');
    expect(fs.readFileSync(files.wildcards, 'utf8').split('\n')[0]).toBe('.deep.wild.test *.deep.wild.test');
    const config = fs.readFileSync(haproxy.configPath, 'utf8');
    expect(config).not.toContain('acl url_zz-api');
    expect(config).toMatch(/acl url_regex\d+ path_reg/);
    expect(config).toMatch(/acl url_semi\d+ path_beg -- '\/semi;x'/);
  });

  it('sends a request to the longest matching path prefix, not to the first route in aclName order', async () => {
    expect(await backendOf('/api/users')).toBe('api');
    expect(await backendOf('/api/v2/users')).toBe('api-v2');
    expect(await backendOf('/api/v2')).toBe('api-v2');
    // A prefix is a prefix of the path text, as path_beg: /apix is under /api.
    expect(await backendOf('/apix')).toBe('api');
    expect(await backendOf('/elsewhere')).toBe('root');
  });

  it('prefers an exact path to any prefix', async () => {
    expect(await backendOf('/api/v2/status')).toBe('api-v2-exact');
    expect(await backendOf('/api/v2/status/more')).toBe('api-v2');
  });

  it('routes by host first (case-insensitive), then by path within the host', async () => {
    expect(await backendOf('/api/x', 'site.test')).toBe('site-api');
    expect(await backendOf('/other', 'SITE.test')).toBe('site');
    expect(await backendOf('/api/v2/x', 'site.test')).toBe('site-api');
    expect(await backendOf('/api/v2/x', 'other.test')).toBe('api-v2');
  });

  it('matches a domain with a port only on that port, and a domain without one on any port', async () => {
    expect(await backendOf('/api/x', 'site.test:8080')).toBe('ported');
    expect(await backendOf('/api/x', 'site.test:9090')).toBe('site-api');
    expect(await backendOf('/other', 'site.test:8080')).toBe('site');
  });

  it('matches wildcard domains by suffix, the longest suffix first', async () => {
    expect(await backendOf('/', 'a.wild.test')).toBe('wild');
    expect(await backendOf('/', 'a.b.wild.test:81')).toBe('wild');
    expect(await backendOf('/only/x', 'a.wild.test')).toBe('wild-path');
    expect(await backendOf('/', 'x.deep.wild.test')).toBe('wild-deep');
    expect(await backendOf('/', 'wild.test')).toBe('root');
    expect(await backendOf('/', 'wild.test.evil')).toBe('root');
  });

  it('tries the routes that keep ACLs first, and /.well-known before every host', async () => {
    expect(await backendOf('/api/v3/regex')).toBe('regex');
    expect(await backendOf('/api/x', undefined, { 'X-Canary': 'yes' })).toBe('header');
    expect(await backendOf('/.well-known/acme-challenge/t', 'site.test')).toBe('acme');
  });

  it('gives a key two routes share to the first in aclName order', async () => {
    expect(await backendOf('/same/x')).toBe('first');
  });

  it('routes a path the maps cannot hold by its ACL', async () => {
    expect(await backendOf('/semi;x/1')).toBe('semi');
  });

  it('keeps paths case-sensitive', async () => {
    expect(await backendOf('/Upper/x')).toBe('upper');
    expect(await backendOf('/upper/x')).toBe('root');
  });

  it('keeps a root-path route that needs ACLs behind every mapped route', async () => {
    const rootByHeader = [...ROUTES().filter((r) => r.serviceName !== 'root'), to('root', { servicePath: '/', serviceHeader: 'X-Root:1' })];
    await haproxy.reload(renderChecked(rootByHeader, settings));
    try {
      expect(await backendOf('/api/x', undefined, { 'X-Root': '1' })).toBe('api');
      expect(await backendOf('/nothing', undefined, { 'X-Root': '1' })).toBe('root');
      expect(await backendOf('/nothing')).toBe('503');
    } finally {
      await haproxy.reload(renderChecked(ROUTES(), settings));
    }
  });
});

describe('templates without the map lines', () => {
  it('route every route by ACLs, so none is left unrouted', async () => {
    // A frontend template from before the maps: no {{#if routeMaps}} blocks.
    const old = aclTemplates().renderWithProblems(ROUTES().map(parseRoute), settings);
    expect(old.maps).toEqual([]);
    expect(old.config).not.toContain('routes-prefix.map');
    await haproxy.reload(old.config);
    try {
      expect(await backendOf('/api/users')).toBe('api');
      expect(await backendOf('/other', 'site.test')).toBe('site');
      expect(await backendOf('/', 'a.wild.test')).toBe('wild');
    } finally {
      await haproxy.reload(renderChecked(ROUTES(), settings));
    }
  });
});
