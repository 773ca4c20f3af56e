import * as fs from 'fs';
import * as net from 'net';
import { ConfigRejected, NotLive } from '../src/errors';
import { parseRoute } from '../src/route/params';
import type { Route, RouteParams } from '../src/route/route';
import { Applier } from '../src/applier';
import { loadTemplates } from '../src/render';
import { DEFAULT_TEMPLATES_DIR } from '../src/settings';
import { Backend, request, startBackend } from './helpers/backends';
import { freePort } from './helpers/ports';
import { removeTempDirs, tempDir } from './helpers/tmp';
import { ChildHaproxy } from '../src/haproxy/process';
import type { HaproxyControl } from '../src/haproxy/control';
import { silentLogger } from '../src/logger';
import { Harness, routeTo, shippedRender, snapshotOf, startHarness } from './fixtures/applier-harness';

/**
 * Nothing HAProxy refuses ever replaces the live config. A route the parser lets through but
 * HAProxy rejects is left out and reported; the others go live.
 */

let good: Backend;
let harness: Harness;

/**
 * Regexes are HAProxy's to judge, so a stored route may hold one HAProxy refuses (a hand edit of
 * the store skips the API's check): here every `breaks` route gets a variable-length lookbehind.
 */
function parseLettingThroughBadRegex(params: RouteParams): Route {
  const route = parseRoute(params);
  if (!route.serviceName.startsWith('breaks')) return route;
  return { ...route, destinations: route.destinations.map((d) => ({ ...d, pathRewrites: [{ search: '(?<=a+)b', replace: '/x' }] })) };
}

beforeAll(async () => {
  good = await startBackend('good');
  harness = await startHarness();
  const report = await harness.applier.applyNow(snapshotOf(1, [routeTo('good', good)]));
  expect(report.outcome).toBe('success');
});

afterAll(async () => {
  await harness?.applier.stop();
  await good?.close();
  removeTempDirs();
});

function liveFile(): string {
  return fs.readFileSync(harness.settings.haproxyConfig, 'utf8');
}

it('leaves out a route whose parameters are invalid, reports it, and serves the others', async () => {
  const report = await harness.applier.applyNow(
    snapshotOf(
      2,
      [routeTo('good', good), routeTo('other', good), { serviceName: 'bad', port: 'eighty' }],
      [{ serviceName: 'garbled', params: null, error: 'not JSON' }],
    ),
  );
  expect(report.outcome).toBe('success');
  expect(report.invalid.map((i) => i.serviceName).sort()).toEqual(['bad', 'garbled']);
  expect(report.invalid.find((i) => i.serviceName === 'bad')?.reason).toMatch(/port/);
  expect(harness.applier.state().invalid).toEqual(report.invalid);
  expect((await request(`${harness.base}/other`)).backend).toBe('good');
});

it('never lets a config that fails validation replace the live one', async () => {
  const before = liveFile();
  const snapshot = snapshotOf(3, [routeTo('good', good), routeTo('never', good)]);
  const templates = loadTemplates(DEFAULT_TEMPLATES_DIR);
  const report = await harness.applier.setRender((routes) =>
    templates.render(routes, harness.settings).replace('\ndefaults\n', '\ndefaults\n    bogus-keyword\n'),
  );
  expect(report.outcome).toBe('rejected');
  expect(report.error).toMatch(/bogus-keyword/);
  harness.applier.submit(snapshot);
  await expect(harness.applier.waitForIndex(3, 500)).rejects.toBeInstanceOf(NotLive);
  expect(liveFile()).toBe(before);
  expect(harness.applier.state().config).toBe(before);
  expect((await request(`${harness.base}/good`)).backend).toBe('good');
  const fixed = await harness.applier.setRender(shippedRender(harness.settings));
  expect(fixed.outcome).toBe('success');
  expect((await request(`${harness.base}/never`)).backend).toBe('good');
});

