import * as fs from 'fs';
import { CertFileWriter, certPaths, CertPaths } from '../src/certs/cert-files';
import { certFiles, servingOrder } from '../src/certs/cert-plan';
import { CertSync } from '../src/certs/cert-sync';
import { Certificate, parseCertificate } from '../src/certs/certificate';
import { RuntimeApi } from '../src/haproxy/runtime-api';
import { silentLogger } from '../src/logger';
import { createCa, handshake, issueCert, TestCa } from './helpers/certs';
import { HTTP_DEFAULTS, RunningHaproxy, startHaproxy } from './helpers/haproxy';
import { freePort } from './helpers/ports';
import { tempDir } from './helpers/tmp';

/**
 * Certificate files and runtime changes together, against a real HAProxy: every change goes
 * live without a reload, and a reload afterwards (from the files) serves exactly the same. One
 * writer serves the whole file, as one serves the applier: it writes only what changed.
 */

let ca: TestCa;
let haproxy: RunningHaproxy;
let paths: CertPaths;
let sync: CertSync;
let writer: CertFileWriter;
let port: number;

const certOf = (name: string, hosts: string[]): Certificate => parseCertificate(name, issueCert(ca, hosts).pem, { rejectExpired: true });

function config(): string {
  return [
    ...HTTP_DEFAULTS,
    'frontend tls',
    `  bind 127.0.0.1:${port} ssl crt ${paths.defaultFile} crt-list ${paths.crtList} alpn h2,http/1.1`,
    '  http-request return status 200 content-type text/plain string ok',
    '',
  ].join('\n');
}

const fingerprintFor = async (servername: string) => (await handshake({ port, servername })).fingerprint;

let current: Certificate[] = [];

/** Write the files for `certs` (default `defaultName`) and apply them through the Runtime API. */
async function change(certs: Certificate[], defaultName: string): Promise<string> {
  current = servingOrder(certs, defaultName);
  const files = certFiles(paths, current);
  await writer.write(files);
  return sync.apply(files);
}

beforeAll(async () => {
  ca = createCa();
  paths = certPaths(tempDir('cert-sync-'));
  port = await freePort();
  current = [certOf('main', ['main.test'])];
  const files = certFiles(paths, current);
  writer = new CertFileWriter(paths);
  await writer.write(files);
  haproxy = await startHaproxy(config());
  sync = new CertSync(paths, new RuntimeApi(haproxy.masterSocket), silentLogger());
  sync.loaded(files);
});

afterAll(async () => {
  await haproxy?.stop();
});

it('writes each certificate 0600 in a 0700 folder, and the others than the default into the crt-list', async () => {
  expect(await change([...current, certOf('shop', ['shop.test'])], 'main')).toBe('applied');
  expect(fs.statSync(paths.dir).mode & 0o777).toBe(0o700);
  expect(fs.statSync(paths.file('shop')).mode & 0o777).toBe(0o600);
  expect(fs.statSync(paths.defaultFile).mode & 0o777).toBe(0o600);
  expect(fs.readFileSync(paths.crtList, 'utf8')).toBe(`${paths.file('shop')}\n`);
  expect((await handshake({ port, servername: 'shop.test' })).commonName).toBe('shop.test');
});

it('applies a replacement, an addition and a removal at once without a reload; a reload then serves the same', async () => {
  const shop2 = certOf('shop', ['shop.test']);
  const blog = certOf('blog', ['blog.test']);
  const main2 = certOf('main', ['main.test']);
  expect(await change([main2, shop2, blog], 'main')).toBe('applied');
  const served = { shop: await fingerprintFor('shop.test'), blog: await fingerprintFor('blog.test'), main: await fingerprintFor('main.test') };
  expect(served).toEqual({ shop: shop2.info.fingerprint, blog: blog.info.fingerprint, main: main2.info.fingerprint });

  expect(await change([main2, blog], 'main')).toBe('applied');
  expect(await change([main2, blog], 'main')).toBe('none');
  expect(fs.existsSync(paths.file('shop'))).toBe(false);
  expect(await fingerprintFor('shop.test')).toBe(main2.info.fingerprint);

  await haproxy.reload(config());
  const afterReload = { shop: await fingerprintFor('shop.test'), blog: await fingerprintFor('blog.test'), main: await fingerprintFor('main.test') };
  expect(afterReload).toEqual({ shop: main2.info.fingerprint, blog: blog.info.fingerprint, main: main2.info.fingerprint });
});

it('makes another certificate the default without a reload: clients without SNI get it', async () => {
  const blog = current.find((cert) => cert.name === 'blog');
  expect(await change(current, 'blog')).toBe('applied');
  expect((await handshake({ port })).fingerprint).toBe(blog?.info.fingerprint);
  expect(await fingerprintFor('main.test')).toBe(current.find((cert) => cert.name === 'main')?.info.fingerprint);
  expect(fs.readFileSync(paths.crtList, 'utf8')).toBe(`${paths.file('main')}\n`);
});

it('after a restart, brings the files left on disk in step: a changed one rewritten, one no longer stored removed; a reload serves the store', async () => {
  expect(current.map((cert) => cert.name)).toEqual(['blog', 'main']);
  // What a sidecar stopped meanwhile finds: blog was replaced and main removed in the store.
  const blog2 = certOf('blog', ['blog.test']);
  const restarted = new CertFileWriter(paths);
  const files = certFiles(paths, servingOrder([blog2], 'blog'));
  await restarted.write(files);
  expect(fs.readdirSync(paths.dir).sort()).toEqual(['@default.pem', 'crt-list']);
  expect(fs.readFileSync(paths.defaultFile, 'utf8')).toBe(blog2.pem);
  expect(fs.readFileSync(paths.crtList, 'utf8')).toBe('');
  await haproxy.reload(config());
  sync.loaded(files);
  expect((await handshake({ port })).fingerprint).toBe(blog2.info.fingerprint);
  expect(await fingerprintFor('main.test')).toBe(blog2.info.fingerprint);
  writer = restarted;
  current = [blog2];
});

it('leaves the removal of the last certificate to a reload (the :ssl binds go)', async () => {
  expect(await change([], 'main')).toBe('reload');
});
