import * as fs from 'fs';
import { certPaths, CertPaths, writeCertFiles } from '../src/certs/cert-files';
import { servingOrder } from '../src/certs/cert-plan';
import { CertSync } from '../src/certs/cert-sync';
import { Certificate, parseCertificate } from '../src/certs/certificate';
import { RuntimeApi } from '../src/haproxy/runtime-api';
import { silentLogger } from '../src/logger';
import { createCa, handshake, issueCert, TestCa } from './helpers/certs';
import { RunningHaproxy, startHaproxy } from './helpers/haproxy';
import { freePort } from './helpers/ports';
import { tempDir } from './helpers/tmp';

/**
 * Certificate files and runtime changes together, against a real HAProxy: every change goes
 * live without a reload, and a reload afterwards (from the files) serves exactly the same.
 */

let ca: TestCa;
let haproxy: RunningHaproxy;
let paths: CertPaths;
let sync: CertSync;
let port: number;

const certOf = (name: string, hosts: string[]): Certificate => parseCertificate(name, issueCert(ca, hosts).pem, { rejectExpired: true });

function config(defaultCert: string): string {
  return [
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 10s',
    '  timeout server 10s',
    'frontend tls',
    `  bind 127.0.0.1:${port} ssl crt ${paths.file(defaultCert)} crt-list ${paths.crtList} alpn h2,http/1.1`,
    '  http-request return status 200 content-type text/plain string ok',
    '',
  ].join('\n');
}

const fingerprintFor = async (servername: string) => (await handshake({ port, servername })).fingerprint;

beforeAll(async () => {
  ca = createCa();
  paths = certPaths(tempDir('cert-sync-'));
  port = await freePort();
  const first = servingOrder([certOf('main', ['main.test'])], 'main');
  await writeCertFiles(paths, first);
  haproxy = await startHaproxy(config('main'));
  sync = new CertSync(paths, new RuntimeApi(haproxy.masterSocket), silentLogger());
  sync.loaded(first);
});

afterAll(async () => {
  await haproxy?.stop();
});

it('writes each certificate 0600 in a 0700 folder, and the others than the default into the crt-list', async () => {
  const ordered = servingOrder([...sync.served(), certOf('shop', ['shop.test'])], 'main');
  await writeCertFiles(paths, ordered);
  expect(fs.statSync(paths.dir).mode & 0o777).toBe(0o700);
  expect(fs.statSync(paths.file('shop')).mode & 0o777).toBe(0o600);
  expect(fs.readFileSync(paths.crtList, 'utf8')).toBe(`${paths.file('shop')}\n`);
  expect(await sync.apply(ordered)).toBe(true);
  expect((await handshake({ port, servername: 'shop.test' })).commonName).toBe('shop.test');
});

it('applies a replacement, an addition and a removal at once without a reload; a reload then serves the same', async () => {
  const shop2 = certOf('shop', ['shop.test']);
  const blog = certOf('blog', ['blog.test']);
  const main2 = certOf('main', ['main.test']);
  const before = sync.served();
  expect(before.map((c) => c.name)).toEqual(['main', 'shop']);
  const ordered = servingOrder([main2, shop2, blog], 'main');
  await writeCertFiles(paths, ordered);
  expect(await sync.apply(ordered)).toBe(true);
  const served = { shop: await fingerprintFor('shop.test'), blog: await fingerprintFor('blog.test'), main: await fingerprintFor('main.test') };
  expect(served).toEqual({ shop: shop2.info.fingerprint, blog: blog.info.fingerprint, main: main2.info.fingerprint });

  const withoutShop = servingOrder([main2, blog], 'main');
  await writeCertFiles(paths, withoutShop);
  expect(await sync.apply(withoutShop)).toBe(true);
  expect(fs.existsSync(paths.file('shop'))).toBe(false);
  expect(await fingerprintFor('shop.test')).toBe(main2.info.fingerprint);

  await haproxy.reload(config('main'));
  const afterReload = { shop: await fingerprintFor('shop.test'), blog: await fingerprintFor('blog.test'), main: await fingerprintFor('main.test') };
  expect(afterReload).toEqual({ shop: main2.info.fingerprint, blog: blog.info.fingerprint, main: main2.info.fingerprint });
});

it('leaves a new default certificate to a reload', async () => {
  const ordered = servingOrder([...sync.served(), certOf('aaa', ['aaa.test'])], 'aaa');
  expect(ordered[0].name).toBe('aaa');
  expect(await sync.apply(ordered)).toBe(false);
});
