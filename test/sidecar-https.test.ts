import * as fs from 'fs';
import * as https from 'https';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as tls from 'tls';
import { spawnSync } from 'child_process';
import { Backend, request, startBackend } from './helpers/backends';
import { createCa, handshake, http2Request, httpsRequest, issueCert, mismatchedPem, TestCa, TestCert } from './helpers/certs';
import { freePort, waitFor } from './helpers/ports';
import { CLI, RunningSidecar, startSidecar } from './helpers/sidecar';
import { tempDir } from './helpers/tmp';

/**
 * HTTPS end to end with the embedded file store: certificates PUT to the API are validated,
 * stored, bound on the `:ssl` port of DEFAULT_PORTS and served to real TLS clients; replaced
 * later through the Runtime API without a reload.
 */

const BASE = '/v1/docker-flow-proxy';
let ca: TestCa;
let backend: Backend;
let sidecar: RunningSidecar;
let httpsPort: number;
let shop: TestCert;

const putCert = (name: string, pem: string, query = '') =>
  sidecar.call(`${BASE}/cert?certName=${name}${query}`, { method: 'PUT', body: pem, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
const get = (servername: string, urlPath = '/shop/') => httpsRequest({ port: httpsPort, servername, path: urlPath, ca: ca.cert });
const keyLine = (cert: TestCert) => cert.key.split('\n')[1];

async function metric(name: string): Promise<string> {
  return (await sidecar.call('/metrics')).body
    .split('\n')
    .filter((line) => line.startsWith(name))
    .join('\n');
}

function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

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
  shop = issueCert(ca, ['shop.test', 'www.shop.test']);
  backend = await startBackend('shop');
  const httpPort = await freePort();
  httpsPort = await freePort();
  sidecar = await startSidecar({ httpPort, stateDir: stateDir(), env: { DEFAULT_PORTS: `${httpPort},${httpsPort}:ssl`, DEFAULT_CERT: 'shop' } });
  const route = `serviceName=shop&servicePath=/shop&port=${backend.port}&outboundHostname=127.0.0.1&httpsOnly=true`;
  expect((await sidecar.call(`${BASE}/reconfigure?${route}`)).status).toBe(200);
}, 60000);

afterAll(async () => {
  await sidecar?.stop();
  await backend?.close();
  removeStateDirs();
});

it('leaves the :ssl port unbound while no certificate is stored, and says so in the log', async () => {
  expect(await portRefuses(httpsPort)).toBe(true);
  expect(sidecar.logs()).toMatch(/:ssl ports of DEFAULT_PORTS are not bound: no certificate is stored/);
});

it('refuses a PEM that does not parse, a key that does not match and an expired certificate with 400, and stores nothing', async () => {
  const cases: Array<[string, RegExp]> = [
    ['just text', /^cert: does not parse/],
    [mismatchedPem(ca, ['shop.test']), /^cert: the private key does not match the certificate/],
    [issueCert(ca, ['shop.test'], { days: -1 }).pem, /^cert: the certificate has expired/],
  ];
  for (const [pem, message] of cases) {
    const answer = await putCert('shop', pem);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).message).toMatch(message);
  }
  expect((await sidecar.call(`${BASE}/cert?certName=../x`, { method: 'PUT', body: shop.pem })).status).toBe(400);
  expect(JSON.parse((await sidecar.call(`${BASE}/certs`)).body).certs).toEqual([]);
  expect(await portRefuses(httpsPort)).toBe(true);
});

it('serves a PUT certificate on the :ssl port: SNI, HTTP/2 by ALPN, X-Forwarded-Proto https to the backend', async () => {
  const answer = await putCert('shop', shop.pem);
  expect(answer.status).toBe(200);
  const body = JSON.parse(answer.body);
  expect(body.cert).toMatchObject({ name: 'shop', subject: 'CN=shop.test', sans: ['DNS:shop.test', 'DNS:www.shop.test'] });
  expect(answer.body).not.toContain(keyLine(shop));

  const seen = await handshake({ port: httpsPort, servername: 'www.shop.test', alpn: ['h2', 'http/1.1'] });
  expect(seen).toMatchObject({ commonName: 'shop.test', fingerprint: shop.fingerprint, alpn: 'h2' });
  const through = await get('shop.test', '/shop/hello');
  expect(through.status).toBe(200);
  expect(through.backend).toBe('shop');
  expect(JSON.parse(through.body).headers['x-forwarded-proto']).toBe('https');
  expect(await http2Request({ port: httpsPort, servername: 'shop.test', path: '/shop/h2', ca: ca.cert })).toBe(200);
  expect(sidecar.logs()).toMatch(/:ssl ports of DEFAULT_PORTS are bound/);
});

