import * as fs from 'fs';
import * as http from 'http';
import { MasterCli } from '../src/haproxy/master-cli';
import { routeMapFiles } from '../src/render/route-maps';
import { Backend, request, startBackend } from './helpers/backends';
import { removeTempDirs } from './helpers/tmp';
import { Harness, snapshotOf, startHarness } from './fixtures/applier-harness';

/**
 * Route changes that only move map entries go live through the Runtime API, without a reload:
 * the map files are written first, the worker changed entry by entry (or a whole map in one
 * commit), checked, and a refused command falls back to a reload of the files. A forced reload
 * afterwards serves exactly what the runtime changes served.
 */

let one: Backend;
let two: Backend;
let harness: Harness;
let index = 0;

function route(name: 'one' | 'two', params: Record<string, string>): Record<string, string> {
  const backend = name === 'one' ? one : two;
  return { serviceName: name, port: String(backend.port), outboundHostname: '127.0.0.1', ...params };
}

/** Apply a snapshot of `routes` and wait until it is live; the outcome of that apply. */
async function apply(routes: Record<string, string>[]): Promise<string | undefined> {
  index++;
  const before = harness.reports.length;
  harness.applier.submit(snapshotOf(index, routes));
  await harness.applier.waitForIndex(index, 20000);
  return harness.reports.slice(before).at(-1)?.outcome;
}

async function workers(): Promise<readonly number[]> {
  return (await new MasterCli(harness.haproxy.masterSocket, 5000).showProc()).workers;
}

async function worker(command: string): Promise<string> {
  return new MasterCli(harness.haproxy.masterSocket, 5000).command(`@1 ${command}`);
}

async function backendOf(path: string, host?: string): Promise<string> {
  const answer = await request(`${harness.base}${path}`, { headers: host ? { Host: host } : {} });
  return answer.backend ?? String(answer.status);
}

/** What a fixed set of requests gets: the proof that two states serve the same. */
async function served(): Promise<string[]> {
  const probes: [string, string?][] = [
    ['/a/x'],
    ['/b/x'],
    ['/c/x'],
    ['/d'],
    ['/d/x'],
    ['/x', 'one.test'],
    ['/x', 'two.test'],
    ['/x', 'q.wild.test'],
    ['/x', 'q.deep.wild.test'],
    ['/x', 'one.test:8080'],
  ];
  const answers: string[] = [];
  for (const [path, host] of probes) answers.push(`${host ?? ''}${path} ${await backendOf(path, host)}`);
  return answers;
}

beforeAll(async () => {
  one = await startBackend('one');
  two = await startBackend('two');
  harness = await startHarness({ RECONCILE_INTERVAL: '0' });
});

afterAll(async () => {
  await harness?.applier.stop();
  await one?.close();
  await two?.close();
  removeTempDirs();
});

it('reloads for the first mapped routes (the config gains the map lines), then moves a path without a reload', async () => {
  expect(await apply([route('one', { servicePath: '/a' }), route('two', { servicePath: '/b' })])).toBe('success');
  expect(await backendOf('/a/x')).toBe('one');
  const before = await workers();
  expect(await apply([route('one', { servicePath: '/a' }), route('two', { servicePath: '/c' })])).toBe('runtime');
  expect(await backendOf('/c/x')).toBe('two');
  expect(await backendOf('/b/x')).toBe('503');
  expect(await workers()).toEqual(before);
  // The files were written first: they hold what the worker serves.
  expect(fs.readFileSync(routeMapFiles(harness.settings.stateDir).prefix, 'utf8')).toBe(`/a one-be${one.port}\n/c two-be${two.port}\n`);
});

it('adds and removes hosts, exact paths, hosts with ports and wildcards without a reload', async () => {
  const before = await workers();
  const hosts = [route('one', { serviceDomain: 'one.test:8080,*.wild.test' }), route('two', { servicePath: '/c', serviceDomain: 'two.test,*.deep.wild.test' })];
  expect(await apply(hosts)).toBe('runtime');
  expect(await served()).toEqual([
    '/a/x 503',
    '/b/x 503',
    '/c/x 503',
    '/d 503',
    '/d/x 503',
    'one.test/x 503',
    'two.test/x 503',
    'q.wild.test/x one',
    // *.deep.wild.test has only /c: its other paths are those of *.wild.test, which covers it.
    'q.deep.wild.test/x one',
    'one.test:8080/x one',
  ]);
  expect(await backendOf('/c/x', 'two.test')).toBe('two');
  expect(await backendOf('/c/x', 'q.deep.wild.test')).toBe('two');
  expect(await apply([hosts[0], route('two', { servicePath: '/d', pathType: 'path' })])).toBe('runtime');
  expect(await backendOf('/d')).toBe('two');
  expect(await backendOf('/d/x')).toBe('503');
  expect(await backendOf('/c/x', 'two.test')).toBe('503');
  expect(await backendOf('/x', 'q.deep.wild.test')).toBe('one');
  expect(await workers()).toEqual(before);
});

