import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MasterCli } from '../src/haproxy/master-cli';
import { Backend, startBackend } from './helpers/backends';
import { createCa, handshake, httpsRequest, issueCert, TestCa } from './helpers/certs';
import { HAPROXY_BIN } from './helpers/haproxy';
import { freePort, waitFor } from './helpers/ports';
import { REPO_ROOT, RunningSidecar, startSidecar } from './helpers/sidecar';

/**
 * HTTPS with an adopted HAProxy (HAPROXY_MASTER_SOCKET), as haproxy/README.md sets it up: HAProxy
 * started elsewhere from the bootstrap config, on a folder it shares with the sidecar (STATE_DIR
 * and HAPROXY_CONFIG on it). The first certificate binds the :ssl port with a reload through the
 * master socket; a replacement goes live through the Runtime API, without a reload.
 */

const BASE = '/v1/docker-flow-proxy';
let ca: TestCa;
let backend: Backend;
let external: ChildProcess | undefined;
let sidecar: RunningSidecar | undefined;
let cli: MasterCli;
let httpsPort: number;
let shared: string | undefined;

beforeAll(async () => {
  ca = createCa();
  backend = await startBackend('adopted-tls');
  // Removed in afterAll once the sidecar and HAProxy stopped: the shared clean-up runs before it.
  shared = fs.mkdtempSync(path.join(os.tmpdir(), 'adopted-shared-'));
  const socket = path.join(shared, 'master.sock');
  const config = path.join(shared, 'haproxy.cfg');
  const httpPort = await freePort();
  httpsPort = await freePort();
  const bootstrap = fs.readFileSync(path.join(REPO_ROOT, 'haproxy', 'bootstrap.cfg'), 'utf8').replace('bind *:80', `bind 127.0.0.1:${httpPort}`);
  fs.writeFileSync(config, bootstrap);
  external = spawn(HAPROXY_BIN, ['-W', '-db', '-S', socket, '-f', config], { stdio: 'ignore' });
  cli = new MasterCli(socket);
  await waitFor('the adopted HAProxy', async () => (await cli.showProc().catch(() => undefined))?.workers.length, 5000);
  sidecar = await startSidecar({
    httpPort,
    stateDir: path.join(shared, 'state'),
    env: { HAPROXY_MASTER_SOCKET: socket, HAPROXY_CONFIG: config, DEFAULT_PORTS: `${httpPort},${httpsPort}:ssl` },
  });
  const route = `serviceName=shop&servicePath=/shop&port=${backend.port}&outboundHostname=127.0.0.1`;
  expect((await sidecar.call(`${BASE}/reconfigure?${route}`)).status).toBe(200);
}, 60000);

afterAll(async () => {
  await sidecar?.stop();
  if (external && external.exitCode === null && external.signalCode === null) {
    const exited = new Promise((resolve) => external?.once('exit', resolve));
    external.kill('SIGTERM');
    await exited;
  }
  await backend?.close();
  if (shared) fs.rmSync(shared, { recursive: true, force: true, maxRetries: 5 });
});

const put = (name: string, pem: string) => sidecar!.call(`${BASE}/cert?certName=${name}`, { method: 'PUT', body: pem });

it('binds the :ssl port of the adopted HAProxy with the first certificate, and serves HTTPS through it', async () => {
  const shop = issueCert(ca, ['shop.test']);
  expect((await put('shop', shop.pem)).status).toBe(200);
  expect((await handshake({ port: httpsPort, servername: 'shop.test' })).fingerprint).toBe(shop.fingerprint);
  const answer = await httpsRequest({ port: httpsPort, servername: 'shop.test', path: '/shop/x', ca: ca.cert });
  expect(answer.status).toBe(200);
  expect(answer.backend).toBe('adopted-tls');
  expect(JSON.parse(answer.body).headers['x-forwarded-proto']).toBe('https');
});

it('replaces and adds certificates on the adopted HAProxy through the Runtime API, without a reload', async () => {
  const reloads = (await cli.showProc()).reloads;
  const renewed = issueCert(ca, ['shop.test']);
  const blog = issueCert(ca, ['blog.test']);
  expect((await put('shop', renewed.pem)).status).toBe(200);
  expect((await put('blog', blog.pem)).status).toBe(200);
  expect((await handshake({ port: httpsPort, servername: 'shop.test' })).fingerprint).toBe(renewed.fingerprint);
  expect((await handshake({ port: httpsPort, servername: 'blog.test' })).fingerprint).toBe(blog.fingerprint);
  expect((await cli.showProc()).reloads).toBe(reloads);
  expect(sidecar!.logs()).toMatch(/certificates changed through the Runtime API/);
});

it('removes a certificate from the adopted HAProxy: its name then gets the default certificate', async () => {
  const shopNow = await handshake({ port: httpsPort, servername: 'shop.test' });
  expect((await sidecar!.call(`${BASE}/cert?certName=blog`, { method: 'DELETE' })).status).toBe(200);
  expect((await handshake({ port: httpsPort, servername: 'blog.test' })).fingerprint).toBe(shopNow.fingerprint);
});