it('picks the certificate by SNI and answers clients without SNI with DEFAULT_CERT', async () => {
  const blog = issueCert(ca, ['blog.test']);
  const zzz = issueCert(ca, ['zzz.test']);
  expect((await putCert('blog', blog.pem)).status).toBe(200);
  expect((await putCert('zzz', zzz.pem)).status).toBe(200);
  expect((await handshake({ port: httpsPort, servername: 'blog.test' })).fingerprint).toBe(blog.fingerprint);
  expect((await handshake({ port: httpsPort, servername: 'zzz.test' })).fingerprint).toBe(zzz.fingerprint);
  expect((await handshake({ port: httpsPort })).fingerprint).toBe(shop.fingerprint);
  const listed = await sidecar.call(`${BASE}/certs`);
  const certs = JSON.parse(listed.body);
  expect(certs.certs.map((c: { name: string }) => c.name)).toEqual(['blog', 'shop', 'zzz']);
  expect(certs.default).toBe('shop');
  expect(listed.body).not.toMatch(/PRIVATE KEY/);
});

/** A plain Node TLS server that accepts old versions and ciphers: proof that the client below can offer them. */
async function lenientTlsServer(cert: TestCert): Promise<tls.Server> {
  const server = tls.createServer({ cert: cert.cert, key: cert.key, minVersion: 'TLSv1.1', ciphers: 'ALL@SECLEVEL=0' }, (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const TLS11 = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'ALL@SECLEVEL=0' } as const;
/** A TLS 1.2 cipher without forward secrecy and AEAD (CBC, RSA key exchange is not possible with an EC key). */
const TLS12_CBC = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA@SECLEVEL=0' } as const;

it('accepts TLS 1.3 and TLS 1.2 with AEAD ciphers by default (SSL_BIND_OPTIONS, SSL_BIND_CIPHERS), and refuses TLS 1.1 and CBC ciphers', async () => {
  expect(await handshake({ port: httpsPort, servername: 'shop.test' })).toMatchObject({ protocol: 'TLSv1.3', fingerprint: shop.fingerprint });
  const tls12 = await handshake({ port: httpsPort, servername: 'shop.test', maxVersion: 'TLSv1.2' });
  expect(tls12).toMatchObject({ protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
  const lenient = await lenientTlsServer(shop);
  try {
    const lenientPort = (lenient.address() as net.AddressInfo).port;
    expect((await handshake({ port: lenientPort, servername: 'shop.test', ...TLS11 })).protocol).toBe('TLSv1.1');
    expect((await handshake({ port: lenientPort, servername: 'shop.test', ...TLS12_CBC })).cipher).toBe('ECDHE-ECDSA-AES128-SHA');
  } finally {
    lenient.close();
  }
  await expect(handshake({ port: httpsPort, servername: 'shop.test', ...TLS11 })).rejects.toThrow();
  await expect(handshake({ port: httpsPort, servername: 'shop.test', ...TLS12_CBC })).rejects.toThrow();
});

it('answers clients without SNI with the first certificate by name when DEFAULT_CERT is unset', async () => {
  const [port, plainPort] = [await freePort(), await freePort()];
  const other = await startSidecar({ httpPort: plainPort, stateDir: stateDir(), env: { DEFAULT_PORTS: `${plainPort},${port}:ssl` } });
  try {
    const [alpha, beta] = [issueCert(ca, ['alpha.test']), issueCert(ca, ['beta.test'])];
    expect((await other.call(`${BASE}/cert?certName=beta`, { method: 'PUT', body: beta.pem })).status).toBe(200);
    expect((await handshake({ port })).fingerprint).toBe(beta.fingerprint);
    expect((await other.call(`${BASE}/cert?certName=alpha`, { method: 'PUT', body: alpha.pem })).status).toBe(200);
    expect((await handshake({ port })).fingerprint).toBe(alpha.fingerprint);
    expect((await handshake({ port, servername: 'beta.test' })).fingerprint).toBe(beta.fingerprint);
    expect(JSON.parse((await other.call(`${BASE}/certs`)).body).default).toBe('alpha');
  } finally {
    await other.stop();
  }
});

it('takes SSL_BIND_OPTIONS and SSL_BIND_CIPHERS: TLS 1.2 only, with one cipher', async () => {
  const [port, plainPort] = [await freePort(), await freePort()];
  const env = {
    DEFAULT_PORTS: `${plainPort},${port}:ssl`,
    SSL_BIND_OPTIONS: 'ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.2',
    SSL_BIND_CIPHERS: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  };
  const other = await startSidecar({ httpPort: plainPort, stateDir: stateDir(), env });
  try {
    expect((await other.call(`${BASE}/cert?certName=shop`, { method: 'PUT', body: shop.pem })).status).toBe(200);
    expect(await handshake({ port, servername: 'shop.test' })).toMatchObject({ protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES256-GCM-SHA384' });
    await expect(handshake({ port, servername: 'shop.test', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' })).rejects.toThrow();
  } finally {
    await other.stop();
  }
});

it('refuses distribute=true on certificates with the file store: 400 naming distribute, and nothing changes', async () => {
  const other = issueCert(ca, ['other.test']);
  const before = (await sidecar.call(`${BASE}/certs`)).body;
  const put = await putCert('other', other.pem, '&distribute=true');
  expect(put.status).toBe(400);
  expect(JSON.parse(put.body).message).toMatch(/^distribute: certificates are distributed through a shared store \(CONSUL_ADDRESS\)/);
  const removed = await sidecar.call(`${BASE}/cert?certName=shop&distribute=true`, { method: 'DELETE' });
  expect(removed.status).toBe(400);
  expect(JSON.parse(removed.body).message).toMatch(/^distribute: /);
  const serviceCert = encodeURIComponent(other.pem.replace(/\n/g, '\\n'));
  const withRoute = await sidecar.call(
    `${BASE}/reconfigure?serviceName=other&servicePath=/other&port=${backend.port}&distribute=true&serviceCert=${serviceCert}`,
  );
  expect(withRoute.status).toBe(400);
  expect(JSON.parse(withRoute.body).message).toMatch(/^distribute: /);
  expect((await sidecar.call(`${BASE}/certs`)).body).toBe(before);
  expect(JSON.parse((await sidecar.call(`${BASE}/config?type=json`)).body).routes.map((r: { serviceName: string }) => r.serviceName)).toEqual(['shop']);
  expect((await handshake({ port: httpsPort, servername: 'shop.test' })).fingerprint).toBe(shop.fingerprint);
});

it('redirects httpsOnly routes to the HTTPS port, where the page works', async () => {
  const plain = await request(`${sidecar.proxy}/shop/page?x=1`, { headers: { Host: `shop.test:${sidecar.httpPort}` } });
  expect(plain.status).toBe(302);
  expect(plain.headers.location).toBe(`https://shop.test:${httpsPort}/shop/page?x=1`);
  const followed = await get('shop.test', '/shop/page?x=1');
  expect(followed.status).toBe(200);
  expect(followed.backend).toBe('shop');
});

it('replaces a certificate without a reload and without one failed request on keep-alive connections', async () => {
  const reloadsBefore = await metric('haproxy_sidecar_reloads_total{outcome="success"}');
  const agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
  let ok = 0;
  let failed = 0;
  let running = true;
  const client = async () => {
    while (running) {
      const answer = await httpsRequest({ port: httpsPort, servername: 'shop.test', path: '/shop/ka', ca: ca.cert, agent }).catch(() => undefined);
      if (answer?.status === 200) ok++;
      else failed++;
    }
  };
  const clients = [client(), client(), client(), client()];
  const renewed = issueCert(ca, ['shop.test', 'www.shop.test']);
  expect((await putCert('shop', renewed.pem)).status).toBe(200);
  expect((await handshake({ port: httpsPort, servername: 'shop.test' })).fingerprint).toBe(renewed.fingerprint);
  await new Promise((resolve) => setTimeout(resolve, 300));
  running = false;
  await Promise.all(clients);
  agent.destroy();
  expect(failed).toBe(0);
  expect(ok).toBeGreaterThan(10);
  expect(await metric('haproxy_sidecar_reloads_total{outcome="success"}')).toBe(reloadsBefore);
  expect(await metric('haproxy_sidecar_reloads_total{outcome="runtime"}')).not.toMatch(/ 0$/);
  // The files say the same: a reload now serves the renewed certificate.
  expect((await sidecar.call(`${BASE}/reload`)).status).toBe(200);
  expect((await handshake({ port: httpsPort, servername: 'shop.test' })).fingerprint).toBe(renewed.fingerprint);
  shop = renewed;
});

it('reports seconds to expiry per certificate in /metrics and names soon-expiring ones in /healthz', async () => {
  const soon = issueCert(ca, ['soon.test'], { days: 5 });
  expect((await putCert('soon', soon.pem)).status).toBe(200);
  const expiry = await metric('haproxy_sidecar_cert_expiry_seconds');
  const seconds = (name: string) => Number(new RegExp(`cert="${name}"} (\\S+)`).exec(expiry)?.[1]);
  expect(seconds('soon') / 86400).toBeGreaterThan(4);
  expect(seconds('soon') / 86400).toBeLessThanOrEqual(5);
  expect(seconds('shop') / 86400).toBeGreaterThan(29);
  const health = await sidecar.call('/healthz');
  expect(health.status).toBe(200);
  expect(JSON.parse(health.body).message).toMatch(/degraded: certificates expiring within 14 days: soon \(/);
});

it('removes a certificate with DELETE: its name then gets the default certificate', async () => {
  expect((await sidecar.call(`${BASE}/cert?certName=blog`, { method: 'DELETE' })).status).toBe(200);
  expect((await handshake({ port: httpsPort, servername: 'blog.test' })).fingerprint).toBe(shop.fingerprint);
  expect(fs.existsSync(path.join(sidecar.stateDir, 'certs', 'blog.pem'))).toBe(false);
  expect((await sidecar.call(`${BASE}/cert?certName=blog`, { method: 'DELETE' })).status).toBe(200);
});

it('adds, lists and removes certificates from the CLI on the same store; the running sidecar serves them', async () => {
  const dir = tempDir('cli-cert-');
  const cli = issueCert(ca, ['cli.test']);
  fs.writeFileSync(path.join(dir, 'cli.pem'), cli.pem);
  const env = { ...process.env, STATE_DIR: sidecar.stateDir };
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'certs', ...args], { env, encoding: 'utf8' });
  const added = run('add', 'cli', path.join(dir, 'cli.pem'));
  expect(added.status).toBe(0);
  expect(added.stdout).toMatch(/stored certificate cli \(CN=cli.test/);
  await waitFor(
    'the CLI certificate to be served',
    async () => (await handshake({ port: httpsPort, servername: 'cli.test' })).fingerprint === cli.fingerprint,
    10000,
  );
  const listed = run('list');
  expect(listed.stdout).toMatch(/^cli subject="CN=cli.test" sans="DNS:cli.test"/m);
  expect(listed.stdout).not.toMatch(/PRIVATE KEY/);
  fs.writeFileSync(path.join(dir, 'bad.pem'), mismatchedPem(ca, ['bad.test']));
  const refused = run('add', 'bad', path.join(dir, 'bad.pem'));
  expect(refused.status).toBe(2);
  expect(refused.stderr).toMatch(/the private key does not match the certificate/);
  expect(run('remove', 'cli').status).toBe(0);
  await waitFor(
    'the CLI certificate to be gone',
    async () => (await handshake({ port: httpsPort, servername: 'cli.test' })).fingerprint === shop.fingerprint,
    10000,
  );
});

it('never writes a private key to the log, and keeps the files 0600', () => {
  expect(sidecar.logs()).not.toContain(keyLine(shop));
  expect(sidecar.logs()).not.toMatch(/PRIVATE KEY/);
  expect(fs.statSync(path.join(sidecar.stateDir, 'certs', '@default.pem')).mode & 0o777).toBe(0o600);
  expect(fs.statSync(path.join(sidecar.stateDir, 'certs', 'zzz.pem')).mode & 0o777).toBe(0o600);
  expect(fs.statSync(path.join(sidecar.stateDir, 'routes.json')).mode & 0o777).toBe(0o600);
  // Its journal holds the certificates written since the last fold, keys included.
  expect(fs.statSync(path.join(sidecar.stateDir, 'routes.json.journal')).mode & 0o777).toBe(0o600);
});

describe('render and validate with certificates stored', () => {
  const cli = (args: readonly string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [CLI, ...args], {
      env: {
        ...process.env,
        STATE_DIR: sidecar.stateDir,
        BIND_ADDRESS: '127.0.0.1',
        DEFAULT_PORTS: `${sidecar.httpPort},${httpsPort}:ssl`,
        DEFAULT_CERT: 'shop',
        ...env,
      },
      encoding: 'utf8',
    });

  it('render prints the config serve runs: the :ssl bind with the default certificate and the crt-list', async () => {
    const live = (await sidecar.call(`${BASE}/config`)).body;
    expect(live).toContain(`crt-list ${path.join(sidecar.stateDir, 'certs', 'crt-list')}`);
    const rendered = cli(['render']);
    expect(rendered.status).toBe(0);
    expect(rendered.stdout).toBe(live);
    expect(rendered.stdout).not.toMatch(/PRIVATE KEY/);
  });

  it('validate checks the :ssl binds with the stored certificates: HAProxy refuses bad SSL_BIND_CIPHERS', () => {
    const valid = cli(['validate']);
    expect(valid.stderr).toBe('');
    expect(valid.status).toBe(0);
    const refused = cli(['validate'], { SSL_BIND_CIPHERS: 'NO-SUCH-CIPHER' });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/cipher/i);
  });

  it('render names a stored certificate that does not parse on stderr, and leaves it out', async () => {
    const routesFile = path.join(sidecar.stateDir, 'routes.json');
    const before = fs.readFileSync(routesFile, 'utf8');
    const stored = JSON.parse(before);
    // A hand edit of the file store that breaks one certificate (the API would refuse it).
    stored.certs.zzz = 'not a pem';
    const dir = tempDir('render-broken-');
    fs.writeFileSync(path.join(dir, 'routes.json'), JSON.stringify(stored), { mode: 0o600 });
    const rendered = cli(['render'], { STATE_DIR: dir });
    expect(rendered.status).toBe(0);
    expect(rendered.stderr).toMatch(/warning: certificate zzz is left out: cert: does not parse/);
    expect(rendered.stdout).toContain(`crt-list ${path.join(dir, 'certs', 'crt-list')}`);
  });
});

it('stores the certificates of CERTS_DIR at start (Docker secrets cert-<name>) and skips a bad one', async () => {
  const dir = tempDir('certs-dir-');
  const secret = issueCert(ca, ['secret.test']);
  fs.writeFileSync(path.join(dir, 'cert-secret'), secret.pem);
  fs.writeFileSync(path.join(dir, 'cert-broken'), mismatchedPem(ca, ['broken.test']));
  fs.writeFileSync(path.join(dir, 'other-secret'), 'not a certificate');
  const [port, plainPort] = [await freePort(), await freePort()];
  const other = await startSidecar({ httpPort: plainPort, env: { DEFAULT_PORTS: `${plainPort},${port}:ssl`, CERTS_DIR: dir } });
  try {
    await waitFor(
      'the CERTS_DIR certificate to be served',
      async () => (await handshake({ port, servername: 'secret.test' })).fingerprint === secret.fingerprint,
      10000,
    );
    const names = JSON.parse((await other.call(`${BASE}/certs`)).body).certs.map((c: { name: string }) => c.name);
    expect(names).toEqual(['secret']);
    expect(other.logs()).toMatch(/certificate from CERTS_DIR refused.*"certName":"broken"|"certName":"broken".*certificate from CERTS_DIR refused/);
  } finally {
    await other.stop();
  }
});
