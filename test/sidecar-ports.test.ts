import { spawnSync } from 'child_process';
import * as net from 'net';
import { Backend, helloWithSni, RecordingBackend, request, startBackend, startRecordingBackend, startTcpBackend } from './helpers/backends';
import { ConsulCluster, startConsulCluster } from './helpers/consul';
import { masterPids } from './helpers/haproxy-procs';
import { freePorts, waitFor } from './helpers/ports';
import { CLI, RunningSidecar, startSidecar } from './helpers/sidecar';
import { tempDir } from './helpers/tmp';

const BASE = '/v1/docker-flow-proxy';

/** The greeting line a tcp backend sends first, read through HAProxy on `port`. */
async function greeting(port: number): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port });
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
  socket.on('error', () => socket.destroy());
  try {
    await waitFor('the greeting', async () => data.includes('\n'), 5000);
    return data.slice(0, data.indexOf('\n'));
  } finally {
    socket.destroy();
  }
}

/**
 * srcPort through a real HAProxy and a three-server Consul: ports a route can never take (a 400
 * before anything is stored), ports routes share as in Docker Flow Proxy, a port another process
 * holds (refused through the API, left out and reported when written into Consul by hand, with
 * live traffic unharmed), and HAProxy's own ports after its master was killed and restarted.
 */
