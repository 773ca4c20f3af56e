import * as fs from 'fs';
import * as http from 'http';
import { MasterCli } from '../src/haproxy/master-cli';
import { Backend, request, startBackend } from './helpers/backends';
import { RunningDnsmasq, startDnsmasq } from './helpers/dnsmasq';
import { freePort, waitFor } from './helpers/ports';
import { removeTempDirs } from './helpers/tmp';
import { Harness, snapshotOf, startHarness } from './fixtures/applier-harness';

/**
 * A route whose server moves to another address (outboundHostname: an IP address, or a host name
 * HAProxy resolves) while the rest of the config stays goes live through the Runtime API, without
 * a reload: the config file first, then `set server ... addr` (and `fqdn` for a name), checked with
 * `show servers state`. Anything the worker cannot be brought to reloads the files instead.
 */

let alpha: Backend;
let beta: Backend;
let other: Backend;
let dns: RunningDnsmasq;
let harness: Harness;
let index = 0;
let port: number;

function route(outboundHostname: string, servicePort = port): Record<string, string> {
  return { serviceName: 'svc', servicePath: '/svc', port: String(servicePort), outboundHostname };
}

/** Apply a snapshot with `routes` and wait until it is live; the outcome of that apply. */
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

/** `<fqdn> <address>:<port>` of the route's server as the worker holds it. */
async function serverState(servicePort = port): Promise<string> {
  const line = (await worker(`show servers state svc-be${servicePort}`)).split('\n').find((l) => / svc-be\d+ \d+ svc /.test(l));
  const fields = line?.trim().split(' ') ?? [];
  return `${fields[17]} ${fields[4]}:${fields[18]}`;
}

async function backendOf(path = '/svc/x'): Promise<string> {
  const answer = await request(`${harness.base}${path}`);
  return answer.backend ?? String(answer.status);
}

beforeAll(async () => {
  // Two servers on the same port of two loopback addresses: moving between them keeps the backend `svc-be<port>`.
  port = await freePort('127.0.0.2');
  alpha = await startBackend('alpha', '127.0.0.2', port);
  beta = await startBackend('beta', '127.0.0.3', port);
  other = await startBackend('other', '127.0.0.2');
  dns = await startDnsmasq({ 'alpha.test': ['127.0.0.2'], 'beta.test': ['127.0.0.3'] });
  harness = await startHarness({ HAPROXY_RESOLVERS: dns.address, RECONCILE_INTERVAL: '0' });
});

afterAll(async () => {
  await harness?.applier.stop();
  await Promise.all([alpha?.close(), beta?.close(), other?.close(), dns?.stop()]);
  removeTempDirs();
});

it('moves a server to another IP address without a reload; a keep-alive client sees it on its next request', async () => {
  expect(await apply([route('127.0.0.2')])).toBe('success');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = () =>
    new Promise<{ backend: string; socket: unknown }>((resolve, reject) => {
      const req = http.get(`${harness.base}/svc/x`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ backend: String(res.headers['x-backend'] ?? res.statusCode), socket: req.socket }));
      });
      req.on('error', reject);
    });
  try {
    const first = await get();
    expect(first.backend).toBe('alpha');
    const before = await workers();
    expect(await apply([route('127.0.0.3')])).toBe('runtime');
    const next = await get();
    expect(next.backend).toBe('beta');
    expect(next.socket).toBe(first.socket);
    expect(await workers()).toEqual(before);
    expect(await serverState()).toBe(`- 127.0.0.3:${port}`);
  } finally {
    agent.destroy();
  }
  // The files were written: a reload or a restart from them serves the same.
  expect(fs.readFileSync(harness.settings.haproxyConfig, 'utf8')).toContain(`server svc 127.0.0.3:${port} `);
  expect(fs.readFileSync(`${harness.settings.stateDir}/last-known-good.cfg`, 'utf8')).toContain(`server svc 127.0.0.3:${port} `);
});

