import * as fs from 'fs';
import { InvalidParameter, RouteConflict } from '../src/errors';
import { loadTemplates } from '../src/render';
import { mapText } from '../src/render/route-maps';
import { parseRoute, Route } from '../src/route';
import { loadSettings } from '../src/settings';
import { checkConfig } from './helpers/haproxy';
import { seededRandom as random } from './helpers/random';
import { tempDir } from './helpers/tmp';

/**
 * Random and hostile parameters, seeded so a failure can be replayed: set FUZZ_SEED to the seed
 * printed in the failure. The parser may only ever throw its own errors; whatever it accepts stays
 * on its config line (no control characters); and every accepted route without HAProxy-syntax values
 * (regexes, header values: HAProxy judges those, and the API's check refuses what it rejects) must
 * render to a config HAProxy accepts.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20261122);
const ITERATIONS = 20000;
const CONFIGS_TO_CHECK = 60;
const ROUTES_PER_CONFIG = 12;

const HOSTILE = [
  '',
  ' ',
  '\n',
  '\r\n',
  '\t',
  '\u0000',
  '\u007f',
  '\u2028',
  '#',
  "'",
  '"',
  '$',
  '${HOME}',
  '"$HOME"',
  '\\',
  '\\\\',
  '%',
  '%%',
  '%[src]',
  '%[dst_port]',
  '%[lua.evil]',
  '%[path]',
  '%[url]',
  '%[uuid]',
  'X-A %[path]',
  'X-B %[date]',
  '%[',
  '{{',
  '}}',
  '{{> x}}',
  '-i',
  '--',
  '-m reg',
  'backend evil',
  '\nbackend evil\n',
  ',',
  ',,',
  ':',
  '*',
  '*.',
  '/',
  '/.well-known',
  '/demo',
  '^/(.*)',
  '\\1',
  '(?<=a)b',
  '[]',
  '[^]',
  'a{2,1}',
  '(',
  ')',
  '[a-',
  '\\p{L}',
  'ü',
  '日本',
  '0',
  '1',
  '-1',
  '65535',
  '65536',
  '99999999999',
  '1e3',
  '0x10',
  'true',
  'false',
  'TRUE',
  'yes',
  'http',
  'tcp',
  'sni',
  'udp',
  'path_beg',
  'path_reg',
  'path_end',
  'path_sub',
  'path_dir',
  'path',
  'hdr(host)',
  'hdr_dom(host)',
  'a:b',
  'a:b,c:d',
  "a:b'c",
  'X-Foo bar',
  'X-Foo',
  'X-Foo bar baz',
  'X Foo bar',
  'a.test',
  '*a.test',
  'a.test:8080',
  '127.0.0.1',
  'localhost',
];

const NAMES = [
  'serviceName',
  'aclName',
  'servicePath',
  'port',
  'srcPort',
  'reqMode',
  'serviceDomain',
  'serviceDomainAlgo',
  'pathType',
  'outboundHostname',
  'httpsOnly',
  'redirectWhenHttpProto',
  'reqPathSearch',
  'reqPathReplace',
  'reqPathSearchReplace',
  'users',
  'usersPassEncrypted',
  'timeoutServer',
  'timeoutTunnel',
  'isDefaultBackend',
  'addReqHeader',
  'setReqHeader',
  'delReqHeader',
  'addResHeader',
  'setResHeader',
  'delResHeader',
  'distribute',
  'unknown',
];

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)];
}

function randomText(next: () => number): string {
  const length = Math.floor(next() * 12);
  let text = '';
  for (let i = 0; i < length; i++) {
    text += next() < 0.85 ? String.fromCharCode(0x20 + Math.floor(next() * 95)) : String.fromCharCode(Math.floor(next() * 0x300));
  }
  return text;
}

function randomValue(next: () => number): unknown {
  const roll = next();
  if (roll < 0.45) return pick(next, HOSTILE);
  if (roll < 0.6) return pick(next, HOSTILE) + pick(next, HOSTILE) + pick(next, HOSTILE);
  if (roll < 0.9) return randomText(next);
  if (roll < 0.95) return Math.floor(next() * 70000);
  return pick(next, [[], ['a', 'b'], { x: 1 }, null, true, 1.5, ['/x']]);
}

/** A valid route to start from, so that many mutated inputs are still accepted. */
function baseParams(next: () => number, n: number): Record<string, unknown> {
  // A loopback outboundHostname keeps haproxy -c fast: unresolvable names wait for DNS.
  const params: Record<string, unknown> = {
    serviceName: `svc-${n}`,
    port: String(1 + Math.floor(next() * 65535)),
    servicePath: '/s',
    outboundHostname: '127.0.0.1',
  };
  if (next() < 0.3) Object.assign(params, { reqMode: pick(next, ['tcp', 'sni']), srcPort: String(20000 + Math.floor(next() * 100)), serviceDomain: 'a.test' });
  return params;
}

