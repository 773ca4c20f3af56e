import * as net from 'net';
import { Backend, request, startBackend } from './helpers/backends';
import { RunningHaproxy, startHaproxy } from './helpers/haproxy';
import { freePort } from './helpers/ports';
import { basicAuth, loopbackSettings, renderChecked } from './helpers/render';
import { Settings } from '../src/settings';

/**
 * HTTP routing, proven end to end: the rendered config runs in a real HAProxy on loopback, and
 * every answer is checked for which test backend gave it and what that backend received.
 */

const ENCRYPTED_S3CRET = '$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1';
const NAMES = [
  'go-demo',
  'site-a',
  'site-first',
  'wildcard',
  'dom',
  'root',
  'auth',
  'auth-enc',
  'rewrite',
  'headers',
  'secure',
  'proto',
  'multi-a',
  'multi-b',
  'exact',
  'ext',
  'reg',
  'fallback',
] as const;
type Name = (typeof NAMES)[number];

const backends = {} as Record<Name, Backend>;
let haproxy: RunningHaproxy;
let base: string;
let settings: Settings;
let silent: net.Server;
let silentPort: number;
const silentSockets = new Set<net.Socket>();

/** A route to test backend `name`, on loopback. */
function to(name: Name, params: Record<string, string>): Record<string, string> {
  return { serviceName: name, port: String(backends[name].port), outboundHostname: '127.0.0.1', ...params };
}

function echoed(body: string): { path: string; headers: Record<string, string> } {
  return JSON.parse(body) as { path: string; headers: Record<string, string> };
}

