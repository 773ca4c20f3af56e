import { Backend, request, startBackend } from './helpers/backends';
import { RunningHaproxy, startHaproxy } from './helpers/haproxy';
import { freePort } from './helpers/ports';
import { loopbackSettings, renderChecked } from './helpers/render';
import { Settings } from '../src/settings';

/**
 * Docker Flow Proxy's route parameters with DFP's meaning, proven through a real HAProxy: each
 * answer is checked for which test backend gave it and what that backend received.
 */

const NAMES = ['rewrite', 'multi', 'pcre', 'shop', 'shop-web', 'hosted', 'headers', 'fallback'] as const;
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
  settings = loopbackSettings(port);
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
