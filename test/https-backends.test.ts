import * as fs from 'fs';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { request } from './helpers/backends';
import { createCa, issueCert, TestCert } from './helpers/certs';
import { RunningDnsmasq, startDnsmasq } from './helpers/dnsmasq';
import { waitFor } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';

/**
 * TLS to the services' servers with their certificates verified (sslVerify=true): against
 * BACKEND_CA_FILE and the host name HAProxy connects to. A server whose certificate does not verify
 * gets no request: the client sees a 503, and the access log (DEBUG) names the backend.
 */

const BASE = '/v1/docker-flow-proxy';
const backendCa = createCa('backend CA');
const rogueCa = createCa('rogue CA');
let dns: RunningDnsmasq;
let sidecar: RunningSidecar;
const servers: https.Server[] = [];

async function tlsServer(name: string, cert: TestCert): Promise<number> {
  const server = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    res.writeHead(200, { 'X-Backend': name, 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ servername: (req.socket as import('tls').TLSSocket).servername ?? null }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

/**
 * State folders of this file's sidecars, removed here after they stopped: the shared clean-up
 * runs before this file's afterAll, while a sidecar could still write into its folder.
 */
const stateDirs: string[] = [];
function stateDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'https-backends-state-'));
  stateDirs.push(dir);
  return dir;
}

const reconfigure = (query: string) => sidecar.call(`${BASE}/reconfigure?${query}`);

beforeAll(async () => {
  dns = await startDnsmasq({ 'backend.test': ['127.0.0.1'] });
  sidecar = await startSidecar({
    stateDir: stateDir(),
    env: { HAPROXY_RESOLVERS: dns.address, BACKEND_CA_FILE: backendCa.certPath, DEBUG: 'true', DEBUG_ERRORS_ONLY: 'true' },
  });
}, 60000);

afterAll(async () => {
  await sidecar?.stop();
  await dns?.stop();
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
  for (const dir of stateDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
});

it('speaks TLS to a server whose certificate BACKEND_CA_FILE signed for its host name, with that name as SNI', async () => {
  const port = await tlsServer('verified', issueCert(backendCa, ['backend.test']));
  expect((await reconfigure(`serviceName=verified&servicePath=/verified&port=${port}&outboundHostname=backend.test&sslVerify=true`)).status).toBe(200);
  const answer = await waitFor(
    'the verified backend to answer (HAProxy resolves backend.test at run time)',
    async () => {
      const seen = await request(`${sidecar.proxy}/verified/x`);
      return seen.status === 200 ? seen : undefined;
    },
    10000,
  );
  expect(answer.backend).toBe('verified');
  expect(JSON.parse(answer.body).servername).toBe('backend.test');
});

it('answers 503 and logs it when the certificate is signed by another CA or for another name', async () => {
  const rogue = await tlsServer('rogue', issueCert(rogueCa, ['backend.test']));
  const misnamed = await tlsServer('misnamed', issueCert(backendCa, ['other.test']));
  expect((await reconfigure(`serviceName=rogue&servicePath=/rogue&port=${rogue}&outboundHostname=backend.test&sslVerify=true`)).status).toBe(200);
  expect((await reconfigure(`serviceName=misnamed&servicePath=/misnamed&port=${misnamed}&outboundHostname=backend.test&sslVerify=true`)).status).toBe(200);
  // Without verification the same servers answer: only the verification keeps requests from them.
  expect((await reconfigure(`serviceName=unverified&servicePath=/unverified&port=${rogue}&outboundHostname=backend.test&sslVerifyNone=true`)).status).toBe(200);
  await waitFor('the unverified route to reach the rogue server', async () => (await request(`${sidecar.proxy}/unverified/x`)).backend === 'rogue', 10000);
  for (const name of ['rogue', 'misnamed']) {
    const answer = await request(`${sidecar.proxy}/${name}/x`);
    expect(answer.status).toBe(503);
    expect(answer.backend).toBeUndefined();
  }
  await waitFor(
    'the access log to show both 503s',
    async () => /rogue-be\d+\/rogue .* 503 .* SC-- /.test(sidecar.logs()) && /misnamed-be\d+\/misnamed .* 503 .* SC-- /.test(sidecar.logs()),
    5000,
  );
});

it('refuses sslVerify together with sslVerifyNone with 400 naming sslVerify, and stores nothing', async () => {
  const answer = await reconfigure('serviceName=both&servicePath=/both&port=443&outboundHostname=backend.test&sslVerify=true&sslVerifyNone=true');
  expect(answer.status).toBe(400);
  expect(JSON.parse(answer.body).message).toMatch(/^sslVerify: /);
  const routes = JSON.parse((await sidecar.call(`${BASE}/config?type=json`)).body).routes.map((r: { serviceName: string }) => r.serviceName);
  expect(routes).not.toContain('both');
});

it("refuses sslVerify routes with 400 and HAProxy's message when BACKEND_CA_FILE cannot be read, and keeps serving the others", async () => {
  const other = await startSidecar({ stateDir: stateDir(), env: { HAPROXY_RESOLVERS: dns.address, BACKEND_CA_FILE: '/nonexistent/backend-ca.pem' } });
  try {
    const port = await tlsServer('unread', issueCert(backendCa, ['backend.test']));
    const answer = await other.call(`${BASE}/reconfigure?serviceName=unread&servicePath=/unread&port=${port}&outboundHostname=backend.test&sslVerify=true`);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).message).toMatch(/backend-ca\.pem/);
    expect(JSON.parse((await other.call(`${BASE}/config?type=json`)).body).routes).toEqual([]);
    const plain = await other.call(`${BASE}/reconfigure?serviceName=plain&servicePath=/plain&port=${port}&outboundHostname=backend.test&sslVerifyNone=true`);
    expect(plain.status).toBe(200);
  } finally {
    await other.stop();
  }
});
