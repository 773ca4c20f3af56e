import { MasterCli } from '../src/haproxy/master-cli';
import { routeMapFiles } from '../src/render/route-maps';
import { Backend, request, startBackend } from './helpers/backends';
import { freePort } from './helpers/ports';
import { removeTempDirs } from './helpers/tmp';
import { Harness, snapshotOf, startHarness } from './fixtures/applier-harness';

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

function routes(): Record<string, string>[] {
  return [
    { serviceName: 'one', servicePath: '/one', port: String(one.port), outboundHostname: '127.0.0.1' },
    { serviceName: 'svc', servicePath: '/svc', port: String(port), outboundHostname: '127.0.0.2' },
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
