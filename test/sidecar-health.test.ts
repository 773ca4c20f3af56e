import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Backend, startBackend } from './helpers/backends';
import { ConsulCluster, startConsulCluster } from './helpers/consul';
import { masterPids } from './helpers/haproxy-procs';
import { waitFor } from './helpers/ports';
import { REPO_ROOT, RunningSidecar, startSidecar } from './helpers/sidecar';
import { tempDir } from './helpers/tmp';

const BASE = '/v1/docker-flow-proxy';

/** The Dockerfile's HEALTHCHECK command (its JSON CMD), run against `sidecar`: its exit code. */
function dockerHealthcheck(sidecar: RunningSidecar): number | null {
  const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const cmd = JSON.parse(/HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])/.exec(dockerfile)?.[1] ?? '[]') as string[];
  expect(cmd[0]).toBe('node');
  const env = { ...process.env, LISTEN_ADDRESS: `${sidecar.host}:${sidecar.apiPort}` };
  // The container's 127.0.0.1 is the sidecar's own address here.
  const args = cmd.slice(1).map((arg) => arg.replace('127.0.0.1', sidecar.host));
  return spawnSync(process.execPath, args, { env, timeout: 10000 }).status;
}

/**
 * Liveness (/healthz: HAProxy serves the last good config) and readiness (/readyz: the store
 * answers and its latest index is live), on a real three-server Consul cluster and a real HAProxy.
 */
describe('/healthz and /readyz through store outages and a frozen HAProxy master', () => {
  let cluster: ConsulCluster;
  let backend: Backend;
  let sidecar: RunningSidecar;

  const status = async (path: string) => (await sidecar.call(path, { timeoutMs: 10000 })).status;
  const serves = async (name: string) => (await sidecar.through(`/${name}/x`)).backend === 'demo';
  const route = (name: string) => `serviceName=${name}&servicePath=/${name}&port=${backend.port}&outboundHostname=127.0.0.1`;
  const killAll = () => Promise.all([0, 1, 2].map((i) => cluster.kill(i)));
  const restartAll = () => Promise.all([0, 1, 2].map((i) => cluster.restart(i, 60000)));

  beforeAll(async () => {
    backend = await startBackend('demo');
    cluster = await startConsulCluster(3);
    // The sidecar starts while no Consul server runs: it serves (no routes yet) but has applied nothing.
    await killAll();
    const env = { CONSUL_ADDRESS: cluster.addresses.join(','), REQUEST_TIMEOUT_MS: '1500', DISTRIBUTE_TIMEOUT_MS: '10000' };
    sidecar = await startSidecar({ stateDir: tempDir('health-'), env });
  }, 120000);

  afterAll(async () => {
    await sidecar?.stop();
    await cluster?.stop();
    await backend?.close();
  });

  it('is alive but not ready before the first store snapshot is applied, and ready once it is', async () => {
    expect(await status('/healthz')).toBe(200);
    const notReady = await sidecar.call('/readyz');
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.body)).toMatchObject({ status: 'NOK', applied: { once: false } });
    await restartAll();
    await waitFor('/readyz to answer 200', async () => (await status('/readyz')) === 200, 60000, 200);
    expect(await status('/healthz')).toBe(200);
  }, 120000);

  it('stays alive (200) during a Consul outage and serves, while /readyz says 503; ready again when Consul is back', async () => {
    expect((await sidecar.call(`${BASE}/reconfigure?${route('first')}`, { timeoutMs: 20000 })).status).toBe(200);
    await killAll();
    await waitFor('/readyz to answer 503', async () => (await status('/readyz')) === 503, 30000, 200);
    const ready = JSON.parse((await sidecar.call('/readyz')).body);
    expect(ready.message).toMatch(/store does not answer/);
    const live = await sidecar.call('/healthz');
    expect(live.status).toBe(200);
    expect(JSON.parse(live.body)).toMatchObject({ status: 'OK', store: { reachable: false } });
    expect(dockerHealthcheck(sidecar)).toBe(0);
    expect(await serves('first')).toBe(true);
    await restartAll();
    await waitFor('/readyz to answer 200 again', async () => (await status('/readyz')) === 200, 60000, 200);
    expect(await status('/healthz')).toBe(200);
  }, 180000);

  it('answers 503 on /healthz while the HAProxy master is frozen (SIGSTOP), within a deadline, and 200 once it runs again', async () => {
    const [master] = masterPids(sidecar.stateDir);
    expect(master).toBeGreaterThan(0);
    process.kill(master, 'SIGSTOP');
    try {
      // The sidecar answers by a deadline of its own: a /healthz that waited on the frozen master
      // would time out here (10 s) instead of answering 503.
      const frozen = await sidecar.call('/healthz', { timeoutMs: 10000 });
      expect(frozen.status).toBe(503);
      expect(JSON.parse(frozen.body)).toMatchObject({ status: 'NOK', haproxy: { running: false } });
      expect(dockerHealthcheck(sidecar)).toBe(1);
    } finally {
      process.kill(master, 'SIGCONT');
    }
    await waitFor('/healthz to answer 200 again', async () => (await status('/healthz')) === 200, 20000, 200);
    expect(await serves('first')).toBe(true);
  }, 60000);
});
