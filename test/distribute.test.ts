import { Backend, request, startBackend } from './helpers/backends';
import { ConsulAgent, startConsulAgent } from './helpers/consul';
import { RunningDnsmasq, startDnsmasq } from './helpers/dnsmasq';
import { freePort, waitFor } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';
import { removeTempDirs, tempDir } from './helpers/tmp';

const BASE = '/v1/docker-flow-proxy';
const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];

interface Fleet {
  readonly replicas: RunningSidecar[];
  readonly start: (i: number) => Promise<RunningSidecar>;
}

/** Three replicas on 127.0.0.2-4 sharing one API port and one HTTP port, as in a swarm. */
async function startFleet(env: Record<string, string>): Promise<Fleet> {
  const apiPort = await freePort('127.0.0.2');
  const httpPort = await freePort('127.0.0.2');
  const stateDirs = HOSTS.map(() => tempDir('replica-'));
  const start = (i: number) => startSidecar({ host: HOSTS[i], apiPort, httpPort, stateDir: stateDirs[i], env });
  const replicas = await Promise.all(HOSTS.map((_h, i) => start(i)));
  return { replicas, start };
}

async function stopFleet(fleet: Fleet | undefined): Promise<void> {
  await Promise.all((fleet?.replicas ?? []).map((r) => r.stop()));
}

/** Wait until every replica is ready (the latest store index it heard of is live) and all have
 * published the same index: HAProxy may serve a change before its replica publishes it, and
 * replicas that agree on an older index are not settled yet. */
async function settled(fleet: Fleet): Promise<void> {
  await waitFor(
    'the replicas to apply the latest store index',
    async () => {
      const ready = await Promise.all(fleet.replicas.map(async (r) => (await r.call('/readyz')).status === 200));
      const indexes = await Promise.all(fleet.replicas.map(async (r) => JSON.parse((await r.call(`${BASE}/config?type=json`)).body).index));
      return ready.every(Boolean) && indexes.every((index) => index === indexes[0]);
    },
    20000,
  );
}

function routeQuery(name: string, path: string, backend: Backend): string {
  return `serviceName=${name}&servicePath=${path}&port=${backend.port}&outboundHostname=127.0.0.1`;
}