it('replaces a whole map in one commit when many entries change', async () => {
  const paths = (prefix: string) => Array.from({ length: 150 }, (_, i) => `/${prefix}${i}`).join(',');
  expect(['success', 'runtime']).toContain(await apply([route('one', { servicePath: paths('p') }), route('two', { servicePath: '/d', pathType: 'path' })]));
  const before = await workers();
  expect(await apply([route('one', { servicePath: paths('q') }), route('two', { servicePath: '/d', pathType: 'path' })])).toBe('runtime');
  expect(await workers()).toEqual(before);
  expect(await backendOf('/q149/x')).toBe('one');
  expect(await backendOf('/p149/x')).toBe('503');
  const shown = await worker(`show map ${routeMapFiles(harness.settings.stateDir).prefix}`);
  expect(shown.trim().split('\n')).toHaveLength(150);
});

it('reaches a keep-alive connection on its next request', async () => {
  const routes = (path: string) => [route('one', { servicePath: '/a' }), route('two', { servicePath: path })];
  expect(['success', 'runtime']).toContain(await apply(routes('/b')));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string) =>
    new Promise<{ backend: string; socket: unknown }>((resolve, reject) => {
      const req = http.get(`${harness.base}${path}`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ backend: String(res.headers['x-backend'] ?? res.statusCode), socket: req.socket }));
      });
      req.on('error', reject);
    });
  try {
    const first = await get('/b/x');
    expect(first.backend).toBe('two');
    expect(await apply(routes('/e'))).toBe('runtime');
    const next = await get('/e/x');
    expect(next.backend).toBe('two');
    expect(next.socket).toBe(first.socket);
  } finally {
    agent.destroy();
  }
});

it('falls back to a reload when HAProxy refuses a runtime change, and serves the files', async () => {
  expect(['success', 'runtime']).toContain(await apply([route('one', { servicePath: '/x' }), route('two', { servicePath: '/y' })]));
  // Someone removed an entry by hand: the swap's `set map` of that key is refused.
  await worker(`del map ${routeMapFiles(harness.settings.stateDir).prefix} /x`);
  const before = await workers();
  expect(await apply([route('one', { servicePath: '/y' }), route('two', { servicePath: '/x' })])).toBe('success');
  expect(await workers()).not.toEqual(before);
  expect(await backendOf('/x/1')).toBe('two');
  expect(await backendOf('/y/1')).toBe('one');
});

it('serves exactly the same after a forced reload as after a sequence of runtime changes', async () => {
  const base = [route('one', { servicePath: '/a' }), route('two', { servicePath: '/b' })];
  expect(['success', 'runtime']).toContain(await apply(base));
  const sequence = [
    [route('one', { servicePath: '/a,/d', serviceDomain: 'one.test' }), route('two', { servicePath: '/b' })],
    [route('one', { servicePath: '/a', serviceDomain: '*.wild.test' }), route('two', { servicePath: '/b', serviceDomain: 'two.test' })],
    [route('one', { servicePath: '/c', serviceDomain: '*.wild.test,one.test:8080' }), route('two', { servicePath: '/a', serviceDomain: '*.deep.wild.test' })],
    [route('one', { servicePath: '/c,/x', serviceDomain: '*.wild.test,one.test:8080' }), route('two', { servicePath: '/a,/d' })],
  ];
  for (const routes of sequence) expect(await apply(routes)).toBe('runtime');
  const beforeReload = await served();
  const files = routeMapFiles(harness.settings.stateDir);
  const entries = (text: string) =>
    text
      .replace(/0x[0-9a-f]+ /g, '')
      .split('\n')
      .filter(Boolean)
      .sort();
  const shown = async () => [entries(await worker(`show map ${files.prefix}`)), entries(await worker(`show map ${files.wildcards}`))];
  const mapsBefore = await shown();
  expect((await harness.applier.applyNow()).outcome).toBe('success');
  expect(await served()).toEqual(beforeReload);
  expect(await shown()).toEqual(mapsBefore);
  expect(beforeReload).toContain('/d two');
  expect(beforeReload).toContain('q.wild.test/x one');
});
