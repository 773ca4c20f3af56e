import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Applier } from '../src/applier';
import { AdoptedHaproxy } from '../src/haproxy/adopted';
import { MasterCli } from '../src/haproxy/master-cli';
import { silentLogger } from '../src/logger';
import { routeMapFiles } from '../src/render/route-maps';
import { parseRoute } from '../src/route/params';
import { Backend, request, startBackend } from './helpers/backends';
import { HAPROXY_BIN } from './helpers/haproxy';
import { freePort, sleep, waitFor } from './helpers/ports';
import { removeTempDirs, tempDir } from './helpers/tmp';
import { applierSettings, Harness, shippedRender, snapshotOf, startHarness } from './fixtures/applier-harness';

/**
 * The worker drifts from the files after a change was made and verified (here: Runtime API
 * commands by hand). A reconciliation compares its route maps and server addresses with the
 * files of the live config and puts them back: through the Runtime API where it can, else by a
 * reload. One that finds nothing changes nothing. The periodic timer is off here
 * (RECONCILE_INTERVAL=0): each test runs one reconciliation itself, so what traffic sees before
 * it is certain; test/sidecar-reconcile.test.ts covers the timer.
 */

let one: Backend;
let alpha: Backend;
let beta: Backend;
let harness: Harness;
let port: number;
let index = 0;
/** Where route `svc` sends its requests: alpha's address, or beta's. */
let svcHost = '127.0.0.2';

function routes(): Record<string, string>[] {
  return [
    { serviceName: 'one', servicePath: '/one', port: String(one.port), outboundHostname: '127.0.0.1' },
    { serviceName: 'svc', servicePath: '/svc', port: String(port), outboundHostname: svcHost },
    { serviceName: 'wild', serviceDomain: '*.wild.test', port: String(one.port), outboundHostname: '127.0.0.1' },
    { serviceName: 'deep', serviceDomain: '*.deep.wild.test', port: String(port), outboundHostname: '127.0.0.2' },
  ];
}

async function apply(): Promise<string | undefined> {
  index++;
  const before = harness.reports.length;
  harness.applier.submit(snapshotOf(index, routes()));
  await harness.applier.waitForIndex(index, 20000);
  return harness.reports.slice(before).at(-1)?.outcome;
}

async function worker(command: string): Promise<string> {
  return new MasterCli(harness.haproxy.masterSocket, 5000).command(`@1 ${command}`);
}

async function workers(): Promise<readonly number[]> {
  return (await new MasterCli(harness.haproxy.masterSocket, 5000).showProc()).workers;
}

async function backendOf(path: string, host?: string): Promise<string> {
  const answer = await request(`${harness.base}${path}`, { headers: host ? { Host: host } : {} });
  return answer.backend ?? String(answer.status);
}

function prefixMap(): string {
  return routeMapFiles(harness.settings.stateDir).prefix;
}

beforeAll(async () => {
  // Two servers on one port of two loopback addresses: a server moved between them keeps its backend.
  port = await freePort('127.0.0.2');
  alpha = await startBackend('alpha', '127.0.0.2', port);
  beta = await startBackend('beta', '127.0.0.3', port);
  one = await startBackend('one');
  harness = await startHarness({ RECONCILE_INTERVAL: '0' });
  expect(await apply()).toBe('success');
});

afterAll(async () => {
  await harness?.applier.stop();
  await Promise.all([one?.close(), alpha?.close(), beta?.close()]);
  removeTempDirs();
});

it('finds nothing to do when the worker serves the files, and changes nothing', async () => {
  const before = { workers: await workers(), reports: harness.reports.length, status: harness.applier.reconcileStatus() };
  expect(await harness.applier.reconcile()).toBe('in_step');
  expect(await harness.applier.reconcile()).toBe('in_step');
  const after = harness.applier.reconcileStatus();
  expect(await workers()).toEqual(before.workers);
  expect(harness.reports.length).toBe(before.reports);
  expect(after.runs.in_step).toBe(before.status.runs.in_step + 2);
  expect([after.mapEntries, after.servers]).toEqual([before.status.mapEntries, before.status.servers]);
  expect(after.lastOutcome).toBe('in_step');
  expect(await backendOf('/one/x')).toBe('one');
  expect(await backendOf('/svc/x')).toBe('alpha');
});

