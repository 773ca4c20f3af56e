import * as http from 'http';
import * as net from 'net';
import * as zlib from 'zlib';
import { Backend, request, startBackend, startTcpBackend } from './helpers/backends';
import { RunningDnsmasq, startDnsmasq } from './helpers/dnsmasq';
import { RunningHaproxy, startHaproxy } from './helpers/haproxy';
import { freePort, waitFor } from './helpers/ports';
import { basicAuth, loopbackSettings, renderChecked } from './helpers/render';
import { Settings } from '../src/settings';

/**
 * Docker Flow Proxy's route parameters with DFP's meaning, proven through a real HAProxy: each
 * answer is checked for which test backend gave it and what that backend received.
 */

const NAMES = [
  'rewrite',
  'multi',
  'pcre',
  'shop',
  'shop-web',
  'hosted',
  'headers',
  'fallback',
  'methods',
  'denied',
  'v3',
  'bots',
  'excluding',
  'aliases',
  'matchall',
  'zipped',
  'closing',
  'extra',
  'moved',
] as const;
type Name = (typeof NAMES)[number];

const backends = {} as Record<Name, Backend>;
let haproxy: RunningHaproxy;
let base: string;
let settings: Settings;

/** A route to test backend `name`, on loopback. */
function to(name: Name, params: Record<string, string>): Record<string, string> {
  return { serviceName: name, port: String(backends[name].port), outboundHostname: '127.0.0.1', ...params };
}

function seen(body: string): { path: string; headers: Record<string, string> } {
  return JSON.parse(body) as { path: string; headers: Record<string, string> };
}

beforeAll(async () => {
  for (const name of NAMES) backends[name] = await startBackend(name);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  settings = loopbackSettings(port, { STATS_USER: 'admin', STATS_PASS: 'stats' });
  // The value `%[env(HOSTNAME)]` gives, whatever host runs the test.
  haproxy = await startHaproxy(renderChecked([], settings), { HOSTNAME: 'proxy-host-1' });
});

afterAll(async () => {
  await haproxy?.stop();
  for (const backend of Object.values(backends)) await backend?.close();
});

describe('the DFP semantics of existing parameters', () => {
  beforeAll(async () => {
    const routes = [
      to('rewrite', { servicePath: '/api/v1', reqPathSearch: '/api/v1/', reqPathReplace: '/v2/' }),
      to('multi', { servicePath: '/re5-v1,/twice', reqPathSearchReplace: '^/re5\\-v1/(.*),/re5/\\1:^/twice/a,/twice/b:^/twice/b,/twice/c' }),
      // Lookbehind and a possessive quantifier: PCRE, not JavaScript.
      to('pcre', { servicePath: '/pcre', reqPathSearch: '(?<=/pcre/)a++b', reqPathReplace: 'matched' }),
      // The unsuffixed serviceDomain and outboundHostname are the defaults of every index.
      {
        serviceName: 'shop',
        serviceDomain: 'shop.example.com',
        outboundHostname: '127.0.0.1',
        'servicePath.1': '/api',
        'port.1': String(backends.shop.port),
        'servicePath.2': '/web',
        'port.2': String(backends['shop-web'].port),
      },
      to('hosted', { serviceDomain: 'example.com', servicePath: '/hosted' }),
      to('headers', {
        servicePath: '/headers',
        addReqHeader: 'X-Forwarded-Port %[dst_port],X-Forwarded-Ssl on if { ssl_fc },X-Plain yes if !{ ssl_fc }',
        setReqHeader: 'X-Quoted "two words"',
        addResHeader: 'X-Via %[env(HOSTNAME)],Server haproxy',
      }),
      to('fallback', { servicePath: '/', isDefaultBackend: 'true' }),
    ];
    await haproxy.reload(renderChecked(routes, settings));
  });

  it('substitutes the match of reqPathSearch and keeps the rest of the path and the query', async () => {
    const answer = await request(`${base}/api/v1/users?id=3`);
    expect(answer.backend).toBe('rewrite');
    expect(seen(answer.body).path).toBe('/v2/users?id=3');
  });

  it('applies every pair of reqPathSearchReplace in order, with back-references', async () => {
    expect(seen((await request(`${base}/re5-v1/list?x=1`)).body).path).toBe('/re5/list?x=1');
    expect(seen((await request(`${base}/twice/a/z`)).body).path).toBe('/twice/c/z');
  });

  it('hands regular expressions to HAProxy PCRE as written (lookbehind, possessive quantifier)', async () => {
    const answer = await request(`${base}/pcre/aaab/rest`);
    expect(answer.backend).toBe('pcre');
    expect(seen(answer.body).path).toBe('/pcre/matched/rest');
  });

  it('lets .N destinations inherit the unsuffixed serviceDomain', async () => {
    expect((await request(`${base}/api/x`, { headers: { Host: 'shop.example.com' } })).backend).toBe('shop');
    expect((await request(`${base}/web/x`, { headers: { Host: 'shop.example.com' } })).backend).toBe('shop-web');
    expect((await request(`${base}/api/x`, { headers: { Host: 'other.example.com' } })).backend).toBe('fallback');
    expect((await request(`${base}/other`, { headers: { Host: 'shop.example.com' } })).backend).toBe('fallback');
  });

  it('matches a Host header with a port, and never a longer host that starts with the domain', async () => {
    expect((await request(`${base}/hosted`, { headers: { Host: 'example.com:8080' } })).backend).toBe('hosted');
    expect((await request(`${base}/hosted`, { headers: { Host: 'EXAMPLE.com' } })).backend).toBe('hosted');
    expect((await request(`${base}/hosted`, { headers: { Host: 'example.com.evil.org' } })).backend).toBe('fallback');
    expect((await request(`${base}/hosted`, { headers: { Host: 'example.com.evil.org:80' } })).backend).toBe('fallback');
  });

  it('passes header values to HAProxy as written: conditions, sample fetches, quotes', async () => {
    const answer = await request(`${base}/headers/x`);
    const headers = seen(answer.body).headers;
    expect(headers['x-forwarded-port']).toBe(base.split(':')[2]);
    expect(headers['x-forwarded-ssl']).toBeUndefined();
    expect(headers['x-plain']).toBe('yes');
    expect(headers['x-quoted']).toBe('two words');
    expect(answer.headers['x-via']).toBe('proxy-host-1');
    expect(answer.headers.server).toBe('haproxy');
  });
});

