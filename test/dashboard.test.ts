import { spawnSync } from 'child_process';
import type { Browser, Page } from 'playwright-core';
import { Backend, request, startBackend } from './helpers/backends';
import { launchChromium, screenshotPath } from './helpers/browser';
import { createCa, issueCert } from './helpers/certs';
import { ConsulAgent, startConsulAgent } from './helpers/consul';
import { RunningDnsmasq, startDnsmasq } from './helpers/dnsmasq';
import { haproxyPids, masterPids } from './helpers/haproxy-procs';
import { freePort, waitFor } from './helpers/ports';
import { CLI, RunningSidecar, startSidecar } from './helpers/sidecar';
import { removeTempDirs, tempDir } from './helpers/tmp';

/**
 * The fleet dashboard in a real browser (Debian's chromium through playwright-core): three
 * replicas on one Consul, found through dnsmasq's tasks.proxy, behind API_USER/API_PASS.
 */

const BASE = '/v1/docker-flow-proxy';
const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const AUTH = { API_USER: 'admin', API_PASS: 'dashboard-secret' };
const authHeader = { Authorization: `Basic ${Buffer.from(`${AUTH.API_USER}:${AUTH.API_PASS}`).toString('base64')}` };

let consul: ConsulAgent;
let dns: RunningDnsmasq;
let backend: Backend;
let replicas: RunningSidecar[];
let browser: Browser;
let page: Page;
let stopped: number[] = [];

const call = (replica: RunningSidecar, pathAndQuery: string) => replica.call(pathAndQuery, { headers: authHeader });

/** `haproxy-sidecar routes ...` on the same Consul, as an operator would run it. */
const routesCli = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, 'routes', ...args], { env: { ...process.env, CONSUL_ADDRESS: consul.address }, encoding: 'utf8', timeout: 30000 });

/** The page's row of one replica, and the state it shows. */
const replicaRowState = (address: string) => page.locator(`#replicas tr[data-address="${address}"]`).getAttribute('data-state');

beforeAll(async () => {
  backend = await startBackend('dash');
  dns = await startDnsmasq({ 'tasks.proxy': HOSTS });
  consul = await startConsulAgent();
  const apiPort = await freePort('127.0.0.2');
  const httpPort = await freePort('127.0.0.2');
  const env = { CONSUL_ADDRESS: consul.address, DNS_SERVER: dns.address, SERVICE_NAME: 'proxy', ...AUTH };
  replicas = await Promise.all(HOSTS.map((host) => startSidecar({ host, apiPort, httpPort, stateDir: tempDir('dashboard-'), env })));
  browser = await launchChromium();
  const context = await browser.newContext({ httpCredentials: { username: AUTH.API_USER, password: AUTH.API_PASS }, viewport: { width: 1400, height: 900 } });
  page = await context.newPage();
}, 120000);

afterAll(async () => {
  for (const pid of stopped) process.kill(pid, 'SIGCONT');
  await browser?.close();
  await Promise.all((replicas ?? []).map((replica) => replica.stop()));
  await consul?.stop();
  await dns?.stop();
  await backend?.close();
  removeTempDirs();
});