/** A TCP server that accepts and never answers: only a server timeout ends the request. */
async function startSilentServer(): Promise<void> {
  silentPort = await freePort();
  silent = net.createServer((socket) => {
    silentSockets.add(socket);
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => silent.listen(silentPort, '127.0.0.1', resolve));
}

beforeAll(async () => {
  for (const name of NAMES) backends[name] = await startBackend(name);
  await startSilentServer();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  settings = loopbackSettings(port, { STATS_USER: 'admin', STATS_PASS: 'stats-pass' });
  haproxy = await startHaproxy(renderChecked([], settings));
});

afterAll(async () => {
  await haproxy?.stop();
  for (const backend of Object.values(backends)) await backend.close();
  for (const socket of silentSockets) socket.destroy();
  await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
});

describe('with no routes', () => {
  it('answers 503 to everything (no dummy backend)', async () => {
    expect((await request(`${base}/`)).status).toBe(503);
    expect((await request(`${base}/demo/hello`)).status).toBe(503);
  });

  it('serves the stats page on the HTTP frontend behind STATS_USER/STATS_PASS', async () => {
    expect((await request(`${base}/admin?stats`)).status).toBe(401);
    const page = await request(`${base}/admin?stats`, { headers: { Authorization: basicAuth('admin', 'stats-pass') } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('Statistics Report');
  });
});

describe('with many http routes in one config', () => {
  beforeAll(async () => {
    const routes = [
      to('go-demo', { servicePath: '/demo' }),
      to('site-a', { serviceDomain: 'a.example.test' }),
      // aclName sorts this before go-demo, so for its domain it wins /demo.
      to('site-first', { aclName: 'aaa-first', serviceDomain: 'first.example.test', servicePath: '/demo' }),
      to('wildcard', { serviceDomain: '*.wild.test' }),
      to('dom', { serviceDomain: 'dom.test', serviceDomainAlgo: 'hdr_dom(host)' }),
      // aclName sorts first, but a root path without a domain always goes last.
      to('root', { aclName: 'aaa-root', servicePath: '/' }),
      to('auth', { servicePath: '/auth', users: 'alice:s3cret,bob:other' }),
      to('auth-enc', { servicePath: '/encrypted', users: `carol:${ENCRYPTED_S3CRET}`, usersPassEncrypted: 'true' }),
      to('rewrite', { servicePath: '/rewrite', reqPathSearch: '^/rewrite/(.*)', reqPathReplace: '/api/\\1' }),
      to('headers', {
        servicePath: '/headers',
        addReqHeader: `X-Added "it's \\"quoted\\" \\$HOME 100%%",X-Port %[dst_port]`,
        setReqHeader: 'X-Set fixed',
        delReqHeader: 'X-Remove',
        addResHeader: 'X-Res-Added yes',
        setResHeader: 'X-Backend replaced',
        delResHeader: 'Content-Type',
      }),
      to('secure', { servicePath: '/secure', httpsOnly: 'true' }),
      to('proto', { servicePath: '/proto', redirectWhenHttpProto: 'true' }),
      {
        serviceName: 'multi-a',
        outboundHostname: '127.0.0.1',
        'port.1': String(backends['multi-a'].port),
        'servicePath.1': '/multi-a',
        'port.2': String(backends['multi-b'].port),
        'servicePath.2': '/multi-b',
      },
      to('exact', { servicePath: '/exact', pathType: 'path' }),
      to('ext', { servicePath: '.png', pathType: 'path_end' }),
      to('reg', { servicePath: '^/reg/[0-9]+$', pathType: 'path_reg' }),
      { serviceName: 'slow', servicePath: '/slow', port: String(silentPort), outboundHostname: '127.0.0.1', timeoutServer: '1' },
      { serviceName: 'nowhere', servicePath: '/nowhere', port: '80', outboundHostname: 'nowhere.invalid' },
    ];
    await haproxy.reload(renderChecked(routes, settings));
  });

  it('sends /demo/hello to go-demo with the path unchanged', async () => {
    const answer = await request(`${base}/demo/hello`);
    expect(answer.status).toBe(200);
    expect(answer.backend).toBe('go-demo');
    expect(echoed(answer.body).path).toBe('/demo/hello');
  });

  it('lets a Host header pick the domain backend', async () => {
    expect((await request(`${base}/anything`, { headers: { Host: 'a.example.test' } })).backend).toBe('site-a');
    expect((await request(`${base}/anything`, { headers: { Host: 'b.example.test' } })).backend).toBe('root');
  });

  it('orders rules by aclName: the route sorted first wins a request both match', async () => {
    expect((await request(`${base}/demo/x`, { headers: { Host: 'first.example.test' } })).backend).toBe('site-first');
    expect((await request(`${base}/demo/x`, { headers: { Host: 'other.test' } })).backend).toBe('go-demo');
  });

  it('matches a wildcard domain by suffix', async () => {
    expect((await request(`${base}/`, { headers: { Host: 'x.wild.test' } })).backend).toBe('wildcard');
    expect((await request(`${base}/`, { headers: { Host: 'deep.x.wild.test' } })).backend).toBe('wildcard');
    expect((await request(`${base}/`, { headers: { Host: 'wild.test.evil' } })).backend).toBe('root');
  });

  it('applies serviceDomainAlgo: hdr_dom(host) matches the domain and its subdomains', async () => {
    expect((await request(`${base}/`, { headers: { Host: 'dom.test' } })).backend).toBe('dom');
    expect((await request(`${base}/`, { headers: { Host: 'api.dom.test' } })).backend).toBe('dom');
    expect((await request(`${base}/`, { headers: { Host: 'notdom.test' } })).backend).toBe('root');
  });

  it('lets a root-path service catch only what nothing else matches', async () => {
    expect((await request(`${base}/other/page`)).backend).toBe('root');
    expect((await request(`${base}/demo`)).backend).toBe('go-demo');
  });

  it('asks for basic auth (401), refuses a wrong password, and lets the right one through', async () => {
    const none = await request(`${base}/auth/x`);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toContain('Basic');
    expect((await request(`${base}/auth/x`, { headers: { Authorization: basicAuth('alice', 'wrong') } })).status).toBe(401);
    const ok = await request(`${base}/auth/x`, { headers: { Authorization: basicAuth('alice', 's3cret') } });
    expect([ok.status, ok.backend]).toEqual([200, 'auth']);
    expect((await request(`${base}/auth/x`, { headers: { Authorization: basicAuth('bob', 'other') } })).backend).toBe('auth');
  });

  it('checks encrypted passwords (usersPassEncrypted) against their crypt hash', async () => {
    expect((await request(`${base}/encrypted/x`)).status).toBe(401);
    expect((await request(`${base}/encrypted/x`, { headers: { Authorization: basicAuth('carol', 'nope') } })).status).toBe(401);
    const ok = await request(`${base}/encrypted/x`, { headers: { Authorization: basicAuth('carol', 's3cret') } });
    expect([ok.status, ok.backend]).toEqual([200, 'auth-enc']);
  });

  it('delivers a rewritten path (reqPathSearch / reqPathReplace)', async () => {
    const answer = await request(`${base}/rewrite/users/7`);
    expect(answer.backend).toBe('rewrite');
    expect(echoed(answer.body).path).toBe('/api/users/7');
  });

  it('adds, sets and deletes request headers, with values in HAProxy syntax', async () => {
    const answer = await request(`${base}/headers/x`, { headers: { 'X-Remove': 'gone', 'X-Set': 'original' } });
    const seen = echoed(answer.body).headers;
    expect(seen['x-added']).toBe(`it's "quoted" $HOME 100%`);
    expect(seen['x-port']).toBe(base.split(':')[2]);
    expect(seen['x-set']).toBe('fixed');
    expect(seen['x-remove']).toBeUndefined();
  });

  it('adds, sets and deletes response headers', async () => {
    const answer = await request(`${base}/headers/x`);
    expect(answer.status).toBe(200);
    expect(answer.headers['x-res-added']).toBe('yes');
    expect(answer.headers['x-backend']).toBe('replaced');
    expect(answer.headers['content-type']).toBeUndefined();
  });

  it('redirects plain http to https when httpsOnly is set', async () => {
    const answer = await request(`${base}/secure/page`, { headers: { Host: 'shop.test' } });
    expect([301, 302]).toContain(answer.status);
    expect(answer.headers.location).toBe('https://shop.test/secure/page');
  });

  it('redirects only when X-Forwarded-Proto is http with redirectWhenHttpProto', async () => {
    const proxied = await request(`${base}/proto/x`, { headers: { Host: 'shop.test', 'X-Forwarded-Proto': 'http' } });
    expect([301, 302]).toContain(proxied.status);
    expect(proxied.headers.location).toBe('https://shop.test/proto/x');
    expect((await request(`${base}/proto/x`, { headers: { 'X-Forwarded-Proto': 'https' } })).backend).toBe('proto');
    expect((await request(`${base}/proto/x`)).backend).toBe('proto');
  });

  it('routes each indexed destination of one service to its own port', async () => {
    expect((await request(`${base}/multi-a/x`)).backend).toBe('multi-a');
    expect((await request(`${base}/multi-b/x`)).backend).toBe('multi-b');
  });

  it('honours pathType: path (exact), path_end and path_reg', async () => {
    expect((await request(`${base}/exact`)).backend).toBe('exact');
    expect((await request(`${base}/exact/more`)).backend).toBe('root');
    expect((await request(`${base}/img/logo.png`)).backend).toBe('ext');
    expect((await request(`${base}/reg/123`)).backend).toBe('reg');
    expect((await request(`${base}/reg/abc`)).backend).toBe('root');
  });

  it('ends a request to a silent server after timeoutServer with 504', async () => {
    const started = Date.now();
    const answer = await request(`${base}/slow`, { timeoutMs: 10000 });
    expect(answer.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('starts even when a server host does not resolve, and answers 503 for it', async () => {
    expect((await request(`${base}/nowhere`)).status).toBe(503);
  });
});

describe('with isDefaultBackend', () => {
  beforeAll(async () => {
    const routes = [to('go-demo', { servicePath: '/demo' }), to('fallback', { servicePath: '/fallback', isDefaultBackend: 'true' })];
    await haproxy.reload(renderChecked(routes, settings));
  });

  it('sends what no rule matches to the default backend', async () => {
    expect((await request(`${base}/unmatched`)).backend).toBe('fallback');
    expect((await request(`${base}/demo/x`)).backend).toBe('go-demo');
    expect((await request(`${base}/fallback`)).backend).toBe('fallback');
  });
});