describe('srcPort: taken, shared and held ports', () => {
  let cluster: ConsulCluster;
  let sidecar: RunningSidecar;
  let web: Backend;
  let db: Backend;
  let db2: Backend;
  let tlsA: RecordingBackend;
  let tlsB: RecordingBackend;
  let tlsC: RecordingBackend;
  let ports: { stats: number; tcp: number; shared: number; alt: number; squat: number };
  const squatter = net.createServer();

  const reconfigure = (params: Record<string, string>) => sidecar.call(`${BASE}/reconfigure?${new URLSearchParams(params).toString()}`, { timeoutMs: 20000 });
  const tcpRoute = (name: string, srcPort: number, port: number, extra: Record<string, string> = {}) => ({
    serviceName: name,
    reqMode: 'tcp',
    srcPort: String(srcPort),
    port: String(port),
    outboundHostname: '127.0.0.1',
    ...extra,
  });
  const stored = async (name: string) => (await request(`${cluster.addresses[0]}/v1/kv/docker-flow/services/${name}`)).status === 200;
  const expectRefused = async (params: Record<string, string>, message: RegExp = /srcPort/) => {
    const answer = await reconfigure(params);
    expect({ status: answer.status, message: JSON.parse(answer.body).message }).toEqual({ status: 400, message: expect.stringMatching(message) });
    expect(await stored(params.serviceName)).toBe(false);
  };
  const invalid = async () => JSON.parse((await sidecar.call('/healthz')).body).applied.invalid as { serviceName: string; reason: string }[];

  beforeAll(async () => {
    cluster = await startConsulCluster(3);
    web = await startBackend('web');
    db = await startTcpBackend('db');
    db2 = await startTcpBackend('db2');
    [tlsA, tlsB, tlsC] = await Promise.all((await freePorts(3)).map((port) => startRecordingBackend(port)));
    // Picked once the other servers listen: a free port is only known to be free until someone binds it.
    const [stats, tcp, shared, alt, squat] = await freePorts(5);
    ports = { stats, tcp, shared, alt, squat };
    await new Promise<void>((resolve) => squatter.listen(squat, '127.0.0.1', resolve));
    const env = {
      CONSUL_ADDRESS: cluster.addresses.join(','),
      STATS_USER: 'admin',
      STATS_PASS: 'pw',
      STATS_PORT: String(stats),
      DISTRIBUTE_TIMEOUT_MS: '15000',
    };
    sidecar = await startSidecar({ stateDir: tempDir('ports-'), env });
    expect((await reconfigure({ serviceName: 'web', servicePath: '/web', port: String(web.port), outboundHostname: '127.0.0.1' })).status).toBe(200);
  }, 120000);

  afterAll(async () => {
    await sidecar?.stop();
    await cluster?.stop();
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    await Promise.all([web, db, db2, tlsA, tlsB, tlsC].map((backend) => backend?.close()));
  });

  it('refuses with 400 naming srcPort, and stores nothing, a route on the API, HTTP or stats port', async () => {
    for (const port of [sidecar.apiPort, sidecar.httpPort, ports.stats]) {
      await expectRefused(tcpRoute(`on-${port}`, port, db.port));
      await expectRefused({ serviceName: `http-on-${port}`, servicePath: '/x', port: String(web.port), srcPort: String(port) });
    }
    expect((await sidecar.through('/web/x')).backend).toBe('web');
  });

  it('refuses a second tcp route on a port a tcp route holds, unless both have a serviceDomain', async () => {
    expect((await reconfigure(tcpRoute('db', ports.tcp, db.port))).status).toBe(200);
    expect(await greeting(ports.tcp)).toBe('db');
    await expectRefused(tcpRoute('db-twin', ports.tcp, db2.port));
    // A name that sorts first must not push the served route off its port.
    await expectRefused(tcpRoute('a-first', ports.tcp, db2.port), /srcPort: port \d+ is already taken by service db/);
    await expectRefused(tcpRoute('db-named', ports.tcp, db2.port, { serviceDomain: 'db.test' }));
    await expectRefused({ serviceName: 'http-on-tcp', servicePath: '/x', port: String(web.port), srcPort: String(ports.tcp) });
    // The CLI checks against what is stored: the same refusal, nothing stored.
    const args = Object.entries(tcpRoute('cli-twin', ports.tcp, db2.port)).map(([name, value]) => `${name}=${value}`);
    const cli = spawnSync(process.execPath, [CLI, 'routes', 'add', ...args], {
      env: { ...process.env, CONSUL_ADDRESS: cluster.addresses.join(',') },
      encoding: 'utf8',
      timeout: 30000,
    });
    expect(cli.stderr).toMatch(/srcPort: port \d+ is already taken by (tcp )?service db/);
    expect(cli.status).not.toBe(0);
    expect(await stored('cli-twin')).toBe(false);
    expect(await greeting(ports.tcp)).toBe('db');
  });

  it('shares one srcPort between tcp services that each have a serviceDomain: the TLS server name picks', async () => {
    expect((await reconfigure(tcpRoute('tls-a', ports.shared, tlsA.port, { serviceDomain: 'a.tls.test' }))).status).toBe(200);
    expect((await reconfigure(tcpRoute('tls-b', ports.shared, tlsB.port, { serviceDomain: 'b.tls.test' }))).status).toBe(200);
    helloWithSni(ports.shared, 'b.tls.test');
    await waitFor('tls-b to receive the ClientHello', async () => tlsB.received.length === 1, 10000);
    helloWithSni(ports.shared, 'a.tls.test');
    await waitFor('tls-a to receive the ClientHello', async () => tlsA.received.length === 1, 10000);
    expect(tlsB.received).toHaveLength(1);
    await expectRefused(tcpRoute('tls-nameless', ports.shared, db.port));
  });

  it('serves an http destination with a srcPort on that port, through a frontend of its own', async () => {
    expect(
      (await reconfigure({ serviceName: 'alt', servicePath: '/alt', port: String(web.port), srcPort: String(ports.alt), outboundHostname: '127.0.0.1' }))
        .status,
    ).toBe(200);
    const answer = await request(`http://127.0.0.1:${ports.alt}/alt/x`);
    expect(answer.backend).toBe('web');
    expect(web.requests.at(-1)?.url).toBe('/alt/x');
    // Entered on its srcPort only (DFP's meaning): the HTTP port does not serve it.
    expect((await sidecar.through('/alt/x')).status).toBe(503);
    expect((await sidecar.through('/web/x')).backend).toBe('web');
  });

  it('refuses with 400 naming srcPort a route on a port another process listens on, and stores nothing', async () => {
    await expectRefused(tcpRoute('squatted', ports.squat, db.port), /srcPort: port \d+ is in use on this host/);
  });

  it("leaves out a hand edit in Consul KV on a taken port, reports it with HAProxy's reason, and clients of other routes see no failure", async () => {
    let failures = 0;
    let requests = 0;
    let load = true;
    const traffic = (async () => {
      while (load) {
        requests++;
        const answer = await sidecar.through('/web/x').catch(() => undefined);
        if (answer?.backend !== 'web') failures++;
      }
    })();
    try {
      const value = JSON.stringify(tcpRoute('squatted', ports.squat, db.port));
      expect((await request(`${cluster.addresses[1]}/v1/kv/docker-flow/services/squatted`, { method: 'PUT', body: value })).status).toBe(200);
      const left = await waitFor(
        'the route to be reported as left out',
        async () => (await invalid()).find((entry) => entry.serviceName === 'squatted'),
        20000,
      );
      expect(left.reason).toMatch(/cannot bind socket \(Address already in use\)/);
      const metrics = (await sidecar.call('/metrics')).body;
      expect(metrics).toMatch(/^haproxy_sidecar_routes_invalid [1-9]/m);
      const logged = sidecar
        .logs()
        .split('\n')
        .filter((line) => line.includes('"serviceName":"squatted"') && line.includes('"level":"error"'));
      expect(logged.join('\n')).toMatch(/cannot bind socket \(Address already in use\)/);
      // Writes go on: a later change is stored and served.
      expect((await reconfigure({ serviceName: 'later', servicePath: '/later', port: String(web.port), outboundHostname: '127.0.0.1' })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 3000));
    } finally {
      load = false;
      await traffic;
    }
    expect({ requests: requests > 10, failures }).toEqual({ requests: true, failures: 0 });
    expect(await greeting(ports.tcp)).toBe('db');
  }, 60000);

  it('keeps its own ports after HAProxy was restarted from the last-known-good config: routes on them change as usual', async () => {
    const [master] = masterPids(sidecar.stateDir);
    process.kill(master, 'SIGKILL');
    await waitFor('a new HAProxy master', async () => masterPids(sidecar.stateDir).some((pid) => pid !== master), 20000);
    await waitFor('the tcp route served again', async () => (await greeting(ports.tcp).catch(() => '')) === 'db', 20000);
    expect((await reconfigure(tcpRoute('db', ports.tcp, db2.port))).status).toBe(200);
    expect(await greeting(ports.tcp)).toBe('db2');
    expect((await reconfigure(tcpRoute('tls-c', ports.shared, tlsC.port, { serviceDomain: 'c.tls.test' }))).status).toBe(200);
    helloWithSni(ports.shared, 'c.tls.test');
    await waitFor('tls-c to receive the ClientHello', async () => tlsC.received.length === 1, 10000);
    expect(
      (await reconfigure({ serviceName: 'alt', servicePath: '/alt2', port: String(web.port), srcPort: String(ports.alt), outboundHostname: '127.0.0.1' }))
        .status,
    ).toBe(200);
    expect((await request(`http://127.0.0.1:${ports.alt}/alt2/x`)).backend).toBe('web');
    expect((await invalid()).map((entry) => entry.serviceName)).toEqual(['squatted']);
  }, 60000);
});
