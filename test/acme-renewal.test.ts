import * as fs from 'fs';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import { Backend, startBackend } from './helpers/backends';
import { handshake, httpsRequest } from './helpers/certs';
import { RunningDnsmasq, startDnsmasq } from './helpers/dnsmasq';
import { RunningPebble, startPebble } from './helpers/pebble';
import { freePort, sleep, waitFor } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';

/**
 * Renewal, on one sidecar with the file store (its lock file is the single-machine case of the
 * fleet's lock). Pebble issues certificates that live 30 days and 15 seconds, so with the default
 * renew-before window of 30 days each one is due 15 s after it was issued: the sidecar renews it
 * in the background, and a failed renewal is retried with backoff and reported while the
 * certificate it has stays served.
 */

const BASE = '/v1/docker-flow-proxy';
const HOST = '127.0.0.6';
const DOMAIN = 'renew.test';
let dns: RunningDnsmasq;
let backend: Backend;
let pebble: RunningPebble;
let root: string;
let sidecar: RunningSidecar;
let httpsPort: number;
/** The sidecar's state folder, removed after it stopped (the shared clean-up runs before this file's afterAll, while it still renews). */
let stateDir: string;

/** The fingerprint of the Pebble-issued certificate the sidecar presents for DOMAIN, if it presents one. */
async function presented(): Promise<string | undefined> {
  const seen = await handshake({ host: HOST, port: httpsPort, servername: DOMAIN, ca: root }).catch(() => undefined);
  return seen?.authorized && seen.altNames === `DNS:${DOMAIN}` ? seen.fingerprint : undefined;
}

async function health(): Promise<{ status: number; body: { message: string; acme: { certs: { failures: number }[] } } }> {
  const answer = await sidecar.call('/healthz');
  return { status: answer.status, body: JSON.parse(answer.body) };
}

beforeAll(async () => {
  backend = await startBackend('app');
  dns = await startDnsmasq({ [DOMAIN]: [HOST] });
  const httpPort = await freePort(HOST);
  httpsPort = await freePort(HOST);
  pebble = await startPebble({ httpPort, dnsServer: dns.address, validitySeconds: 30 * 86400 + 15 });
  root = await pebble.issuingRoot();
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-renewal-state-'));
  sidecar = await startSidecar({
    host: HOST,
    httpPort,
    stateDir,
    env: {
      DEFAULT_PORTS: `${httpPort},${httpsPort}:ssl`,
      ACME_EMAIL: 'ops@example.test',
      ACME_DIRECTORY_URL: pebble.directoryUrl,
      ACME_CA_FILE: pebble.caFile,
    },
  });
  const route = `serviceName=renew&serviceDomain=${DOMAIN}&letsencrypt=true&port=${backend.port}&outboundHostname=127.0.0.1`;
  expect((await sidecar.call(`${BASE}/reconfigure?${route}`)).status).toBe(200);
}, 60000);

afterAll(async () => {
  await sidecar?.stop();
  await pebble?.stop();
  await dns?.stop();
  await backend?.close();
  if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true, maxRetries: 5 });
});

it('renews a certificate once it is due, with zero failed HTTPS requests while it changes', async () => {
  const first = await waitFor('a Pebble certificate for renew.test', presented, 60000, 100);
  const agents = [new https.Agent({ keepAlive: true, maxSockets: 1 }), new https.Agent({ keepAlive: true, maxSockets: 1 })];
  let ok = 0;
  let failed = 0;
  let running = true;
  // Two clients on keep-alive connections, two on a new connection (a new handshake) per request.
  const client = async (agent: https.Agent | undefined) => {
    while (running) {
      const answer = await httpsRequest({ host: HOST, port: httpsPort, servername: DOMAIN, path: '/x', ca: root, agent }).catch(() => undefined);
      if (answer?.status === 200) ok++;
      else failed++;
    }
  };
  const clients = [agents[0], agents[1], undefined, undefined].map(client);
  const renewed = await waitFor(
    'the renewed certificate',
    async () => {
      const now = await presented();
      return now !== undefined && now !== first ? now : undefined;
    },
    60000,
    100,
  );
  await sleep(300);
  running = false;
  await Promise.all(clients);
  for (const agent of agents) agent.destroy();
  expect(renewed).not.toBe(first);
  expect(failed).toBe(0);
  expect(ok).toBeGreaterThan(20);
  const metrics = (await sidecar.call('/metrics')).body;
  expect(metrics).toMatch(/haproxy_sidecar_acme_orders_total\{outcome="issued"\} [2-9]/);
  // The new certificate went live through the Runtime API, without a reload.
  expect(metrics).toMatch(/haproxy_sidecar_reloads_total\{outcome="runtime"\} [1-9]/);
}, 150000);

it('reports a failing renewal on /metrics and /healthz, keeps serving the certificate it has, and retries', async () => {
  // The CA can no longer reach the domain: every validation fails.
  await dns.setRecords(DOMAIN, []);
  const current = await waitFor('a Pebble certificate for renew.test', presented, 10000, 100);
  await waitFor('a failed renewal on /healthz', async () => (await health()).body.acme.certs[0].failures > 0, 60000, 200);
  const report = await health();
  expect(report.status).toBe(200);
  expect(report.body.message).toMatch(/degraded: ACME orders failing: acme-renew \(\d+ failures, last: /);
  const metrics = (await sidecar.call('/metrics')).body;
  expect(metrics).toMatch(/haproxy_sidecar_acme_cert_failures\{cert="acme-renew"\} [1-9]/);
  expect(metrics).toMatch(/haproxy_sidecar_acme_orders_total\{outcome="failed"\} [1-9]/);
  expect(await presented()).toBe(current);
  // Back on its feet: the next attempt (after the backoff) succeeds, and the report clears.
  await dns.setRecords(DOMAIN, [HOST]);
  await waitFor(
    'a renewal after the failures',
    async () => {
      const now = await presented();
      return now !== undefined && now !== current && (await health()).body.acme.certs[0].failures === 0;
    },
    60000,
    200,
  );
}, 150000);
