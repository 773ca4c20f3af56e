import { Backend, request, startBackend } from './helpers/backends';
import { ConsulCluster, startConsulCluster } from './helpers/consul';
import { waitFor } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';
import { removeTempDirs } from './helpers/tmp';

const BASE = '/v1/docker-flow-proxy';

interface Refusal {
  readonly status: number;
  readonly outcome: string;
  readonly message: string;
}

/**
 * What a 503 from a write means, and what a client can rely on after it (README, "When Consul
 * loses quorum"): `outcome: "unknown"` (the write reached a server that may still commit it) or
 * `outcome: "not stored"` (no server took it). Repeating the same request is safe; a remove after
 * an unknown outcome, once Consul's rpc_hold_timeout has passed, leaves the route absent for good.
 */
describe('writes refused during Consul quorum loss (three servers)', () => {
  let cluster: ConsulCluster;
  let backend: Backend;
  let sidecar: RunningSidecar;
  let followers: number[];
  const refusals = new Map<string, Refusal>();

  const route = (name: string) => `serviceName=${name}&servicePath=/${name}&port=${backend.port}&outboundHostname=127.0.0.1`;
  const serves = async (name: string) => (await sidecar.through(`/${name}/x`)).backend === 'demo';
  /** A consistent read (through the leader), so a follower that has not applied a remove yet cannot answer. */
  const inKv = async (name: string) => {
    for (const [i, address] of cluster.addresses.entries()) {
      if (!cluster.isRunning(i)) continue;
      const answer = await request(`${address}/v1/kv/docker-flow/services/${name}?consistent`).catch(() => undefined);
      if (answer?.status === 200) return true;
      if (answer?.status === 404) return false;
    }
    throw new Error('no Consul server answered a consistent read');
  };
  const refuse = async (name: string): Promise<Refusal> => {
    const answer = await sidecar.call(`${BASE}/reconfigure?${route(name)}`, { timeoutMs: 30000 });
    const body = JSON.parse(answer.body);
    const refusal = { status: answer.status, outcome: body.outcome, message: body.message };
    refusals.set(name, refusal);
    return refusal;
  };
  /** Heal, then make sure the sidecar has applied everything the cluster holds. */
  const healed = async (marker: string) => {
    await waitFor(
      `a write (${marker}) to succeed again`,
      async () => (await sidecar.call(`${BASE}/reconfigure?${route(marker)}`, { timeoutMs: 20000 })).status === 200,
      90000,
      500,
    );
  };

  beforeAll(async () => {
    backend = await startBackend('demo');
    cluster = await startConsulCluster(3);
    sidecar = await startSidecar({ env: { CONSUL_ADDRESS: cluster.addresses.join(','), REQUEST_TIMEOUT_MS: '1500', DISTRIBUTE_TIMEOUT_MS: '5000' } });
    expect((await sidecar.call(`${BASE}/reconfigure?${route('first')}`)).status).toBe(200);
    const leader = await cluster.leader();
    followers = [0, 1, 2].filter((i) => i !== leader);
  }, 120000);

  afterAll(async () => {
    await sidecar?.stop();
    await cluster?.stop();
    await backend?.close();
    removeTempDirs();
  });

  it('says in every 503 whether the write may still take effect', async () => {
    await Promise.all(followers.map((i) => cluster.kill(i)));
    for (const name of ['retried', 'undone']) {
      const refusal = await refuse(name);
      expect(refusal.status).toBe(503);
      expect(['unknown', 'not stored']).toContain(refusal.outcome);
      if (refusal.outcome === 'unknown') expect(refusal.message).toMatch(/may still take effect/);
      else expect(refusal.message).toMatch(/not stored/);
    }
    expect(await serves('first')).toBe(true);
  }, 90000);

  it('serves a write exactly as asked once a client repeats it after the cluster heals', async () => {
    await Promise.all(followers.map((i) => cluster.restart(i, 60000)));
    await healed('marker1');
    expect((await sidecar.call(`${BASE}/reconfigure?${route('retried')}`, { timeoutMs: 20000 })).status).toBe(200);
    expect(await serves('retried')).toBe(true);
  }, 120000);

  it('leaves a route absent for good once a client that gave up removes it', async () => {
    if (refusals.get('undone')?.outcome === 'unknown') {
      // As the README says: past Consul's rpc_hold_timeout (7 s) after the cluster has a leader
      // again, no held copy of the write can arrive after the remove.
      await healed('marker-before-remove');
      await new Promise((resolve) => setTimeout(resolve, 8000));
      expect((await sidecar.call(`${BASE}/remove?serviceName=undone`, { timeoutMs: 20000 })).status).toBe(200);
    }
    await healed('marker2');
    expect({ refusal: refusals.get('undone'), inKv: await inKv('undone') }).toEqual({ refusal: refusals.get('undone'), inKv: false });
    expect(await serves('undone')).toBe(false);
  }, 120000);

  it('answers "not stored" when no server could take the write, and it never appears', async () => {
    await Promise.all([0, 1, 2].map((i) => cluster.kill(i)));
    const refusal = await refuse('never');
    expect(refusal).toMatchObject({ status: 503, outcome: 'not stored' });
    await Promise.all([0, 1, 2].map((i) => cluster.restart(i, 60000)));
    await healed('marker3');
    expect(await inKv('never')).toBe(false);
    expect(await serves('never')).toBe(false);
  }, 180000);
});
