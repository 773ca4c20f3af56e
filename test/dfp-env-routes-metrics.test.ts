import { spawnSync } from 'child_process';
import { Backend, startBackend } from './helpers/backends';
import { RunningDnsmasq, startDnsmasq } from './helpers/dnsmasq';
import { freePort } from './helpers/ports';
import { CLI, RunningSidecar, startSidecar } from './helpers/sidecar';
import { removeTempDirs, tempDir } from './helpers/tmp';

/**
 * DFP_SERVICE_* routes from the environment, served as soon as the sidecar answers, and DFP's
 * /metrics endpoint: HAProxy's statistics CSV of one replica, or of all of them with distribute=true.
 */

const BASE = '/v1/docker-flow-proxy';
const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];

let goDemo: Backend;
let api: Backend;

beforeAll(async () => {
  goDemo = await startBackend('go-demo');
  api = await startBackend('api');
});

afterAll(async () => {
  await goDemo?.close();
  await api?.close();
  removeTempDirs();
});

describe('DFP_SERVICE_* routes', () => {
  let sidecar: RunningSidecar;

  beforeAll(async () => {
    sidecar = await startSidecar({
      env: {
        // DFP's own example, with the service on loopback.
        DFP_SERVICE_1_SERVICE_NAME: 'go-demo',
        DFP_SERVICE_1_SERVICE_PATH: '/demo',
        DFP_SERVICE_1_PORT: String(goDemo.port),
        DFP_SERVICE_1_OUTBOUND_HOSTNAME: '127.0.0.1',
        // The unnumbered service, with two destinations (PORT_1 -> port.1) and its own users.
        DFP_SERVICE_SERVICE_NAME: 'api',
        DFP_SERVICE_OUTBOUND_HOSTNAME: '127.0.0.1',
        DFP_SERVICE_PORT_1: String(api.port),
        DFP_SERVICE_SERVICE_PATH_1: '/api',
        DFP_SERVICE_PORT_2: String(goDemo.port),
        DFP_SERVICE_SERVICE_PATH_2: '/legacy',
        DFP_SERVICE_USERS: 'alice:wonder',
      },
    });
  }, 30000);

  afterAll(async () => sidecar?.stop());

  it('serves them as soon as the sidecar answers, as if reconfigure had been called', async () => {
    expect((await sidecar.through('/demo/hello')).backend).toBe('go-demo');
    const auth = { Authorization: `Basic ${Buffer.from('alice:wonder').toString('base64')}` };
    expect((await sidecar.through('/api/x')).status).toBe(401);
    expect((await sidecar.through('/api/x', auth)).backend).toBe('api');
    expect((await sidecar.through('/legacy/x', auth)).backend).toBe('go-demo');
    const names = JSON.parse((await sidecar.call(`${BASE}/config?type=json`)).body).routes.map((r: { serviceName: string }) => r.serviceName);
    expect(names.sort()).toEqual(['api', 'go-demo']);
    expect(sidecar.logs()).not.toContain('wonder');
  });

  it('stops the start with exit code 2 naming the variable of a bad value', () => {
    const result = spawnSync(process.execPath, [CLI, 'serve'], {
      env: {
        ...process.env,
        DFP_SERVICE_3_SERVICE_NAME: 'bad',
        DFP_SERVICE_3_SERVICE_PATH: '/bad',
        DFP_SERVICE_3_PORT: 'eighty',
        STATE_DIR: tempDir('bad-env-route-'),
        LISTEN_ADDRESS: '127.0.0.1:1',
        DEFAULT_PORTS: '1',
      },
      encoding: 'utf8',
      timeout: 30000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('DFP_SERVICE_3_PORT: ');
  });
});

/** The data lines of a stats CSV as `pxname,svname`. */
function proxies(csv: string): string[] {
  return csv
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(',').slice(0, 2).join(','));
}

describe('/v1/docker-flow-proxy/metrics', () => {
  let dns: RunningDnsmasq;
  let replicas: RunningSidecar[];

  beforeAll(async () => {
    dns = await startDnsmasq({ 'tasks.proxy': HOSTS });
    const apiPort = await freePort('127.0.0.2');
    const httpPort = await freePort('127.0.0.2');
    replicas = await Promise.all(
      HOSTS.map((host) => startSidecar({ host, apiPort, httpPort, env: { DNS_SERVER: dns.address, DISTRIBUTE_TIMEOUT_MS: '5000' } })),
    );
    // Each replica has its own file store: a route of its own shows whose lines are whose.
    await Promise.all(
      replicas.map(async (replica, i) => {
        const query = new URLSearchParams({ serviceName: `svc-${i}`, servicePath: `/svc-${i}`, port: String(goDemo.port), outboundHostname: '127.0.0.1' });
        expect((await replica.call(`${BASE}/reconfigure?${query.toString()}`)).status).toBe(200);
      }),
    );
  }, 60000);

  afterAll(async () => {
    await Promise.all((replicas ?? []).map((r) => r.stop()));
    await dns?.stop();
  });

  it("answers HAProxy's statistics CSV of this replica, counting the requests it served", async () => {
    for (let i = 0; i < 3; i++) expect((await replicas[0].through('/svc-0/x')).backend).toBe('go-demo');
    const answer = await replicas[0].call(`${BASE}/metrics`);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toContain('text/csv');
    const [header, ...rows] = answer.body.split('\n');
    expect(header).toMatch(/^# pxname,svname,qcur,qmax,scur,smax,slim,stot,/);
    expect(proxies(answer.body)).toEqual(expect.arrayContaining(['services,FRONTEND', `svc-0-be${goDemo.port},BACKEND`]));
    expect(proxies(answer.body).some((p) => p.startsWith('svc-1'))).toBe(false);
    const columns = header.slice(2).split(',');
    const backend = rows.map((row) => row.split(',')).find((cells) => cells[0] === `svc-0-be${goDemo.port}` && cells[1] === 'BACKEND');
    expect(Number(backend?.[columns.indexOf('stot')])).toBeGreaterThanOrEqual(3);
  });

  it('gathers every replica with distribute=true: one header, the lines of all three', async () => {
    const answer = await replicas[1].call(`${BASE}/metrics?distribute=true`);
    expect(answer.status).toBe(200);
    expect(answer.body.split('\n').filter((line) => line.startsWith('# '))).toHaveLength(1);
    const names = proxies(answer.body);
    for (let i = 0; i < 3; i++) expect(names).toContain(`svc-${i}-be${goDemo.port},BACKEND`);
    expect(names.filter((p) => p === 'services,FRONTEND')).toHaveLength(3);
  });

  it('names a replica that does not answer in a 500', async () => {
    await replicas[2].stop();
    const answer = await replicas[0].call(`${BASE}/metrics?distribute=true`, { timeoutMs: 15000 });
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body).message).toContain('127.0.0.4');
  });
});