describe('methods, request filters, exclusions and header aliases', () => {
  beforeAll(async () => {
    const routes = [
      to('methods', { servicePath: '/methods', allowedMethods: 'GET,DELETE' }),
      to('denied', { servicePath: '/denied', deniedMethods: 'PUT,POST' }),
      // Without the header the request falls through to the next route of the path.
      to('v3', { aclName: 'a-v3', servicePath: '/versioned', serviceHeader: 'X-Version:3,name:viktor' }),
      to('bots', { aclName: 'a-bots', servicePath: '/versioned', userAgent: 'googlebot,iphone' }),
      to('shop', { servicePath: '/versioned' }),
      to('excluding', { servicePath: '/ex', servicePathExclude: '/ex/private,/ex/admin' }),
      to('aliases', { servicePath: '/aliases', addHeader: 'X-Added old-name', setHeader: 'X-Set old-name' }),
      to('matchall', { serviceDomain: 'match.test', serviceDomainMatchAll: 'true' }),
    ];
    await haproxy.reload(renderChecked(routes, settings));
  });

  it('answers 403 to a method outside allowedMethods', async () => {
    expect((await request(`${base}/methods/x`)).backend).toBe('methods');
    expect((await request(`${base}/methods/x`, { method: 'DELETE' })).backend).toBe('methods');
    const refused = await request(`${base}/methods/x`, { method: 'POST', body: 'x' });
    expect([refused.status, refused.backend]).toEqual([403, undefined]);
    expect(backends.methods.requests.some((r) => r.method === 'POST')).toBe(false);
  });

  it('answers 403 to a method in deniedMethods', async () => {
    expect((await request(`${base}/denied/x`, { method: 'PUT', body: 'x' })).status).toBe(403);
    expect((await request(`${base}/denied/x`, { method: 'POST', body: 'x' })).status).toBe(403);
    expect((await request(`${base}/denied/x`, { method: 'GET' })).backend).toBe('denied');
  });

  it('sends a request to a serviceHeader route only with every header and value', async () => {
    const both = { 'X-Version': '3', name: 'viktor' };
    expect((await request(`${base}/versioned`, { headers: both })).backend).toBe('v3');
    expect((await request(`${base}/versioned`, { headers: { 'X-Version': '3' } })).backend).toBe('shop');
    expect((await request(`${base}/versioned`, { headers: { ...both, 'X-Version': '4' } })).backend).toBe('shop');
  });

  it('sends a request to a userAgent route only when the User-Agent contains one of the values', async () => {
    expect((await request(`${base}/versioned`, { headers: { 'User-Agent': 'Mozilla/5.0 (compatible; Googlebot/2.1)' } })).backend).toBe('bots');
    expect((await request(`${base}/versioned`, { headers: { 'User-Agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0, like Mac OS X)' } })).backend).toBe('bots');
    expect((await request(`${base}/versioned`, { headers: { 'User-Agent': 'curl/8.0' } })).backend).toBe('shop');
  });

  it('keeps servicePathExclude paths away from the service (503 when nothing else serves them)', async () => {
    expect((await request(`${base}/ex/public`)).backend).toBe('excluding');
    const excluded = await request(`${base}/ex/private/x`);
    expect([excluded.status, excluded.backend]).toEqual([503, undefined]);
    expect((await request(`${base}/ex/admin`)).status).toBe(503);
  });

  it('takes addHeader and setHeader as the older names of addReqHeader and setReqHeader', async () => {
    const headers = seen((await request(`${base}/aliases/x`, { headers: { 'X-Set': 'client' } })).body).headers;
    expect(headers['x-added']).toBe('old-name');
    expect(headers['x-set']).toBe('old-name');
  });

  it('takes serviceDomainMatchAll=true as serviceDomainAlgo=hdr_dom(host)', async () => {
    expect((await request(`${base}/`, { headers: { Host: 'api.match.test' } })).backend).toBe('matchall');
    expect((await request(`${base}/`, { headers: { Host: 'match.test:81' } })).backend).toBe('matchall');
  });
});

