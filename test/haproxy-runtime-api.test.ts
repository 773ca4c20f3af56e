import * as fs from 'fs';
import * as https from 'https';
import * as path from 'path';
import { HaproxyError } from '../src/errors';
import { RuntimeApi } from '../src/haproxy/runtime-api';
import { createCa, handshake, issueCert, TestCa, TestCert } from './helpers/certs';
import { HTTP_DEFAULTS, RunningHaproxy, startHaproxy } from './helpers/haproxy';
import { freePort } from './helpers/ports';
import { tempDir } from './helpers/tmp';

/**
 * The worker's Runtime API through the master CLI, against a real HAProxy 2.6 serving TLS from a
 * crt-list: certificates are added, replaced and removed without a reload, and real TLS clients
 * see each change.
 */

let ca: TestCa;
let haproxy: RunningHaproxy;
let api: RuntimeApi;
let port: number;
let dir: string;
let crtList: string;
const file = (name: string) => path.join(dir, `${name}.pem`);

beforeAll(async () => {
  ca = createCa();
  dir = tempDir('runtime-api-');
  crtList = path.join(dir, 'crt-list');
  const first = issueCert(ca, ['first.test']);
  fs.writeFileSync(file('first'), first.pem, { mode: 0o600 });
  fs.writeFileSync(crtList, `${file('first')}\n`);
  port = await freePort();
  haproxy = await startHaproxy(
    [
      ...HTTP_DEFAULTS,
      '  timeout http-keep-alive 10s',
      'frontend tls',
      `  bind 127.0.0.1:${port} ssl crt-list ${crtList} alpn h2,http/1.1`,
      '  http-request return status 200 content-type text/plain string ok',
      '',
    ].join('\n'),
  );
  api = new RuntimeApi(haproxy.masterSocket);
});

afterAll(async () => {
  await haproxy?.stop();
});

const presented = (servername?: string) => handshake({ port, servername, alpn: ['h2', 'http/1.1'] });

it('adds a certificate that SNI then selects, with HTTP/2 negotiated, without a reload', async () => {
  const added = issueCert(ca, ['added.test']);
  await api.addCertificate(crtList, file('added'), added.pem);
  const seen = await presented('added.test');
  expect(seen).toMatchObject({ commonName: 'added.test', fingerprint: added.fingerprint, alpn: 'h2' });
  expect((await presented()).commonName).toBe('first.test');
  expect(await api.crtListFiles(crtList)).toEqual([file('first'), file('added')]);
  expect(await api.certificates()).toEqual(expect.arrayContaining([file('first'), file('added')]));
});

it('replaces a certificate in place, the default one included', async () => {
  const renewed = issueCert(ca, ['first.test']);
  await api.updateCertificate(file('first'), renewed.pem);
  expect((await presented('first.test')).fingerprint).toBe(renewed.fingerprint);
  expect((await presented()).fingerprint).toBe(renewed.fingerprint);
});

it('removes a certificate: its name then gets the default certificate', async () => {
  const gone = issueCert(ca, ['gone.test']);
  await api.addCertificate(crtList, file('gone'), gone.pem);
  expect((await presented('gone.test')).commonName).toBe('gone.test');
  await api.removeCertificate(crtList, file('gone'));
  expect((await presented('gone.test')).commonName).toBe('first.test');
  expect(await api.certificates()).not.toContain(file('gone'));
});

it('refuses to remove the default certificate, saying why in HAProxy words', async () => {
  await expect(api.removeCertificate(crtList, file('first'))).rejects.toThrow(/default certificate/);
  expect((await presented('first.test')).commonName).toBe('first.test');
});

it('never puts the private key into an error', async () => {
  const cert = issueCert(ca, ['unknown.test']);
  const error = await api.updateCertificate(file('not-loaded'), cert.pem).catch((caught: Error) => caught);
  expect(error).toBeInstanceOf(HaproxyError);
  expect((error as Error).message).toMatch(/set ssl cert/);
  expect((error as Error).message).not.toContain(cert.key.split('\n')[1]);
  // The failed transaction was aborted: the next one goes through.
  const renewed = issueCert(ca, ['first.test']);
  await api.updateCertificate(file('first'), renewed.pem);
  expect((await presented('first.test')).fingerprint).toBe(renewed.fingerprint);
});

it('keeps every keep-alive HTTPS request working while a certificate is replaced again and again', async () => {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 4, ca: ca.cert, servername: 'first.test' });
  const versions: TestCert[] = [1, 2, 3, 4, 5].map(() => issueCert(ca, ['first.test']));
  let ok = 0;
  let failed = 0;
  let running = true;
  const get = () =>
    new Promise<void>((resolve) => {
      const req = https.get({ host: '127.0.0.1', port, path: '/', agent, servername: 'first.test', headers: { host: 'first.test' } }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) ok++;
          else failed++;
          resolve();
        });
      });
      req.on('error', () => {
        failed++;
        resolve();
      });
    });
  const client = async () => {
    while (running) await get();
  };
  const clients = [client(), client(), client(), client()];
  for (const version of versions) {
    await api.updateCertificate(file('first'), version.pem);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  running = false;
  await Promise.all(clients);
  agent.destroy();
  expect(failed).toBe(0);
  expect(ok).toBeGreaterThan(20);
  expect((await presented('first.test')).fingerprint).toBe(versions[versions.length - 1].fingerprint);
});
