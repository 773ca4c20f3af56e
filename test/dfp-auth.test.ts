import * as fs from 'fs';
import * as path from 'path';
import { Backend, request, startBackend } from './helpers/backends';
import { RunningHaproxy, startHaproxy } from './helpers/haproxy';
import { freePort } from './helpers/ports';
import { basicAuth, loopbackSettings, renderChecked } from './helpers/render';
import { RunningSidecar, startSidecar } from './helpers/sidecar';
import { removeTempDirs, tempDir } from './helpers/tmp';
import { Settings } from '../src/settings';

/**
 * DFP's basic auth, through a real HAProxy: USERS in front of every service, a route's own users
 * (with passwords from USERS or from a Docker secret file), ignoreAuthorization, and the client's
 * Authorization header kept from the service.
 */

const S3CRET_HASH = '$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1';
const BASE = '/v1/docker-flow-proxy';

let backend: Backend;

beforeAll(async () => {
  backend = await startBackend('svc');
});

afterAll(async () => {
  await backend?.close();
  removeTempDirs();
});

function route(name: string, params: Record<string, string> = {}): Record<string, string> {
  return { serviceName: name, servicePath: `/${name}`, port: String(backend.port), outboundHostname: '127.0.0.1', ...params };
}

function secretsDir(files: Record<string, string>): string {
  const dir = tempDir('secrets-');
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

interface Proxy {
  readonly base: string;
  readonly haproxy: RunningHaproxy;
}

async function serve(routes: Record<string, string>[], env: Record<string, string>): Promise<Proxy> {
  const port = await freePort();
  const settings: Settings = loopbackSettings(port, { SECRETS_DIR: secretsDir({}), ...env });
  return { base: `http://127.0.0.1:${port}`, haproxy: await startHaproxy(renderChecked(routes, settings)) };
}

const as = (user: string, pass: string) => ({ Authorization: basicAuth(user, pass) });

/** The Authorization header the service received with the last request. */
function lastAuthorization(): string | undefined {
  return backend.requests[backend.requests.length - 1].headers.authorization;
}

describe('USERS: basic auth in front of every service', () => {
  let proxy: Proxy;

  beforeAll(async () => {
    proxy = await serve(
      [
        route('open'),
        route('own', { users: 'alice:alice-pw' }),
        route('borrowed', { users: 'admin' }),
        route('public', { ignoreAuthorization: 'true' }),
        {
          ...route('mixed'),
          'port.1': String(backend.port),
          'servicePath.1': '/mixed',
          'port.2': String(backend.port),
          'servicePath.2': '/open-part',
          'ignoreAuthorization.2': 'true',
        },
      ],
      { USERS: 'admin:s3cret,ops:ops-pw' },
    );
  });

  afterAll(async () => proxy?.haproxy.stop());

  it('answers 401 without credentials and lets a USERS user through', async () => {
    const none = await request(`${proxy.base}/open/x`);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toContain('Basic');
    expect((await request(`${proxy.base}/open/x`, { headers: as('admin', 'wrong') })).status).toBe(401);
    expect((await request(`${proxy.base}/open/x`, { headers: as('admin', 's3cret') })).backend).toBe('svc');
    expect((await request(`${proxy.base}/open/x`, { headers: as('ops', 'ops-pw') })).backend).toBe('svc');
  });

  it('never passes the Authorization header on to the service', async () => {
    const answer = await request(`${proxy.base}/open/x`, { headers: as('admin', 's3cret') });
    expect(answer.status).toBe(200);
    expect(lastAuthorization()).toBeUndefined();
    await request(`${proxy.base}/own/x`, { headers: as('alice', 'alice-pw') });
    expect(lastAuthorization()).toBeUndefined();
  });

  it("checks a route's own users instead of USERS", async () => {
    expect((await request(`${proxy.base}/own/x`)).status).toBe(401);
    expect((await request(`${proxy.base}/own/x`, { headers: as('alice', 'alice-pw') })).backend).toBe('svc');
    expect((await request(`${proxy.base}/own/x`, { headers: as('admin', 's3cret') })).status).toBe(401);
  });

  it('takes the password of a user listed without one from USERS, and only that user', async () => {
    expect((await request(`${proxy.base}/borrowed/x`, { headers: as('admin', 's3cret') })).backend).toBe('svc');
    expect((await request(`${proxy.base}/borrowed/x`, { headers: as('ops', 'ops-pw') })).status).toBe(401);
  });

  it('lets ignoreAuthorization=true through without credentials, per destination with .N', async () => {
    const open = await request(`${proxy.base}/public/x`);
    expect([open.status, open.backend]).toEqual([200, 'svc']);
    expect((await request(`${proxy.base}/open-part/x`)).backend).toBe('svc');
    expect((await request(`${proxy.base}/mixed/x`)).status).toBe(401);
  });
});

describe('USERS_PASS_ENCRYPTED, the dfp_users secret and usersSecret', () => {
  let proxy: Proxy;

  beforeAll(async () => {
    const dir = secretsDir({ dfp_users: `admin:${S3CRET_HASH}\n`, dfp_users_team: 'dave:dave-pw\neve:eve-pw\n' });
    proxy = await serve(
      [
        route('global'),
        route('team', { usersSecret: 'team' }),
        route('dave-only', { usersSecret: 'team', users: 'dave' }),
        route('hashed', { users: `carol:${S3CRET_HASH}`, usersPassEncrypted: 'true' }),
      ],
      { SECRETS_DIR: dir, USERS: 'replaced:by-the-secret', USERS_PASS_ENCRYPTED: 'true' },
    );
  });

  afterAll(async () => proxy?.haproxy.stop());

  it('reads USERS from the dfp_users secret, with crypt hashes as passwords', async () => {
    expect((await request(`${proxy.base}/global/x`, { headers: as('admin', 's3cret') })).backend).toBe('svc');
    expect((await request(`${proxy.base}/global/x`, { headers: as('replaced', 'by-the-secret') })).status).toBe(401);
  });

  it('reads the users of usersSecret=team from dfp_users_team', async () => {
    expect((await request(`${proxy.base}/team/x`)).status).toBe(401);
    expect((await request(`${proxy.base}/team/x`, { headers: as('dave', 'dave-pw') })).backend).toBe('svc');
    expect((await request(`${proxy.base}/team/x`, { headers: as('eve', 'eve-pw') })).backend).toBe('svc');
  });

  it('takes the password of users=dave from the secret, leaving its other users out', async () => {
    expect((await request(`${proxy.base}/dave-only/x`, { headers: as('dave', 'dave-pw') })).backend).toBe('svc');
    expect((await request(`${proxy.base}/dave-only/x`, { headers: as('eve', 'eve-pw') })).status).toBe(401);
  });

  it('checks usersPassEncrypted passwords against their hash', async () => {
    expect((await request(`${proxy.base}/hashed/x`, { headers: as('carol', 's3cret') })).backend).toBe('svc');
    expect((await request(`${proxy.base}/hashed/x`, { headers: as('carol', S3CRET_HASH) })).status).toBe(401);
  });
});

describe('STATS_USER=none and STATS_PASS=none', () => {
  it('serves the stats page without authentication', async () => {
    const proxy = await serve([], { STATS_USER: 'none', STATS_PASS: 'none' });
    try {
      const page = await request(`${proxy.base}/admin?stats`);
      expect(page.status).toBe(200);
      expect(page.body).toContain('Statistics Report');
    } finally {
      await proxy.haproxy.stop();
    }
  });
});

describe('a sidecar with USERS and SECRETS_DIR', () => {
  let sidecar: RunningSidecar;

  beforeAll(async () => {
    const dir = secretsDir({ dfp_users_team: 'dave:dave-pw' });
    sidecar = await startSidecar({ env: { USERS: 'admin:s3cret', SECRETS_DIR: dir } });
  }, 30000);

  afterAll(async () => sidecar?.stop());

  it('guards a route stored through the API with USERS', async () => {
    const answer = await sidecar.call(`${BASE}/reconfigure?${new URLSearchParams(route('api-route')).toString()}`);
    expect(answer.status).toBe(200);
    expect((await sidecar.through('/api-route/x')).status).toBe(401);
    const ok = await sidecar.through('/api-route/x', as('admin', 's3cret'));
    expect(ok.backend).toBe('svc');
    expect(lastAuthorization()).toBeUndefined();
  });

  it('refuses (400) a usersSecret with no file and a user whose password is nowhere, storing nothing', async () => {
    const missing = await sidecar.call(`${BASE}/reconfigure?${new URLSearchParams(route('no-secret', { usersSecret: 'nope' })).toString()}`);
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body).message).toMatch(/^usersSecret: /);
    const unknown = await sidecar.call(`${BASE}/reconfigure?${new URLSearchParams(route('no-user', { users: 'mallory' })).toString()}`);
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body).message).toMatch(/^users: user mallory has no password/);
    const config = await sidecar.call(`${BASE}/config?type=json`);
    const names = JSON.parse(config.body).routes.map((r: { serviceName: string }) => r.serviceName);
    expect(names).not.toContain('no-secret');
    expect(names).not.toContain('no-user');
  });

  it('keeps USERS passwords out of the config reply and the logs', async () => {
    const config = await sidecar.call(`${BASE}/config`);
    expect(config.body).toContain('userlist default_users');
    expect(config.body).not.toContain('s3cret');
    expect(config.body).not.toContain('dave-pw');
    expect(sidecar.logs()).not.toContain('s3cret');
  });
});