describe('distribute=true with Consul: every replica serves the change before the answer', () => {
  let dns: RunningDnsmasq;
  let consul: ConsulAgent;
  let fleet: Fleet;
  let goDemo: Backend;
  let moved: Backend;
  const runtimeApplies = async (replica: RunningSidecar) =>
    Number(/haproxy_sidecar_reloads_total\{outcome="runtime"\} (\d+)/.exec((await replica.call('/metrics')).body)?.[1] ?? NaN);

  beforeAll(async () => {
    goDemo = await startBackend('go-demo');
    // The same port on another loopback address: moving go-demo there keeps its backend go-demo-be<port>.
    moved = await startBackend('go-demo-moved', '127.0.0.5', goDemo.port);
    dns = await startDnsmasq({ 'tasks.proxy': HOSTS });
    consul = await startConsulAgent();
    fleet = await startFleet({ CONSUL_ADDRESS: consul.address, DNS_SERVER: dns.address, SERVICE_NAME: 'proxy', DISTRIBUTE_TIMEOUT_MS: '3000' });
  }, 120000);

  afterAll(async () => {
    await stopFleet(fleet);
    await consul?.stop();
    await dns?.stop();
    await goDemo?.close();
    await moved?.close();
    removeTempDirs();
  });

  it('answers 200 only when a request through EACH replica reaches the new backend', async () => {
    const answer = await fleet.replicas[1].call(`${BASE}/reconfigure?${routeQuery('go-demo', '/demo', goDemo)}&distribute=true`);
    expect(answer.status).toBe(200);
    const body = JSON.parse(answer.body);
    expect(body.replicas).toHaveLength(3);
    expect(body.replicas.every((r: { status: string }) => r.status === 'OK')).toBe(true);
    for (const replica of fleet.replicas) {
      const through = await replica.through('/demo/hello');
      expect(through.backend).toBe('go-demo');
    }
  });

  it('moves a path on every replica without a reload (route maps, Runtime API), and answers 200 only once all serve it', async () => {
    await settled(fleet);
    const before = await Promise.all(fleet.replicas.map(runtimeApplies));
    const answer = await fleet.replicas[0].call(`${BASE}/reconfigure?${routeQuery('go-demo', '/moved', goDemo)}&distribute=true`);
    expect(answer.status).toBe(200);
    for (const replica of fleet.replicas) {
      expect((await replica.through('/moved/x')).backend).toBe('go-demo');
      expect((await replica.through('/demo/x')).status).toBe(503);
    }
    const after = await Promise.all(fleet.replicas.map(runtimeApplies));
    after.forEach((count, i) => expect(count).toBeGreaterThan(before[i]));
    await fleet.replicas[0].call(`${BASE}/reconfigure?${routeQuery('go-demo', '/demo', goDemo)}&distribute=true`);
  });

  it('moves a server to another address on every replica without a reload (Runtime API), and answers 200 only once all serve it', async () => {
    await settled(fleet);
    const before = await Promise.all(fleet.replicas.map(runtimeApplies));
    const query = `serviceName=go-demo&servicePath=/demo&port=${goDemo.port}&outboundHostname=127.0.0.5&distribute=true`;
    expect((await fleet.replicas[2].call(`${BASE}/reconfigure?${query}`)).status).toBe(200);
    for (const replica of fleet.replicas) expect((await replica.through('/demo/x')).backend).toBe('go-demo-moved');
    const after = await Promise.all(fleet.replicas.map(runtimeApplies));
    after.forEach((count, i) => expect(count).toBeGreaterThan(before[i]));
    expect((await fleet.replicas[2].call(`${BASE}/reconfigure?${routeQuery('go-demo', '/demo', goDemo)}&distribute=true`)).status).toBe(200);
    for (const replica of fleet.replicas) expect((await replica.through('/demo/x')).backend).toBe('go-demo');
  });

  // How fast a hand edit goes live on three replicas is bench/kv-fleet.ts's figure; here only that it does.
  it('applies a hand edit in Consul KV on all three replicas', async () => {
    const value = JSON.stringify({ serviceName: 'hand', servicePath: '/hand', port: String(goDemo.port), outboundHostname: '127.0.0.1' });
    const put = await request(`${consul.address}/v1/kv/docker-flow/services/hand`, { method: 'PUT', body: value });
    expect(put.status).toBe(200);
    await waitFor(
      'all replicas to serve /hand',
      async () => {
        const answers = await Promise.all(fleet.replicas.map((r) => r.through('/hand/x')));
        return answers.every((a) => a.backend === 'go-demo');
      },
      20000,
    );
  });

  it('refuses bad parameters with 400 naming them and changes nothing on any replica', async () => {
    await settled(fleet);
    const before = await Promise.all(fleet.replicas.map((r) => r.call(`${BASE}/config`)));
    const answer = await fleet.replicas[0].call(`${BASE}/reconfigure?serviceName=bad&servicePath=/bad&port=99999&distribute=true`);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).message).toContain('port');
    const after = await Promise.all(fleet.replicas.map((r) => r.call(`${BASE}/config`)));
    expect(after.map((a) => a.body)).toEqual(before.map((b) => b.body));
  });

  it('removes a route from every replica', async () => {
    const answer = await fleet.replicas[2].call(`${BASE}/remove?serviceName=hand&distribute=true`);
    expect(answer.status).toBe(200);
    for (const replica of fleet.replicas) expect((await replica.through('/hand/x')).status).toBe(503);
  });

  it('names a stopped replica in a 500, and the stopped replica converges when it comes back', async () => {
    await fleet.replicas[2].stop();
    const answer = await fleet.replicas[0].call(`${BASE}/reconfigure?${routeQuery('late', '/late', goDemo)}&distribute=true`);
    expect(answer.status).toBe(500);
    const body = JSON.parse(answer.body);
    expect(body.message).toContain(HOSTS[2]);
    expect(body.message).not.toContain(HOSTS[0]);
    for (const replica of fleet.replicas.slice(0, 2)) expect((await replica.through('/late/x')).backend).toBe('go-demo');
    fleet.replicas[2] = await fleet.start(2);
    await waitFor('the restarted replica to serve /late', async () => (await fleet.replicas[2].through('/late/x')).backend === 'go-demo', 5000);
  });

  it('gives a clear error naming SERVICE_NAME when tasks.<SERVICE_NAME> does not resolve', async () => {
    await dns.setRecords('tasks.proxy', []);
    const answer = await fleet.replicas[0].call(`${BASE}/reconfigure?${routeQuery('orphan', '/orphan', goDemo)}&distribute=true`);
    await dns.setRecords('tasks.proxy', HOSTS);
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body).message).toContain('SERVICE_NAME');
    expect((await fleet.replicas[0].through('/orphan/x')).status).toBe(503);
  });
});