/** The check_status HAProxy's stats report for the server of `backend` ('' when it is not checked). */
async function checkStatus(backend: string): Promise<string | undefined> {
  const csv = (await request(`${base}/admin?stats;csv`, { headers: { Authorization: basicAuth('admin', 'stats') } })).body;
  const header = csv.split('\n')[0].replace(/^# /, '').split(',');
  const row = csv.split('\n').find((line) => line.startsWith(`${backend},`) && !line.includes(',BACKEND,'));
  return row?.split(',')[header.indexOf('check_status')];
}

/** A GET whose body stays as bytes (the test helper's request() decodes it as text). */
function rawGet(url: string, headers: Record<string, string>): Promise<{ encoding?: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { ...headers, Connection: 'close' }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
    });
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/** A TCP server that accepts connections and never answers: something for health checks to reach. */
async function silentListener(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('compression, connection mode, backendExtra, health checks, redirects, replicas=0', () => {
  let checked: Awaited<ReturnType<typeof silentListener>>;
  let unchecked: Awaited<ReturnType<typeof silentListener>>;

  beforeAll(async () => {
    checked = await silentListener();
    unchecked = await silentListener();
    const routes = [
      to('zipped', { servicePath: '/zipped', compressionAlgo: 'gzip', compressionType: 'application/json' }),
      to('closing', { servicePath: '/closing', connectionMode: 'http-server-close' }),
      to('extra', { servicePath: '/extra', backendExtra: 'http-response set-header X-Extra from-backend-extra' }),
      to('moved', {
        serviceDomain: 'new.test',
        redirectFromDomain: 'old.test,older.test',
        // Destinations of one service are tried in index order: the narrower path first.
        'servicePath.1': '/secure',
        'httpsOnly.1': 'true',
        'httpsRedirectCode.1': '301',
        'servicePath.2': '/',
      }),
      { serviceName: 'checked', servicePath: '/checked', port: String(checked.port), outboundHostname: '127.0.0.1', checkResolvers: 'true' },
      { serviceName: 'unchecked', servicePath: '/unchecked', port: String(unchecked.port), outboundHostname: '127.0.0.1' },
      to('fallback', { servicePath: '/gone', replicas: '0' }),
    ];
    await haproxy.reload(renderChecked(routes, settings));
  });

  afterAll(async () => {
    await checked?.close();
    await unchecked?.close();
  });

  it('compresses responses of compressionType with compressionAlgo when the client accepts it', async () => {
    const zipped = await rawGet(`${base}/zipped/x`, { 'Accept-Encoding': 'gzip' });
    expect(zipped.encoding).toBe('gzip');
    expect(JSON.parse(zlib.gunzipSync(zipped.body).toString()).backend).toBe('zipped');
    expect((await request(`${base}/zipped/x`)).headers['content-encoding']).toBeUndefined();
  });

  it('applies connectionMode to the backend: http-server-close closes the server side after each response', async () => {
    expect(seen((await request(`${base}/closing/x`, { headers: { Connection: 'keep-alive' } })).body).headers.connection).toBe('close');
    expect(seen((await request(`${base}/extra/x`, { headers: { Connection: 'keep-alive' } })).body).headers.connection).toBeUndefined();
  });

  it('adds backendExtra at the end of the backend, as written', async () => {
    expect((await request(`${base}/extra/x`)).headers['x-extra']).toBe('from-backend-extra');
  });

  it('health-checks the servers of a checkResolvers route, and only those (HAProxy reports L4OK)', async () => {
    await waitFor('the first health check', async () => (await checkStatus(`checked-be${checked.port}`)) === 'L4OK', 15000, 200);
    expect(await checkStatus(`unchecked-be${unchecked.port}`)).toBe('');
  });

  it('redirects redirectFromDomain hosts to the first serviceDomain with 301, keeping path and query', async () => {
    const answer = await request(`${base}/page?x=1`, { headers: { Host: 'old.test' } });
    expect(answer.status).toBe(301);
    expect(answer.headers.location).toBe('http://new.test/page?x=1');
    expect((await request(`${base}/page`, { headers: { Host: 'older.test:8080' } })).headers.location).toBe('http://new.test/page');
    expect((await request(`${base}/page`, { headers: { Host: 'new.test' } })).backend).toBe('moved');
  });

  it('answers httpsOnly redirects with httpsRedirectCode', async () => {
    const answer = await request(`${base}/secure/x`, { headers: { Host: 'new.test' } });
    expect(answer.status).toBe(301);
    expect(answer.headers.location).toBe('https://new.test/secure/x');
  });

  it('leaves a route with replicas=0 out', async () => {
    expect((await request(`${base}/gone`)).status).toBe(503);
  });
});

describe('sessionType=sticky-server', () => {
  let dns: RunningDnsmasq;
  let sticky: RunningHaproxy;
  let stickyBase: string;
  const servers: Backend[] = [];

  beforeAll(async () => {
    const port = await freePort('127.0.0.2');
    servers.push(await startBackend('sticky-a', '127.0.0.2', port), await startBackend('sticky-b', '127.0.0.3', port));
    dns = await startDnsmasq({ 'tasks.sticky': ['127.0.0.2', '127.0.0.3'] });
    const httpPort = await freePort();
    stickyBase = `http://127.0.0.1:${httpPort}`;
    const stickySettings = loopbackSettings(httpPort, { HAPROXY_RESOLVERS: dns.address });
    sticky = await startHaproxy(
      renderChecked([{ serviceName: 'sticky', servicePath: '/s', port: String(port), sessionType: 'sticky-server', replicas: '2' }], stickySettings),
    );
  });

  afterAll(async () => {
    await sticky?.stop();
    await dns?.stop();
    for (const server of servers) await server.close();
  });

  it('spreads new clients over every task of the service, and keeps a client with its cookie on one', async () => {
    const first = await waitFor(
      'both tasks answering',
      async () => {
        const answers = await Promise.all([1, 2, 3, 4].map(() => request(`${stickyBase}/s`)));
        const names = new Set(answers.map((a) => a.backend));
        return names.has('sticky-a') && names.has('sticky-b') ? answers[0] : false;
      },
      20000,
      200,
    );
    const cookie = String(first.headers['set-cookie']).split(';')[0];
    expect(cookie).toMatch(/^sticky=/);
    for (let i = 0; i < 6; i++) {
      expect((await request(`${stickyBase}/s`, { headers: { Cookie: cookie } })).backend).toBe(first.backend);
    }
  });
});

/** Connect, send nothing, and collect what arrives until the proxy closes the connection. */
function idleClient(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(20000, () => socket.destroy(new Error('the proxy never closed the connection')));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      socket.end();
    });
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

