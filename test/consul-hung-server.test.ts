import { Backend, request, startBackend } from './helpers/backends';
import { ConsulCluster, startConsulCluster } from './helpers/consul';
import { waitFor } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';
import { removeTempDirs } from './helpers/tmp';

const BASE = '/v1/docker-flow-proxy';

/**
 * SIGSTOP freezes a Consul server: its sockets still accept connections, nothing answers. The
 * sidecars' blocking queries are parked on it (it is their first address). A watch waits up to
 * 30 s per query, so a replica that noticed nothing would serve nothing new for about 35 s.
 */
describe('a hung Consul server (the leader, first in CONSUL_ADDRESS), quorum intact', () => {
  let cluster: ConsulCluster;
  let backend: Backend;
  let writer: RunningSidecar;
  let reader: RunningSidecar;
  let hung = -1;

  const route = (name: string) => `serviceName=${name}&servicePath=/${name}&port=${backend.port}&outboundHostname=127.0.0.1`;
  const serves = async (sidecar: RunningSidecar, name: string) => (await sidecar.through(`/${name}/x`)).backend === 'demo';

  beforeAll(async () => {
    backend = await startBackend('demo');
    cluster = await startConsulCluster(3);
    const leader = await cluster.leader();
    const addresses = [cluster.addresses[leader], ...cluster.addresses.filter((_, i) => i !== leader)];
    const env = { CONSUL_ADDRESS: addresses.join(','), REQUEST_TIMEOUT_MS: '3000', DISTRIBUTE_TIMEOUT_MS: '15000' };
    [writer, reader] = await Promise.all([startSidecar({ env }), startSidecar({ env })]);
    expect((await writer.call(`${BASE}/reconfigure?${route('before')}`)).status).toBe(200);
    await waitFor('the reader to serve the first route', () => serves(reader, 'before'), 10000, 50);
    hung = leader;
  }, 120000);

  afterAll(async () => {
    if (hung >= 0 && cluster.isRunning(hung)) cluster.resume(hung);
    await Promise.all([writer?.stop(), reader?.stop()]);
    await cluster?.stop();
    await backend?.close();
    removeTempDirs();
  });

  it('answers 200 for a write and serves it on every replica long before a parked query would return', async () => {
    // Let both watches park their blocking query on the leader.
    await new Promise((resolve) => setTimeout(resolve, 500));
    cluster.pause(hung);
    const started = Date.now();
    const answer = await writer.call(`${BASE}/reconfigure?${route('during')}`, { timeoutMs: 40000 });
    const answeredAfterMs = Date.now() - started;
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status} after ${answeredAfterMs} ms: ${answer.body}`);
    // Not a speed assertion: the bound is the 30 s blocking-query wait that must not be sat out.
    expect(answeredAfterMs).toBeLessThan(25000);
    expect(await serves(writer, 'during')).toBe(true);
    await waitFor('the other replica to serve the write (its watch must leave the hung server)', () => serves(reader, 'during'), 20000, 100);
  }, 60000);

  it('keeps both replicas current after the hung server comes back', async () => {
    cluster.resume(hung);
    expect((await reader.call(`${BASE}/reconfigure?${route('after')}`, { timeoutMs: 30000 })).status).toBe(200);
    await waitFor("the writer to serve the reader's write", () => serves(writer, 'after'), 20000, 100);
    const kv = await request(`${cluster.addresses[(hung + 1) % 3]}/v1/kv/docker-flow/services/?keys`);
    expect(JSON.parse(kv.body).sort()).toEqual(['docker-flow/services/after', 'docker-flow/services/before', 'docker-flow/services/during']);
  }, 60000);
});
