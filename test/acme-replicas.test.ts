import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Backend, request, startBackend } from './helpers/backends';
import { handshake, httpsRequest } from './helpers/certs';
import { ConsulAgent, startConsulAgent } from './helpers/consul';
import { RunningDnsmasq, startDnsmasq } from './helpers/dnsmasq';
import { masterPids } from './helpers/haproxy-procs';
import { RunningPebble, startPebble } from './helpers/pebble';
import { freePort, sleep, waitFor } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';

/**
 * Automatic certificates for a fleet: three replicas on one Consul and Pebble (Let's Encrypt's
 * test CA) on loopback. Pebble validates HTTP-01 by connecting to HAProxy's HTTP port on the
 * address a domain resolves to in the test dnsmasq, i.e. on one chosen replica, whichever one
 * ordered. One order reaches Pebble for three replicas; all three present the certificate;
 * a replica killed while it holds the lock mid-order leaves the order to another.
 */

const BASE = '/v1/docker-flow-proxy';
const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
let consul: ConsulAgent;
let dns: RunningDnsmasq;
let backend: Backend;
let pebble: RunningPebble;
let root: string;
let replicas: RunningSidecar[];
let httpsPort: number;

const route = (name: string, domains: string) =>
  `serviceName=${name}&serviceDomain=${domains}&letsencrypt=true&port=${backend.port}&outboundHostname=127.0.0.1`;

/** What `replica` presents for `servername`, if the certificate verifies against Pebble's root. */
async function pebbleCert(replica: RunningSidecar, servername: string): Promise<string | undefined> {
  const seen = await handshake({ host: replica.host, port: httpsPort, servername, ca: root }).catch(() => undefined);
  return seen?.authorized && seen.altNames.split(', ').includes(`DNS:${servername}`) ? seen.fingerprint : undefined;
}

/** The fingerprint every one of `among` presents for `servername`, once they all present the same Pebble-issued certificate. */
async function samePebbleCert(among: readonly RunningSidecar[], servername: string): Promise<string | false> {
  const seen = await Promise.all(among.map((replica) => pebbleCert(replica, servername)));
  return seen.every((fingerprint) => fingerprint !== undefined && fingerprint === seen[0]) ? (seen[0] as string) : false;
}

/** State folders of this file's sidecars, removed after they stopped (the shared clean-up runs before this file's afterAll). */
const stateDirs: string[] = [];
function stateDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-state-'));
  stateDirs.push(dir);
  return dir;
}

async function consulKey(key: string): Promise<{ status: number; body: string }> {
  return request(`${consul.address}/v1/kv/docker-flow/${key}`);
}

beforeAll(async () => {
  backend = await startBackend('app');
  dns = await startDnsmasq({ 'tasks.proxy': HOSTS });
  consul = await startConsulAgent();
  const apiPort = await freePort('127.0.0.2');
  const httpPort = await freePort('127.0.0.2');
  httpsPort = await freePort('127.0.0.2');
  pebble = await startPebble({ httpPort, dnsServer: dns.address });
  root = await pebble.issuingRoot();
  const env = {
    CONSUL_ADDRESS: consul.address,
    DNS_SERVER: dns.address,
    SERVICE_NAME: 'proxy',
    DEFAULT_PORTS: `${httpPort},${httpsPort}:ssl`,
    DISTRIBUTE_TIMEOUT_MS: '5000',
    ACME_EMAIL: 'ops@example.test',
    ACME_DIRECTORY_URL: pebble.directoryUrl,
    ACME_CA_FILE: pebble.caFile,
  };
  replicas = await Promise.all(HOSTS.map((host) => startSidecar({ host, apiPort, httpPort, stateDir: stateDir(), env })));
}, 120000);