describe('distribute=true without Consul: the request is forwarded to every replica', () => {
  let dns: RunningDnsmasq;
  let fleet: Fleet;
  let goDemo: Backend;

  beforeAll(async () => {
    goDemo = await startBackend('go-demo');
    dns = await startDnsmasq({ 'tasks.proxy': HOSTS });
    fleet = await startFleet({ DNS_SERVER: dns.address, SERVICE_NAME: 'proxy', DISTRIBUTE_TIMEOUT_MS: '3000' });
  }, 60000);

  afterAll(async () => {
    await stopFleet(fleet);
    await dns?.stop();
    await goDemo?.close();
    removeTempDirs();
  });

  it('serves the route on all three replicas after the forwarded requests', async () => {
    const answer = await fleet.replicas[0].call(`${BASE}/reconfigure?${routeQuery('go-demo', '/demo', goDemo)}&distribute=true`);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).replicas).toHaveLength(3);
    for (const replica of fleet.replicas) expect((await replica.through('/demo/x')).backend).toBe('go-demo');
  });

  it('refuses bad parameters before forwarding anything', async () => {
    const answer = await fleet.replicas[0].call(`${BASE}/reconfigure?serviceName=bad&servicePath=/bad&port=8080&reqMode=udp&distribute=true`);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).message).toContain('reqMode');
    for (const replica of fleet.replicas) {
      const routes = JSON.parse((await replica.call(`${BASE}/config?type=json`)).body).routes;
      expect(routes.map((r: { serviceName: string }) => r.serviceName)).toEqual(['go-demo']);
    }
  });

  it('reads distribute=1 like distribute=true (the words of every boolean parameter) and refuses distribute=yes naming it', async () => {
    const yes = await fleet.replicas[0].call(`${BASE}/reconfigure?${routeQuery('flagged', '/flagged', goDemo)}&distribute=yes`);
    expect(yes.status).toBe(400);
    expect(JSON.parse(yes.body).message).toContain('distribute');
    expect((await fleet.replicas[0].through('/flagged/x')).status).toBe(503);
    const one = await fleet.replicas[0].call(`${BASE}/reconfigure?${routeQuery('flagged', '/flagged', goDemo)}&distribute=1`);
    expect(one.status).toBe(200);
    expect(JSON.parse(one.body).replicas).toHaveLength(3);
    for (const replica of fleet.replicas) expect((await replica.through('/flagged/x')).backend).toBe('go-demo');
  });

  it('names a stopped replica in a 500 while the others serve the route', async () => {
    await fleet.replicas[1].stop();
    const answer = await fleet.replicas[0].call(`${BASE}/reconfigure?${routeQuery('second', '/second', goDemo)}&distribute=true`);
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body).message).toContain(HOSTS[1]);
    expect((await fleet.replicas[0].through('/second/x')).backend).toBe('go-demo');
    expect((await fleet.replicas[2].through('/second/x')).backend).toBe('go-demo');
  });
});