describe('a route that breaks haproxy -c', () => {
  let applier: Applier;

  afterAll(async () => applier?.stop());

  it("is found among many, left out and reported with HAProxy's message, while the others go live", async () => {
    await harness.applier.stop();
    applier = new Applier({
      settings: harness.settings,
      haproxy: harness.haproxy,
      parse: parseLettingThroughBadRegex,
      render: shippedRender(harness.settings),
    });
    await applier.start();
    const routes = Array.from({ length: 30 }, (_, n) => routeTo(n === 17 ? 'breaks-17' : `ok-${n}`, good));
    const report = await applier.applyNow(snapshotOf(10, routes));
    expect(report.outcome).toBe('success');
    expect(report.routes).toBe(29);
    expect(report.invalid).toHaveLength(1);
    expect(report.invalid[0].serviceName).toBe('breaks-17');
    expect(report.invalid[0].reason).toMatch(/rejected by haproxy -c: .*(lookbehind|regex)/i);
    expect(applier.state().index).toBe(10);
    expect((await request(`${harness.base}/ok-29`)).backend).toBe('good');
    expect((await request(`${harness.base}/breaks-17`)).status).toBe(503);
  });

  it("is refused by checkCandidate with HAProxy's own message", async () => {
    const bad = parseLettingThroughBadRegex(routeTo('breaks-api', good));
    const error = await applier.checkCandidate([bad]).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ConfigRejected);
    expect((error as ConfigRejected).detail).toMatch(/lookbehind|regex/i);
    await expect(applier.checkCandidate([parseRoute(routeTo('fine', good))])).resolves.toBeUndefined();
  });

  it('leaves out a route whose srcPort another process holds, with the reason, and serves the others (no failed reload)', async () => {
    const taken = await freePort();
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(taken, '127.0.0.1', resolve));
    try {
      const clash = routeTo('clash', good, { reqMode: 'tcp', srcPort: String(taken) });
      delete clash.servicePath;
      const report = await applier.applyNow(snapshotOf(11, [routeTo('ok-1', good), clash]));
      expect(report.outcome).toBe('success');
      expect(report.invalid).toEqual([
        { serviceName: 'clash', parameter: 'srcPort', reason: expect.stringContaining('cannot bind socket (Address already in use)') },
      ]);
      expect((await request(`${harness.base}/ok-1`)).backend).toBe('good');
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });

  it('restores the last-known-good config when HAProxy fails to load a checked config', async () => {
    const taken = await freePort();
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(taken, '127.0.0.1', resolve));
    const shipped = shippedRender(harness.settings);
    try {
      const before = liveFile();
      const index = applier.state().index;
      // A port of the templates' own (no route to leave out): the reload fails and is rolled back.
      await applier.setRender((routes, tls) => {
        const rendered = shipped(routes, tls);
        const config = typeof rendered === 'string' ? rendered : rendered.config;
        return `${config}\nfrontend squatted\n    mode tcp\n    bind 127.0.0.1:${taken}\n`;
      });
      const report = await applier.applyNow(snapshotOf(index + 1, [routeTo('ok-1', good), routeTo('ok-2', good)]));
      expect(report.outcome).toBe('failed');
      expect(report.error).toMatch(/could not load/);
      expect(liveFile()).toBe(before);
      expect(applier.state().index).toBe(index);
      expect((await request(`${harness.base}/ok-1`)).backend).toBe('good');
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
    await applier.setRender(shipped);
    const next = await applier.applyNow(snapshotOf(12, [routeTo('ok-1', good), routeTo('after', good)]));
    expect(next.outcome).toBe('success');
    expect((await request(`${harness.base}/after`)).backend).toBe('good');
  });
});

describe('a reload HAProxy refuses because a route cannot bind its srcPort', () => {
  const squatter = net.createServer();
  let applier: Applier | undefined;

  afterAll(async () => {
    await applier?.stop();
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
  });

  it("leaves out the route HAProxy names (its port was taken after the probe), with HAProxy's reason, and installs the rest", async () => {
    const port = await freePort();
    const stateDir = tempDir('unbound-');
    const child = new ChildHaproxy({ bin: 'haproxy', stateDir, logger: silentLogger(), stopGraceMs: 1000 });
    let squat = true;
    // A real HAProxy; the only twist is when the port is taken: between the probe and the reload.
    const control: HaproxyControl = {
      get masterSocket() {
        return child.masterSocket;
      },
      start: (configPath) => child.start(configPath),
      reload: async () => {
        if (squat) {
          squat = false;
          await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
        }
        return child.reload();
      },
      stop: () => child.stop(),
      running: () => child.running(),
      responsive: (timeoutMs) => child.responsive(timeoutMs),
      onExit: (listener) => child.onExit(listener),
    };
    const unbound = await startHarness({ STATE_DIR: stateDir }, control);
    applier = unbound.applier;
    const late = routeTo('late', good, { reqMode: 'tcp', srcPort: String(port) });
    delete late.servicePath;
    const report = await unbound.applier.applyNow(snapshotOf(1, [routeTo('kept', good), late]));
    expect(report.outcome).toBe('success');
    expect(report.invalid).toEqual([
      { serviceName: 'late', parameter: 'srcPort', reason: expect.stringMatching(/cannot bind socket \(Address already in use\) for \[127\.0\.0\.1:\d+\]/) },
    ]);
    expect((await request(`${unbound.base}/kept`)).backend).toBe('good');
  });
});