afterAll(async () => {
  await Promise.all((replicas ?? []).map((replica) => replica.stop()));
  await pebble?.stop();
  await consul?.stop();
  await dns?.stop();
  await backend?.close();
  for (const dir of stateDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
});

it('orders one certificate for three replicas, and every replica presents it', async () => {
  // Pebble validates each domain on another replica: at least one of them did not order.
  await dns.setRecords('shop.test', [HOSTS[1]]);
  await dns.setRecords('www.shop.test', [HOSTS[2]]);
  const answer = await replicas[0].call(`${BASE}/reconfigure?${route('shop', 'shop.test,www.shop.test')}`);
  expect(answer.status).toBe(200);
  const fingerprint = await waitFor(
    'all three replicas to present a Pebble certificate for shop.test',
    () => samePebbleCert(replicas, 'shop.test'),
    60000,
    100,
  );
  for (const replica of replicas) {
    const through = await httpsRequest({ host: replica.host, port: httpsPort, servername: 'www.shop.test', path: '/x', ca: root });
    expect(through.backend).toBe('app');
  }
  // Replicas that found the lock held look again after 2 s; give them the time to (not) order.
  await sleep(3000);
  expect(pebble.orders()).toBe(1);
  expect(await samePebbleCert(replicas, 'www.shop.test')).toBe(fingerprint);
  const listed = JSON.parse((await replicas[2].call(`${BASE}/certs`)).body);
  expect(JSON.stringify(listed)).toContain('acme-shop');
  expect(JSON.stringify(listed)).not.toMatch(/PRIVATE KEY/);
  // The account key and the certificate live in the store, never in a log or an answer.
  expect((await consulKey('acme/account?raw')).body).toMatch(/PRIVATE KEY/);
  expect((await consulKey('certs/acme-shop?raw')).body).toMatch(/PRIVATE KEY/);
  for (const replica of replicas) expect(replica.logs()).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
  const health = JSON.parse((await replicas[1].call('/healthz')).body);
  expect(health.acme.certs).toEqual([{ certName: 'acme-shop', domains: ['shop.test', 'www.shop.test'], failures: 0 }]);
}, 90000);

it('refuses letsencrypt=true for a wildcard domain with a 400 naming the parameter, and stores nothing', async () => {
  const answer = await replicas[1].call(`${BASE}/reconfigure?${route('wild', '*.shop.test')}`);
  expect(answer.status).toBe(400);
  expect(JSON.parse(answer.body).message).toMatch(/^letsencrypt: .*wildcard/);
  expect((await consulKey('services/wild')).status).toBe(404);
});

it('ends with a certificate when the replica holding the lock dies mid-order', async () => {
  await dns.setRecords('late.test', [HOSTS[0]]);
  const ordersBefore = pebble.orders();
  expect((await replicas[2].call(`${BASE}/reconfigure?${route('late', 'late.test')}`)).status).toBe(200);
  // Mid-order: the order is at Pebble and its challenge is published, the certificate not yet stored.
  await waitFor('the first ACME challenge of the order', async () => (await consulKey('acme/challenges/?keys')).status === 200, 30000, 10);
  const lock = JSON.parse((await consulKey('acme/locks/acme-late')).body) as { Session: string }[];
  const session = JSON.parse((await request(`${consul.address}/v1/session/info/${lock[0].Session}`)).body) as { Name: string }[];
  const holder = replicas.find((replica) => session[0].Name.includes(`pid ${replica.pid} `));
  if (!holder) throw new Error(`no replica holds the lock: ${session[0]?.Name}`);
  holder.crash();
  // The whole replica goes, its HAProxy too, as when its container dies.
  for (const pid of masterPids(holder.stateDir)) process.kill(pid, 'SIGTERM');
  expect((await consulKey('certs/acme-late')).status).toBe(404);
  expect(pebble.orders()).toBe(ordersBefore + 1);
  const survivors = replicas.filter((replica) => replica !== holder);
  // The routing mesh stops sending to the dead replica: the domain now reaches a survivor.
  await dns.setRecords('late.test', [survivors[0].host]);
  // Consul frees the dead holder's lock within two session TTLs (10 s each); a survivor then orders again.
  await waitFor('both survivors to present a Pebble certificate for late.test', () => samePebbleCert(survivors, 'late.test'), 90000, 200);
  expect(pebble.orders()).toBe(ordersBefore + 2);
  const health = JSON.parse((await survivors[0].call('/healthz')).body);
  expect(health.status).toBe('OK');
}, 120000);
