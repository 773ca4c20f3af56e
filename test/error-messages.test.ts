import { spawnSync } from 'child_process';
import * as path from 'path';
import { Backend, startBackend } from './helpers/backends';
import { freePorts } from './helpers/ports';
import { CLI, RunningSidecar, startSidecar } from './helpers/sidecar';
import { removeTempDirs, tempDir } from './helpers/tmp';

const BASE = '/v1/docker-flow-proxy';

describe('error answers say what is wrong, in JSON, naming the parameter', () => {
  let backend: Backend;
  let sidecar: RunningSidecar;

  const routeNames = async () => JSON.parse((await sidecar.call(`${BASE}/config?type=json`)).body).routes.map((r: { serviceName: string }) => r.serviceName);

  beforeAll(async () => {
    backend = await startBackend('msg');
    sidecar = await startSidecar();
  }, 60000);

  afterAll(async () => {
    await sidecar?.stop();
    await backend?.close();
    removeTempDirs();
  });

  // Values that go into the config as HAProxy syntax (regexes, header values): HAProxy judges them.
  it.each([
    ['reqPathSearch', `servicePath=/re&reqPathSearch=${encodeURIComponent('^/re/a{70000}')}&reqPathReplace=/x`],
    ['servicePath', `pathType=path_reg&servicePath=${encodeURIComponent('^/re/a{70000}')}`],
    ['reqPathSearchReplace', `servicePath=/re&reqPathSearchReplace=${encodeURIComponent('^/ok,/x:^/re/(a,/y')}`],
    ['addReqHeader', `servicePath=/re&addReqHeader=${encodeURIComponent('X-A %[nosuchfetch]')}`],
    ['setResHeader', `servicePath=/re&setResHeader=${encodeURIComponent('X-B on if { nosuch }')}`],
  ])('names %s when HAProxy rejects its value, without a temp-file path', async (parameter, query) => {
    const answer = await sidecar.call(`${BASE}/reconfigure?serviceName=re&port=${backend.port}&${query}`);
    expect(answer.status).toBe(400);
    const message: string = JSON.parse(answer.body).message;
    expect(message.startsWith(`${parameter}: `)).toBe(true);
    expect(message).not.toMatch(/\/tmp\/|haproxy-sidecar-|\.cfg/);
    expect(await routeNames()).toEqual([]);
  });

  it('accepts PCRE that JavaScript refuses, and HAProxy applies it', async () => {
    const search = encodeURIComponent('^/re5\\-v1/(?<=/re5-v1/)(.*)');
    const route = `serviceName=pcre&servicePath=/re5-v1&port=${backend.port}&outboundHostname=127.0.0.1`;
    const answer = await sidecar.call(`${BASE}/reconfigure?${route}&reqPathSearch=${search}&reqPathReplace=${encodeURIComponent('/v5/\\1')}`);
    expect(answer.status).toBe(200);
    const through = await sidecar.through('/re5-v1/users?id=3');
    expect(JSON.parse(through.body).path).toBe('/v5/users?id=3');
    expect((await sidecar.call(`${BASE}/remove?serviceName=pcre`)).status).toBe(200);
  });

  it('answers a 100 KB query string with 431 and a JSON body', async () => {
    const answer = await sidecar.call(`${BASE}/reconfigure?serviceName=big&servicePath=/big&port=80&addReqHeader=${'x'.repeat(100 * 1024)}`);
    expect(answer.status).toBe(431);
    expect(answer.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 'NOK', message: expect.stringMatching(/too large/i) });
    expect((await sidecar.call(`${BASE}/ping`)).status).toBe(200);
  });

  it.each(['.', '..'])('refuses serviceName=%s with 400 naming serviceName, and the proxy keeps working', async (name) => {
    const answer = await sidecar.call(`${BASE}/reconfigure?serviceName=${name}&servicePath=/dots&port=${backend.port}&outboundHostname=127.0.0.1`);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).message).toMatch(/^serviceName: /);
    expect((await sidecar.call(`${BASE}/remove?serviceName=${name}`)).status).toBe(400);
    expect(await routeNames()).not.toContain(name);
    const ok = await sidecar.call(`${BASE}/reconfigure?serviceName=after&servicePath=/after&port=${backend.port}&outboundHostname=127.0.0.1`);
    expect(ok.status).toBe(200);
    expect((await sidecar.through('/after/x')).backend).toBe('msg');
  });
});

describe('a STATE_DIR too long for a socket path', () => {
  afterAll(removeTempDirs);

  it('stops serve with exit code 2 and a message naming STATE_DIR', async () => {
    const [apiPort, httpPort] = await freePorts(2);
    let dir = tempDir('long-state-');
    while (dir.length < 120) dir = path.join(dir, 'a-rather-long-directory-name');
    const result = spawnSync(process.execPath, [CLI, 'serve'], {
      env: { ...process.env, STATE_DIR: dir, LISTEN_ADDRESS: `127.0.0.1:${apiPort}`, DEFAULT_PORTS: String(httpPort), BIND_ADDRESS: '127.0.0.1' },
      encoding: 'utf8',
      timeout: 30000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('STATE_DIR');
  });
});
