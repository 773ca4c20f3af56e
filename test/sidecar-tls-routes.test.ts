import * as fs from 'fs';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { request } from './helpers/backends';
import { createCa, handshake, httpsRequest, issueCert, mismatchedPem, TestCa, TestCert } from './helpers/certs';
import { freePort } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';

/**
 * Route parameters that need TLS, through real HAProxy: serviceCert on reconfigure (DFP's PEM
 * with `\n`), verifyClientSsl with CA_FILE (client certificates), sslVerifyNone (TLS to the
 * service's servers).
 */

const BASE = '/v1/docker-flow-proxy';
let ca: TestCa;
let clientCa: TestCa;
let sidecar: RunningSidecar;
let httpsPort: number;
let tlsBackend: https.Server;
let tlsBackendPort: number;
let secure: TestCert;

/**
 * State folders of this file's sidecars, removed here after they stopped: the shared clean-up
 * runs before this file's afterAll, while a sidecar could still write into its folder.
 */
const stateDirs: string[] = [];
function stateDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'https-state-'));
  stateDirs.push(dir);
  return dir;
}
const removeStateDirs = () => {
  for (const dir of stateDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
};

beforeAll(async () => {
  ca = createCa();
  clientCa = createCa('client CA');
  const serverCert = issueCert(ca, ['backend.test']);
  tlsBackend = https.createServer({ cert: serverCert.cert, key: serverCert.key }, (req, res) => {
    res.writeHead(200, { 'X-Backend': 'tls-backend', 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ encrypted: true, path: req.url }));
  });
  await new Promise<void>((resolve) => tlsBackend.listen(0, '127.0.0.1', resolve));
  tlsBackendPort = (tlsBackend.address() as AddressInfo).port;
  const httpPort = await freePort();
  httpsPort = await freePort();
  sidecar = await startSidecar({ httpPort, stateDir: stateDir(), env: { DEFAULT_PORTS: `${httpPort},${httpsPort}:ssl`, CA_FILE: clientCa.certPath } });
  secure = issueCert(ca, ['secure.test']);
}, 60000);

afterAll(async () => {
  await sidecar?.stop();
  await new Promise((resolve) => tlsBackend?.close(resolve));
  removeStateDirs();
});

const escaped = (pem: string) => encodeURIComponent(pem.replace(/\n/g, '\\n'));
const secureRoute = `serviceName=secure&servicePath=/secure&port=${0}&outboundHostname=127.0.0.1&verifyClientSsl=true&sslVerifyNone=true`;

it('refuses a serviceCert that does not validate with 400 naming serviceCert, and stores neither certificate nor route', async () => {
  const route = secureRoute.replace('port=0', `port=${tlsBackendPort}`);
  const answer = await sidecar.call(`${BASE}/reconfigure?${route}&serviceCert=${escaped(mismatchedPem(ca, ['secure.test']))}`);
  expect(answer.status).toBe(400);
  expect(JSON.parse(answer.body).message).toMatch(/^serviceCert: the private key does not match/);
  expect(JSON.parse((await sidecar.call(`${BASE}/certs`)).body).certs).toEqual([]);
  expect(JSON.parse((await sidecar.call(`${BASE}/config?type=json`)).body).routes).toEqual([]);
});

it('stores serviceCert (PEM with \\n) as the certificate of the service and serves it by SNI', async () => {
  const route = secureRoute.replace('port=0', `port=${tlsBackendPort}`);
  const answer = await sidecar.call(`${BASE}/reconfigure?${route}&serviceCert=${escaped(secure.pem)}`);
  expect(answer.status).toBe(200);
  expect(answer.body).not.toMatch(/PRIVATE KEY/);
  expect((await handshake({ port: httpsPort, servername: 'secure.test' })).fingerprint).toBe(secure.fingerprint);
  const stored = JSON.parse((await sidecar.call(`${BASE}/config?type=json`)).body).routes[0];
  expect(stored.serviceCert).toBeUndefined();
});

it('asks for a client certificate: verifyClientSsl routes answer 403 without one that CA_FILE signed', async () => {
  const client = issueCert(clientCa, ['client.test']);
  const stranger = issueCert(ca, ['stranger.test']);
  const get = (clientCert?: TestCert) =>
    httpsRequest({
      port: httpsPort,
      servername: 'secure.test',
      path: '/secure/x',
      ca: ca.cert,
      clientCert: clientCert && { cert: clientCert.cert, key: clientCert.key },
    });
  const verified = await get(client);
  expect(verified.status).toBe(200);
  expect(verified.backend).toBe('tls-backend');
  expect((await get()).status).toBe(403);
  expect((await get(stranger)).status).toBe(403);
});

it('speaks TLS to the servers of an sslVerifyNone route', async () => {
  const route = `serviceName=plain&servicePath=/plain&port=${tlsBackendPort}&outboundHostname=127.0.0.1&sslVerifyNone=true`;
  expect((await sidecar.call(`${BASE}/reconfigure?${route}`)).status).toBe(200);
  const answer = await request(`${sidecar.proxy}/plain/x`);
  expect(answer.status).toBe(200);
  expect(JSON.parse(answer.body).encrypted).toBe(true);
});
