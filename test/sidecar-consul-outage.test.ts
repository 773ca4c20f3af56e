import { Backend, request, startBackend } from './helpers/backends';
import { ConsulCluster, startConsulCluster } from './helpers/consul';
import { waitFor } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';
import { tempDir } from './helpers/tmp';

const BASE = '/v1/docker-flow-proxy';

describe('a sidecar on a three-server Consul cluster, through outages and restarts', () => {
  let cluster: ConsulCluster;
  let backend: Backend;
  let sidecar: RunningSidecar | undefined;
  let stateDir: string;
  let env: Record<string, string>;

  const route = (name: string) => `serviceName=${name}&servicePath=/${name}&port=${backend.port}&outboundHostname=127.0.0.1`;
  const serves = async (name: string) => (await sidecar!.through(`/${name}/x`)).backend === 'demo';
  // A restarted replica keeps its ports, as a container does: its last-known-good config binds them.
  const start = async () => {
    sidecar = await startSidecar({ stateDir, env, apiPort: sidecar?.apiPort, httpPort: sidecar?.httpPort });
    return sidecar;
  };

  beforeAll(async () => {
    backend = await startBackend('demo');
    cluster = await startConsulCluster(3);
    stateDir = tempDir('outage-');
    env = { CONSUL_ADDRESS: cluster.addresses.join(','), REQUEST_TIMEOUT_MS: '1500', DISTRIBUTE_TIMEOUT_MS: '5000' };
    await start();
  }, 120000);

  afterAll(async () => {
    await sidecar?.stop();
    await cluster?.stop();
    await backend?.close();
  });

  it('serves a route written through the API', async () => {
    expect((await sidecar!.call(`${BASE}/reconfigure?${route('first')}`)).status).toBe(200);
    expect(await serves('first')).toBe(true);
  });

  it('answers 503 with two of three servers down, and keeps serving the last config', async () => {
    await Promise.all([cluster.kill(1), cluster.kill(2)]);
    const answer = await sidecar!.call(`${BASE}/reconfigure?${route('second')}`, { timeoutMs: 20000 });
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body).message).toMatch(/Consul/i);
    expect(await serves('first')).toBe(true);
  }, 60000);

  it('converges when the servers come back', async () => {
    await Promise.all([cluster.restart(1, 60000), cluster.restart(2, 60000)]);
    await waitFor(
      'a write to succeed again',
      async () => (await sidecar!.call(`${BASE}/reconfigure?${route('second')}`, { timeoutMs: 20000 })).status === 200,
      60000,
      500,
    );
    expect(await serves('second')).toBe(true);
    expect(await serves('first')).toBe(true);
  }, 120000);

  it('restores every route from Consul after a restart', async () => {
    await sidecar!.stop();
    await start();
    expect(await serves('first')).toBe(true);
    expect(await serves('second')).toBe(true);
  }, 60000);

  it('starts from the last-known-good config with Consul down, then converges when it is back', async () => {
    await sidecar!.stop();
    await Promise.all([0, 1, 2].map((i) => cluster.kill(i)));
    await start();
    expect(await serves('first')).toBe(true);
    expect(await serves('second')).toBe(true);
    // Alive (it serves the last good config), not ready (the store does not answer).
    expect((await sidecar!.call('/healthz')).status).toBe(200);
    expect((await sidecar!.call('/readyz')).status).toBe(503);
    await Promise.all([0, 1, 2].map((i) => cluster.restart(i, 60000)));
    const value = JSON.stringify({ serviceName: 'third', servicePath: '/third', port: String(backend.port), outboundHostname: '127.0.0.1' });
    await waitFor(
      'a hand edit to be accepted',
      async () => (await request(`${cluster.addresses[0]}/v1/kv/docker-flow/services/third`, { method: 'PUT', body: value })).status === 200,
      30000,
      250,
    );
    await waitFor('the sidecar to serve the hand edit', () => serves('third'), 30000, 100);
    await waitFor('readyz to recover', async () => (await sidecar!.call('/readyz')).status === 200, 10000, 100);
  }, 180000);
});