it('puts back a route map entry deleted by hand, through the Runtime API', async () => {
  await worker(`del map ${prefixMap()} /one`);
  expect(await backendOf('/one/x')).toBe('503');
  const before = { workers: await workers(), status: harness.applier.reconcileStatus() };
  expect(await harness.applier.reconcile()).toBe('runtime');
  expect(await backendOf('/one/x')).toBe('one');
  expect(await workers()).toEqual(before.workers);
  expect(harness.applier.reconcileStatus().mapEntries).toBe(before.status.mapEntries + 1);
});

it('puts back route map entries changed and added by hand', async () => {
  await worker(`set map ${prefixMap()} /one svc-be${port}`);
  await worker(`add map ${prefixMap()} /extra svc-be${port}`);
  expect(await backendOf('/one/x')).toBe('alpha');
  expect(await backendOf('/extra/x')).toBe('alpha');
  const before = { workers: await workers(), status: harness.applier.reconcileStatus() };
  expect(await harness.applier.reconcile()).toBe('runtime');
  expect(await backendOf('/one/x')).toBe('one');
  expect(await backendOf('/extra/x')).toBe('503');
  expect(await workers()).toEqual(before.workers);
  expect(harness.applier.reconcileStatus().mapEntries).toBe(before.status.mapEntries + 2);
  expect(await harness.applier.reconcile()).toBe('in_step');
});

it('puts the wildcard map back in its order (the longest suffix first)', async () => {
  const wildcards = routeMapFiles(harness.settings.stateDir).wildcards;
  const shown = async () => (await worker(`show map ${wildcards}`)).replace(/0x[0-9a-f]+ /g, '').trim();
  const inOrder = await shown();
  expect(inOrder).toBe('.deep.wild.test *.deep.wild.test\n.wild.test *.wild.test');
  expect(await backendOf('/x', 'q.deep.wild.test')).toBe('alpha');
  // The longer suffix moved behind the shorter one: map_end then finds `.wild.test` for every host.
  await worker(`del map ${wildcards} .deep.wild.test`);
  await worker(`add map ${wildcards} .deep.wild.test *.deep.wild.test`);
  expect(await shown()).not.toBe(inOrder);
  expect(await backendOf('/x', 'q.deep.wild.test')).toBe('one');
  expect(await harness.applier.reconcile()).toBe('runtime');
  expect(await shown()).toBe(inOrder);
  expect(await backendOf('/x', 'q.deep.wild.test')).toBe('alpha');
  expect(await backendOf('/x', 'q.wild.test')).toBe('one');
});

it('moves back a server whose address was changed by hand, through the Runtime API', async () => {
  expect(await worker(`set server svc-be${port}/svc addr 127.0.0.3 port ${port}`)).toMatch(/changed from/);
  expect(await backendOf('/svc/x')).toBe('beta');
  const before = { workers: await workers(), status: harness.applier.reconcileStatus() };
  expect(await harness.applier.reconcile()).toBe('runtime');
  expect(await backendOf('/svc/x')).toBe('alpha');
  expect(await workers()).toEqual(before.workers);
  expect(harness.applier.reconcileStatus().servers).toBe(before.status.servers + 1);
  expect(await harness.applier.reconcile()).toBe('in_step');
});

it('compares the servers with the config live now, not with one it read before', async () => {
  expect(await harness.applier.reconcile()).toBe('in_step');
  // The route moves to beta's address: an address change alone, made through the Runtime API.
  svcHost = '127.0.0.3';
  expect(await apply()).toBe('runtime');
  expect(await backendOf('/svc/x')).toBe('beta');
  expect(await harness.applier.reconcile()).toBe('in_step');
  expect(await worker(`set server svc-be${port}/svc addr 127.0.0.2 port ${port}`)).toMatch(/changed from/);
  expect(await backendOf('/svc/x')).toBe('alpha');
  expect(await harness.applier.reconcile()).toBe('runtime');
  expect(await backendOf('/svc/x')).toBe('beta');
  svcHost = '127.0.0.2';
  expect(await apply()).toBe('runtime');
  expect(await backendOf('/svc/x')).toBe('alpha');
});

