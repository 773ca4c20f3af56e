import * as path from 'path';
import { MasterCli } from '../src/haproxy/master-cli';
import { routeMapFiles } from '../src/render/route-maps';
import { MASTER_SOCKET_NAME } from '../src/settings';
import { Backend, startBackend } from './helpers/backends';
import { freePort, waitFor } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';
import { removeTempDirs } from './helpers/tmp';

/**
 * RECONCILE_INTERVAL: the sidecar compares HAProxy's running worker with the files on its own,
 * every interval (1 s here), puts back what someone changed by hand through the Runtime API, and
 * counts it on /metrics. A worker that serves the files is left alone: no reload.
 */

const BASE = '/v1/docker-flow-proxy';

let sidecar: RunningSidecar;
let one: Backend;
let alpha: Backend;
let beta: Backend;
let port: number;

async function worker(command: string): Promise<string> {
  return new MasterCli(path.join(sidecar.stateDir, MASTER_SOCKET_NAME), 5000).command(`@1 ${command}`);
}

async function workers(): Promise<readonly number[]> {
  return (await new MasterCli(path.join(sidecar.stateDir, MASTER_SOCKET_NAME), 5000).showProc()).workers;
}

async function backendOf(pathAndQuery: string): Promise<string> {
  const answer = await sidecar.through(pathAndQuery);
  return answer.backend ?? String(answer.status);
}

/** The value of one series on /metrics, e.g. metric('haproxy_sidecar_reconciles_total{outcome="runtime"}'). */
async function metric(series: string): Promise<number> {
  const text = (await sidecar.call('/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return Number(line?.slice(series.length + 1) ?? NaN);
}

beforeAll(async () => {
  port = await freePort('127.0.0.2');
  alpha = await startBackend('alpha', '127.0.0.2', port);
  beta = await startBackend('beta', '127.0.0.3', port);
  one = await startBackend('one');
  sidecar = await startSidecar({ env: { RECONCILE_INTERVAL: '1' } });
  for (const query of [
    `serviceName=one&servicePath=/one&port=${one.port}&outboundHostname=127.0.0.1`,
    `serviceName=svc&servicePath=/svc&port=${port}&outboundHostname=127.0.0.2`,
  ]) {
    expect((await sidecar.call(`${BASE}/reconfigure?${query}`)).status).toBe(200);
  }
  expect(await backendOf('/one/x')).toBe('one');
  expect(await backendOf('/svc/x')).toBe('alpha');
});

afterAll(async () => {
  await sidecar?.stop();
  await Promise.all([one?.close(), alpha?.close(), beta?.close()]);
  removeTempDirs();
});

it('puts back a route map entry deleted by hand, on its own, and counts it on /metrics', async () => {
  const before = await metric('haproxy_sidecar_reconcile_divergences_total{kind="map_entry"}');
  await worker(`del map ${routeMapFiles(sidecar.stateDir).prefix} /one`);
  await waitFor('the route map entry to be put back', async () => (await backendOf('/one/x')) === 'one', 30000, 100);
  expect(await metric('haproxy_sidecar_reconcile_divergences_total{kind="map_entry"}')).toBe(before + 1);
  expect(await metric('haproxy_sidecar_reconciles_total{outcome="runtime"}')).toBeGreaterThanOrEqual(1);
  expect(sidecar.logs()).toMatch(/"level":"warn".*"keys":\["\/one"\].*the HAProxy worker differs from the files/);
});

it('moves back a server whose address was changed by hand, on its own, and counts it on /metrics', async () => {
  const before = await metric('haproxy_sidecar_reconcile_divergences_total{kind="server"}');
  await worker(`set server svc-be${port}/svc addr 127.0.0.3 port ${port}`);
  await waitFor('the server to be moved back', async () => (await backendOf('/svc/x')) === 'alpha', 30000, 100);
  expect(await metric('haproxy_sidecar_reconcile_divergences_total{kind="server"}')).toBe(before + 1);
  expect(sidecar.logs()).toContain(`"wanted":"127.0.0.2:${port}","found":"- 127.0.0.3:${port}"`);
});

it('changes nothing while the worker serves the files: no reload', async () => {
  const reloads = await metric('haproxy_sidecar_reloads_total{outcome="success"}');
  const before = await workers();
  const inStep = await metric('haproxy_sidecar_reconciles_total{outcome="in_step"}');
  await waitFor('two more reconciliations', async () => (await metric('haproxy_sidecar_reconciles_total{outcome="in_step"}')) >= inStep + 2, 30000, 100);
  expect(await metric('haproxy_sidecar_reloads_total{outcome="success"}')).toBe(reloads);
  expect(await workers()).toEqual(before);
  expect(await metric('haproxy_sidecar_reconcile_last_outcome{outcome="in_step"}')).toBe(1);
  expect(await metric('haproxy_sidecar_reconcile_last_timestamp_seconds')).toBeGreaterThan(0);
});
