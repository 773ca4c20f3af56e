import * as fs from 'fs';
import * as path from 'path';
import { Backend, startBackend } from './helpers/backends';
import { checkConfig } from './helpers/haproxy';
import { waitFor } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';
import { removeTempDirs } from './helpers/tmp';

const BASE = '/v1/docker-flow-proxy';

describe('the HTTP API of one sidecar (file store)', () => {
  let sidecar: RunningSidecar;
  let goDemo: Backend;
  let other: Backend;

  beforeAll(async () => {
    goDemo = await startBackend('go-demo');
    other = await startBackend('other');
    sidecar = await startSidecar({ env: { STATS_USER: 'admin', STATS_PASS: 'secret' } });
  });

  afterAll(async () => {
    await sidecar?.stop();
    await goDemo?.close();
    await other?.close();
    removeTempDirs();
  });

  const reconfigure = (query: string) => sidecar.call(`${BASE}/reconfigure?${query}`);

  it('answers ping with status OK', async () => {
    const answer = await sidecar.call(`${BASE}/ping`);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 'OK' });
  });

  it('answers 503 through HAProxy while no route matches', async () => {
    expect((await sidecar.through('/demo/hello')).status).toBe(503);
  });

  it('serves a route through HAProxy as soon as reconfigure answers 200', async () => {
    const answer = await reconfigure(`serviceName=go-demo&servicePath=/demo&port=${goDemo.port}&outboundHostname=127.0.0.1`);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 'OK', serviceName: 'go-demo' });
    const through = await sidecar.through('/demo/hello');
    expect(through.status).toBe(200);
    expect(through.backend).toBe('go-demo');
  });

  it('accepts the route as a JSON body with PUT', async () => {
    const body = JSON.stringify({ serviceName: 'other', servicePath: '/other', port: String(other.port), outboundHostname: '127.0.0.1' });
    const answer = await sidecar.call(`${BASE}/reconfigure`, { method: 'PUT', body, headers: { 'Content-Type': 'application/json' } });
    expect(answer.status).toBe(200);
    expect((await sidecar.through('/other/x')).backend).toBe('other');
  });

  it.each([
    ['port', 'serviceName=bad&servicePath=/bad&port=http'],
    ['serviceName', 'serviceName=bad%20name&servicePath=/bad&port=8080'],
    ['servicePath', 'serviceName=bad&servicePath=/bad%0d%0abackend%20x&port=8080'],
    ['reqMode', 'serviceName=bad&servicePath=/bad&port=8080&reqMode=udp'],
    ['srcPort', 'serviceName=bad&port=8080&reqMode=tcp'],
  ])('refuses a bad %s with 400 naming it, and changes nothing', async (parameter, query) => {
    const before = await sidecar.call(`${BASE}/config`);
    const answer = await reconfigure(query);
    expect(answer.status).toBe(400);
    const body = JSON.parse(answer.body);
    expect(body.status).toBe('NOK');
    expect(body.message).toContain(parameter);
    expect(body.message).not.toMatch(/\bat .*\.js:\d+/);
    expect((await sidecar.call(`${BASE}/config`)).body).toBe(before.body);
    const stored = JSON.parse((await sidecar.call(`${BASE}/config?type=json`)).body);
    expect(stored.routes.map((r: { serviceName: string }) => r.serviceName)).not.toContain('bad');
  });

  it('refuses a malformed or oversized body with a 4xx JSON answer', async () => {
    const headers = { 'Content-Type': 'application/json' };
    const malformed = await sidecar.call(`${BASE}/reconfigure`, { method: 'PUT', body: '{"serviceName":', headers });
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body)).toMatchObject({ status: 'NOK' });
    const huge = await sidecar.call(`${BASE}/reconfigure`, { method: 'PUT', body: JSON.stringify({ serviceName: 'x'.repeat(2 * 1024 * 1024) }), headers });
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.body).status).toBe('NOK');
  });

  it('answers 409 for an http route with neither path nor domain', async () => {
    const answer = await reconfigure('serviceName=nowhere&port=8080');
    expect(answer.status).toBe(409);
    expect(JSON.parse(answer.body).status).toBe('NOK');
  });

  it('gives the live config as text and the routes as JSON', async () => {
    const text = await sidecar.call(`${BASE}/config`);
    expect(text.headers['content-type']).toMatch(/text\/plain/);
    expect(text.body).toContain('go-demo-be');
    expect(checkConfig(text.body).ok).toBe(true);
    const json = JSON.parse((await sidecar.call(`${BASE}/config?type=json`)).body);
    expect(json.routes).toEqual(expect.arrayContaining([expect.objectContaining({ serviceName: 'go-demo', servicePath: '/demo' })]));
  });

  it('removes a route, and removing it again is still 200', async () => {
    expect((await sidecar.call(`${BASE}/remove?serviceName=other`)).status).toBe(200);
    expect((await sidecar.through('/other/x')).status).toBe(503);
    expect((await sidecar.call(`${BASE}/remove?serviceName=other`)).status).toBe(200);
    expect((await sidecar.call(`${BASE}/remove?serviceName=bad%20name`)).status).toBe(400);
  });

  it('reloads on demand and keeps serving', async () => {
    const answer = await sidecar.call(`${BASE}/reload`);
    expect(answer.status).toBe(200);
    expect((await sidecar.through('/demo/x')).backend).toBe('go-demo');
  });

  it('reports health and Prometheus metrics whose reload counter moves', async () => {
    const health = await sidecar.call('/healthz');
    expect(health.status).toBe(200);
    const reloads = async () => {
      const text = (await sidecar.call('/metrics')).body;
      const line = text.split('\n').find((l) => l.startsWith('haproxy_sidecar_reloads_total{outcome="success"}'));
      return Number(line?.split(' ')[1]);
    };
    const before = await reloads();
    expect(before).toBeGreaterThan(0);
    await reconfigure(`serviceName=metrics-demo&servicePath=/metrics-demo&port=${goDemo.port}&outboundHostname=127.0.0.1`);
    await waitFor('the reload counter to move', async () => (await reloads()) > before, 5000);
    const text = (await sidecar.call('/metrics')).body;
    for (const line of text.split('\n').filter((l) => l !== '' && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? (-?[0-9.]+(e[+-]?\d+)?|nan|[+-]inf)$/i);
    }
    expect(text).toMatch(/^haproxy_sidecar_routes_served \d+$/m);
    expect(text).toMatch(/^haproxy_sidecar_reload_duration_seconds_count \d+$/m);
  });

  it("counts the checked-config cache: a reconfigure reuses the API's check, a hand edit of the store is checked anew", async () => {
    const cacheCounts = async () => {
      const text = (await sidecar.call('/metrics')).body;
      const value = (result: string) => Number(new RegExp(`^haproxy_sidecar_check_cache_total\\{result="${result}"\\} (\\S+)$`, 'm').exec(text)?.[1]);
      return { hits: value('hit'), misses: value('miss') };
    };
    const before = await cacheCounts();
    // At start the applier checked its config without routes: at least one miss.
    expect(before.misses).toBeGreaterThan(0);

    const answer = await reconfigure(`serviceName=cache-api&servicePath=/cache-api&port=${goDemo.port}&outboundHostname=127.0.0.1`);
    expect(answer.status).toBe(200);
    expect((await sidecar.through('/cache-api/x')).backend).toBe('go-demo');
    expect(await cacheCounts()).toEqual({ hits: before.hits + 1, misses: before.misses });

    // Nobody checked a hand edit of routes.json before it reaches the applier.
    const file = path.join(sidecar.stateDir, 'routes.json');
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as { index: number; routes: Record<string, Record<string, string>> };
    stored.routes['cache-hand'] = { serviceName: 'cache-hand', servicePath: '/cache-hand', port: String(other.port), outboundHostname: '127.0.0.1' };
    fs.writeFileSync(file, JSON.stringify({ index: stored.index + 1, routes: stored.routes }));
    await waitFor('the hand-edited route to be served', async () => (await sidecar.through('/cache-hand/x')).backend === 'other', 20000);
    expect(await cacheCounts()).toEqual({ hits: before.hits + 1, misses: before.misses + 1 });
  });

  it('serves the HAProxy stats page with its Prometheus exporter when STATS_USER and STATS_PASS are set', async () => {
    const auth = { Authorization: `Basic ${Buffer.from('admin:secret').toString('base64')}` };
    expect((await sidecar.through('/admin?stats')).status).toBe(401);
    expect((await sidecar.through('/admin?stats', auth)).status).toBe(200);
  });
});

describe('the HTTP API with API_USER and API_PASS', () => {
  let sidecar: RunningSidecar;

  beforeAll(async () => {
    sidecar = await startSidecar({ env: { API_USER: 'ops', API_PASS: 'pa55' } });
  });

  afterAll(async () => {
    await sidecar?.stop();
    removeTempDirs();
  });

  it('requires basic auth on /v1/ but not on /healthz and /metrics', async () => {
    expect((await sidecar.call(`${BASE}/ping`)).status).toBe(401);
    const wrong = { Authorization: `Basic ${Buffer.from('ops:nope').toString('base64')}` };
    expect((await sidecar.call(`${BASE}/ping`, { headers: wrong })).status).toBe(401);
    const right = { Authorization: `Basic ${Buffer.from('ops:pa55').toString('base64')}` };
    expect((await sidecar.call(`${BASE}/ping`, { headers: right })).status).toBe(200);
    expect((await sidecar.call('/healthz')).status).toBe(200);
    expect((await sidecar.call('/metrics')).status).toBe(200);
  });
});