it('keeps the page and the fleet endpoint behind API_USER/API_PASS', async () => {
  expect((await request(`${replicas[0].api}/ui/`)).status).toBe(401);
  expect((await request(`${replicas[0].api}/`)).status).toBe(401);
  expect((await request(`${replicas[0].api}${BASE}/fleet`)).status).toBe(401);
  const ui = await call(replicas[0], '/ui/');
  expect(ui.status).toBe(200);
  expect(ui.body).toContain('<script defer src="app.js">');
  // No external assets: everything the page loads comes from the sidecar itself.
  expect(ui.body).not.toMatch(/(src|href)="(https?:)?\/\//);
});

it('shows a route added through one replica on the page, served by all three', async () => {
  await page.goto(`${replicas[0].api}/`);
  expect(new URL(page.url()).pathname).toBe('/ui/');
  await page.locator('#replicas tr[data-state="serving"]').nth(2).waitFor({ timeout: 20000 });

  const route = `serviceName=dash-demo&servicePath=/dash&port=${backend.port}&outboundHostname=127.0.0.1`;
  expect((await call(replicas[1], `${BASE}/reconfigure?${route}`)).status).toBe(200);
  for (const replica of replicas) await waitFor(`${replica.host} to serve /dash`, async () => (await replica.through('/dash/x')).backend === 'dash', 10000);

  const row = page.locator('#routes tr[data-service="dash-demo"]');
  await row.waitFor({ timeout: 20000 });
  await waitFor('every replica column to show the route served', async () => (await row.locator('td.cell-ok').count()) === 3, 20000, 200);
  expect(await row.innerText()).toContain(`/dash -> ${backend.port}`);
  const change = page.locator('#changes tr', { hasText: 'dash-demo' }).first();
  await change.waitFor({ timeout: 20000 });
  expect(await change.innerText()).toMatch(/added\s+API/);
});

it('says who made a change (a hand edit of the KV store is a KV edit) and counts the requests HAProxy served', async () => {
  const value = JSON.stringify({ serviceName: 'hand-made', servicePath: '/hand', port: String(backend.port), outboundHostname: '127.0.0.1' });
  expect((await request(`${consul.address}/v1/kv/docker-flow/services/hand-made`, { method: 'PUT', body: value })).status).toBe(200);
  const change = page.locator('#changes tr', { hasText: 'hand-made' }).first();
  await change.waitFor({ timeout: 20000 });
  expect(await change.innerText()).toMatch(/added\s+KV edit/);
  for (const replica of replicas) await waitFor(`${replica.host} to serve /hand`, async () => (await replica.through('/hand/x')).backend === 'dash', 10000);
  for (const replica of replicas) for (let i = 0; i < 3; i++) expect((await replica.through('/hand/x')).backend).toBe('dash');
  // HAProxy's own counters, summed over the fleet: at least the 3 requests through each replica.
  const requests = page.locator('#routes tr[data-service="hand-made"] td.requests');
  await waitFor('the page to count the requests through all three', async () => Number(await requests.innerText()) >= 9, 20000, 200);

  expect(routesCli('remove', 'dash-demo').status).toBe(0);
  const removed = page.locator('#changes tr', { hasText: 'dash-demo' }).first();
  await waitFor('the page to list the removal', async () => /removed/.test(await removed.innerText()), 20000, 200);
  // Consul keeps nothing of a deleted key's writer: only the API's own removals are told apart.
  expect(await removed.innerText()).toMatch(/removed\s+KV edit/);
  const cliAdd = spawnSync(
    process.execPath,
    [CLI, 'routes', 'add', 'serviceName=dash-demo', 'servicePath=/dash', `port=${backend.port}`, 'outboundHostname=127.0.0.1'],
    {
      env: { ...process.env, CONSUL_ADDRESS: consul.address },
      encoding: 'utf8',
      timeout: 30000,
    },
  );
  expect(cliAdd.status).toBe(0);
  await waitFor('the page to list the CLI add', async () => /added\s+CLI/.test(await removed.innerText()), 20000, 200);

  const fleet = JSON.parse((await call(replicas[2], `${BASE}/fleet`)).body);
  expect(fleet.replicas).toHaveLength(3);
  expect(fleet.routes.map((r: { serviceName: string }) => r.serviceName)).toEqual(['dash-demo', 'hand-made']);
});

it('lists certificates with their expiry, and invalid routes with their reason', async () => {
  const cert = issueCert(createCa(), ['shop.test'], { days: 30 });
  expect((await replicas[0].call(`${BASE}/cert?certName=shop`, { method: 'PUT', body: cert.pem, headers: authHeader })).status).toBe(200);
  const broken = JSON.stringify({ serviceName: 'broken', servicePath: '/broken', port: 'eighty' });
  expect((await request(`${consul.address}/v1/kv/docker-flow/services/broken`, { method: 'PUT', body: broken })).status).toBe(200);

  const certRow = page.locator('#certs tr', { hasText: 'shop' });
  await certRow.waitFor({ timeout: 20000 });
  expect(await certRow.innerText()).toMatch(/DNS:shop\.test[\s\S]*\b(29|30)\b/);
  const invalidRow = page.locator('#invalid tr', { hasText: 'broken' });
  await invalidRow.waitFor({ timeout: 20000 });
  expect(await invalidRow.innerText()).toContain('port');
  // Left out by every replica; the good routes stay served.
  await waitFor('all three replicas to leave it out', async () => (await invalidRow.innerText()).includes(HOSTS.join(', ')), 20000, 200);
  expect((await replicas[2].through('/hand/x')).backend).toBe('dash');
});

it('shows a replica whose HAProxy is stopped as not serving, and writes a screenshot', async () => {
  const target = replicas[2];
  stopped = haproxyPids(target.stateDir);
  expect(stopped.length).toBeGreaterThanOrEqual(2);
  for (const pid of stopped) process.kill(pid, 'SIGSTOP');

  await waitFor('the page to show the stopped replica as not serving', async () => (await replicaRowState(target.host)) === 'not-serving', 20000, 200);
  await waitFor(
    'the page to show only that one needing a look',
    async () => /1 of 3 replicas need a look/.test(await page.locator('#summary').innerText()),
    20000,
    200,
  );
  expect(await replicaRowState(replicas[0].host)).toBe('serving');
  expect(await replicaRowState(replicas[1].host)).toBe('serving');
  const fleet = JSON.parse((await call(replicas[0], `${BASE}/fleet`)).body);
  const shown = fleet.replicas.find((r: { address: string }) => r.address === target.host);
  expect(shown).toMatchObject({ answered: true, serving: false, haproxy: { up: false } });
  await page.screenshot({ path: screenshotPath('dashboard-fleet'), fullPage: true });

  for (const pid of stopped.splice(0)) process.kill(pid, 'SIGCONT');
  await waitFor('the replica to serve again', async () => (await replicaRowState(target.host)) === 'serving', 20000, 200);
});

it('counts a restart of a replica whose HAProxy master died', async () => {
  const target = replicas[1];
  const [master] = masterPids(target.stateDir);
  process.kill(master, 'SIGKILL');
  const restarts = page.locator(`#replicas tr[data-address="${target.host}"] td.restarts`);
  await waitFor('the page to count the restart', async () => (await restarts.innerText()) === '1', 20000, 200);
  await waitFor('the replica to serve again', async () => (await replicaRowState(target.host)) === 'serving', 20000, 200);
  expect((await target.through('/hand/x')).backend).toBe('dash');
});