it('reloads the files when the Runtime API cannot bring the worker back (a host name given by hand)', async () => {
  // HAProxy 2.6 cannot take a server's host name away at runtime: only a reload can.
  expect(await worker(`set server svc-be${port}/svc fqdn beta.test`)).toMatch(/changed its FQDN/);
  expect(await worker(`set server svc-be${port}/svc addr 127.0.0.3 port ${port}`)).toMatch(/changed from/);
  expect(await backendOf('/svc/x')).toBe('beta');
  const before = { workers: await workers(), reports: harness.reports.length };
  expect(await harness.applier.reconcile()).toBe('reload');
  expect(await workers()).not.toEqual(before.workers);
  expect(harness.reports.slice(before.reports).map((report) => report.outcome)).toEqual(['success']);
  expect(await backendOf('/svc/x')).toBe('alpha');
  expect(await backendOf('/one/x')).toBe('one');
  expect(await harness.applier.reconcile()).toBe('in_step');
});

describe('an adopted HAProxy (HAPROXY_MASTER_SOCKET)', () => {
  let external: ChildProcess | undefined;
  let adopted: Applier | undefined;
  let haproxy: AdoptedHaproxy;
  let cli: MasterCli;
  let base: string;
  let configFile: string;
  let mapFile: string;
  /** The other container's own config: a frontend without routes. */
  let ownConfig: string;

  const adoptedBackendOf = async (pathAndQuery: string) => {
    const answer = await request(`${base}${pathAndQuery}`);
    return answer.backend ?? String(answer.status);
  };

  beforeAll(async () => {
    const httpPort = await freePort();
    const settings = applierSettings(httpPort, { RECONCILE_INTERVAL: '0' });
    const socket = path.join(tempDir('adopted-sock-'), 'master.sock');
    base = `http://127.0.0.1:${httpPort}`;
    configFile = settings.haproxyConfig;
    mapFile = routeMapFiles(settings.stateDir).prefix;
    ownConfig = [
      'defaults',
      '  mode http',
      '  timeout connect 1s',
      '  timeout client 5s',
      '  timeout server 5s',
      'frontend f',
      `  bind 127.0.0.1:${httpPort}`,
      '',
    ].join('\n');
    fs.writeFileSync(configFile, ownConfig);
    external = spawn(HAPROXY_BIN, ['-W', '-db', '-S', socket, '-f', configFile], { stdio: 'ignore' });
    cli = new MasterCli(socket, 5000);
    await waitFor('the external HAProxy', async () => (await cli.showProc()).workers.length > 0, 10000);
    haproxy = new AdoptedHaproxy({ masterSocket: socket, logger: silentLogger(), probeMs: 100 });
    adopted = new Applier({ settings, haproxy, parse: parseRoute, render: shippedRender(settings) });
    await adopted.start();
    expect((await adopted.applyNow(snapshotOf(1, [routes()[0]]))).outcome).toBe('success');
    expect(await adoptedBackendOf('/one/x')).toBe('one');
  });

  afterAll(async () => {
    await adopted?.stop();
    if (external && external.exitCode === null && external.signalCode === null) {
      const exited = new Promise((resolve) => external?.once('exit', resolve));
      external.kill('SIGTERM');
      await exited;
    }
  });

  it('puts back a route map entry deleted by hand through its master socket', async () => {
    await cli.command(`@1 del map ${mapFile} /one`);
    expect(await adoptedBackendOf('/one/x')).toBe('503');
    const before = (await cli.showProc()).workers;
    expect(await adopted?.reconcile()).toBe('runtime');
    expect(await adoptedBackendOf('/one/x')).toBe('one');
    expect((await cli.showProc()).workers).toEqual(before);
  });

  it('reloads the files when someone reloaded it with a config of their own', async () => {
    fs.writeFileSync(configFile, ownConfig);
    const before = (await cli.showProc()).workers;
    await cli.command('reload');
    await waitFor('the new worker of the hand-made reload', async () => {
      const now = (await cli.showProc().catch(() => undefined))?.workers;
      return now !== undefined && now.length > 0 && now[0] !== before[0];
    });
    expect(await adoptedBackendOf('/one/x')).toBe('503');
    // The sidecar's probe of the master (every 100 ms) may have caught it re-executing: it reloads only a master it sees up.
    await sleep(300);
    await waitFor('the adopted master to be seen up', async () => haproxy.running());
    // The worker does not know the map the files name: only a reload of the files brings it back.
    expect(await adopted?.reconcile()).toBe('reload');
    expect(await adoptedBackendOf('/one/x')).toBe('one');
    expect(fs.readFileSync(configFile, 'utf8')).toBe(adopted?.state().config);
    expect(await adopted?.reconcile()).toBe('in_step');
  });
});