it('fails no keep-alive request while a server moves back and forth', async () => {
  expect(['success', 'runtime', 'skipped']).toContain(await apply([route('127.0.0.2')]));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const seen: string[] = [];
  let running = true;
  const client = async () => {
    while (running) {
      seen.push(
        await new Promise<string>((resolve) => {
          const req = http.get(`${harness.base}/svc/x`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(String(res.headers['x-backend'] ?? res.statusCode)));
          });
          req.on('error', (error) => resolve(error.message));
        }),
      );
    }
  };
  const clients = [client(), client(), client()];
  try {
    const before = await workers();
    for (let i = 0; i < 10; i++) expect(await apply([route(i % 2 === 0 ? '127.0.0.3' : '127.0.0.2')])).toBe('runtime');
    expect(await workers()).toEqual(before);
  } finally {
    running = false;
    await Promise.all(clients);
    agent.destroy();
  }
  expect(seen.length).toBeGreaterThan(10);
  expect(seen.filter((answer) => answer !== 'alpha' && answer !== 'beta')).toEqual([]);
  expect(await backendOf()).toBe('alpha');
});

it('moves a server to a host name, and to another one, through its resolvers without a reload', async () => {
  expect(['success', 'runtime', 'skipped']).toContain(await apply([route('127.0.0.2')]));
  const before = await workers();
  expect(await apply([route('beta.test')])).toBe('runtime');
  expect(await backendOf()).toBe('beta');
  expect(await serverState()).toBe(`beta.test 127.0.0.3:${port}`);
  expect(await apply([route('alpha.test')])).toBe('runtime');
  expect(await backendOf()).toBe('alpha');
  expect(await serverState()).toBe(`alpha.test 127.0.0.2:${port}`);
  expect(await workers()).toEqual(before);
});

it('reloads to move a server from a host name to an IP address (HAProxy keeps following the name otherwise)', async () => {
  expect(['success', 'runtime', 'skipped']).toContain(await apply([route('alpha.test')]));
  const before = await workers();
  expect(await apply([route('127.0.0.3')])).toBe('success');
  expect(await workers()).not.toEqual(before);
  expect(await backendOf()).toBe('beta');
  expect(await serverState()).toBe(`- 127.0.0.3:${port}`);
});

it('reloads for a host name that does not resolve, and serves what the files say', async () => {
  expect(['success', 'runtime', 'skipped']).toContain(await apply([route('127.0.0.2')]));
  const before = await workers();
  expect(await apply([route('nowhere.test')])).toBe('success');
  expect(await workers()).not.toEqual(before);
  expect(await backendOf()).toBe('503');
  expect(await apply([route('127.0.0.2')])).toBe('success');
  expect(await backendOf()).toBe('alpha');
});

it('reloads for a port change: the backend is named after the port (`<serviceName>-be<port>`, as DFP)', async () => {
  expect(['success', 'runtime', 'skipped']).toContain(await apply([route('127.0.0.2')]));
  const before = await workers();
  expect(await apply([route('127.0.0.2', other.port)])).toBe('success');
  expect(await workers()).not.toEqual(before);
  expect(await backendOf()).toBe('other');
  expect(await apply([route('127.0.0.2')])).toBe('success');
});

it('falls back to a reload when the worker does not hold what the change should leave, and serves the files', async () => {
  expect(['success', 'runtime', 'skipped']).toContain(await apply([route('127.0.0.2')]));
  // Someone gave the server a host name by hand: after `set server ... addr` the check finds a
  // name the config does not have (its resolution would move the server later on).
  expect(await worker(`set server svc-be${port}/svc fqdn alpha.test`)).toMatch(/changed its FQDN/);
  const before = await workers();
  expect(await apply([route('127.0.0.3')])).toBe('success');
  expect(await workers()).not.toEqual(before);
  expect(await backendOf()).toBe('beta');
  expect(await serverState()).toBe(`- 127.0.0.3:${port}`);
});

it('serves exactly the same after a forced reload as after a sequence of server moves', async () => {
  expect(['success', 'runtime', 'skipped']).toContain(await apply([route('127.0.0.2')]));
  for (const host of ['127.0.0.3', 'alpha.test', 'beta.test']) expect(await apply([route(host)])).toBe('runtime');
  const beforeReload = [await backendOf(), await serverState()];
  expect(beforeReload).toEqual(['beta', `beta.test 127.0.0.3:${port}`]);
  expect((await harness.applier.applyNow()).outcome).toBe('success');
  // A reload starts a named server without an address (init-addr last,none) until its resolvers answer.
  await waitFor('the reloaded worker to resolve beta.test', async () => (await serverState()) === `beta.test 127.0.0.3:${port}`, 10000);
  expect([await backendOf(), await serverState()]).toEqual(beforeReload);
});