function mutate(next: () => number, params: Record<string, unknown>): void {
  const changes = 1 + Math.floor(next() * 4);
  for (let i = 0; i < changes; i++) {
    const suffix = next() < 0.2 ? `.${Math.floor(next() * 12)}` : '';
    params[pick(next, NAMES) + suffix] = randomValue(next);
  }
}

/** Parameters whose values are HAProxy syntax, judged by `haproxy -c` rather than by the parser. */
const HAPROXY_SYNTAX = /^(reqPathSearch|reqPathReplace|reqPathSearchReplace|addReqHeader|setReqHeader|addResHeader|setResHeader)(\.\d+)?$/;

function holdsHaproxySyntax(route: Route): boolean {
  return Object.keys(route.params).some((name) => HAPROXY_SYNTAX.test(name)) || route.params.pathType === 'path_reg';
}

function isOwnError(error: unknown): boolean {
  return error instanceof InvalidParameter || error instanceof RouteConflict;
}

describe('route parameter fuzzing', () => {
  const accepted: Route[] = [];
  const withSyntax: Route[] = [];

  it(`throws only InvalidParameter or RouteConflict on ${ITERATIONS} random and hostile inputs (seed ${SEED})`, () => {
    const next = random(SEED);
    const unexpected: string[] = [];
    for (let n = 0; n < ITERATIONS; n++) {
      const params = baseParams(next, n);
      mutate(next, params);
      try {
        const route = parseRoute(params);
        if (holdsHaproxySyntax(route)) withSyntax.push(route);
        else accepted.push(route);
        expect(parseRoute(route.params)).toEqual(route);
      } catch (error) {
        if (!isOwnError(error)) unexpected.push(`${JSON.stringify(params)} -> ${String(error)}`);
      }
    }
    expect(unexpected).toEqual([]);
    // The fuzzer is only useful if it reaches both sides of the gate.
    expect(accepted.length).toBeGreaterThan(ITERATIONS / 20);
    expect(accepted.length).toBeLessThan(ITERATIONS * 0.9);
  });

  it('renders every sampled accepted route into a config that haproxy -c accepts', () => {
    const templates = loadTemplates(`${__dirname}/../templates`);
    const settings = loadSettings({ BIND_ADDRESS: '127.0.0.1', DEFAULT_PORTS: '20050,443:ssl', STATS_USER: 'u', STATS_PASS: 'p', STATE_DIR: tempDir('fuzz-') });
    const next = random(SEED + 1);
    const rejected: string[] = [];
    for (let c = 0; c < CONFIGS_TO_CHECK; c++) {
      const routes = Array.from({ length: ROUTES_PER_CONFIG }, () => pick(next, accepted));
      const { config, maps } = templates.renderWithProblems(routes, settings);
      // The route maps are checked too: HAProxy parses them with the config.
      for (const map of maps) fs.writeFileSync(map.file, mapText(map.entries));
      const check = checkConfig(config);
      if (!check.ok) rejected.push(`${check.output}\n${routes.map((r) => JSON.stringify(r.params)).join('\n')}`);
    }
    expect(rejected).toEqual([]);
  });

  it('keeps every accepted HAProxy-syntax value on its own config line (no control characters)', () => {
    const templates = loadTemplates(`${__dirname}/../templates`);
    const settings = loadSettings({ BIND_ADDRESS: '127.0.0.1', DEFAULT_PORTS: '20050' });
    expect(withSyntax.length).toBeGreaterThan(50);
    const config = templates.render(withSyntax, settings);
    const controls = [...config].filter((c) => c !== '\n' && (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f));
    expect(controls).toEqual([]);
  });
});