describe('tcp and sni parameters: timeoutClient, checkTcp', () => {
  let tcpBackend: Backend;
  let idlePort: number;
  let waitingPort: number;

  beforeAll(async () => {
    tcpBackend = await startTcpBackend('tcp-greeting');
    idlePort = await freePort();
    waitingPort = await freePort();
    const sni = (serviceName: string, srcPort: number, extra: Record<string, string>) => ({
      serviceName,
      reqMode: 'sni',
      srcPort: String(srcPort),
      port: String(tcpBackend.port),
      outboundHostname: '127.0.0.1',
      ...extra,
    });
    // On each port, a service by SNI and one (without serviceDomain) for clients that send no SNI.
    const routes = [
      sni('idle-sni', idlePort, { serviceDomain: 'idle.test', timeoutClient: '1', checkTcp: 'true' }),
      sni('idle-default', idlePort, {}),
      sni('waiting-sni', waitingPort, { serviceDomain: 'waiting.test' }),
      sni('waiting-default', waitingPort, {}),
    ];
    await haproxy.reload(renderChecked(routes, settings));
  });

  afterAll(async () => {
    await tcpBackend?.close();
  });

  it('closes a client that sends nothing within timeoutClient, before it reaches the service', async () => {
    // Without timeoutClient the frontend waits for a TLS hello (5 s), then hands the client to the default service.
    expect(await idleClient(waitingPort)).toBe('tcp-greeting\n');
    expect(await idleClient(idlePort)).toBe('');
  });

  it('health-checks the servers of a checkTcp route (HAProxy reports L4OK)', async () => {
    await waitFor('the first tcp health check', async () => (await checkStatus('idle-sni-be' + String(tcpBackend.port))) === 'L4OK', 15000, 200);
    expect(await checkStatus('waiting-sni-be' + String(tcpBackend.port))).toBe('');
  });
});
