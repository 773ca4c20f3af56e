import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Backend, request, startBackend } from './helpers/backends';
import { createCa, httpsRequest, issueCert, TestCa } from './helpers/certs';
import { freePort } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';

/**
 * Docker Flow Proxy's parameters that need HTTPS or the API itself, through the running sidecar:
 * denyHttp, httpsPort, header conditions on ssl_fc, replicas=0, aclName on remove,
 * reload?recreate, and parameters that are reported as ignored.
 */

const BASE = '/v1/docker-flow-proxy';
let ca: TestCa;
let sidecar: RunningSidecar;
let httpsPort: number;
let plain: Backend;
let tls: Backend;
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfp-params-state-'));

const reconfigure = (query: string) => sidecar.call(`${BASE}/reconfigure?${query}`);
const overHttps = (urlPath: string) => httpsRequest({ port: httpsPort, servername: 'shop.test', path: urlPath, ca: ca.cert });
const routeNames = async (): Promise<string[]> =>
  JSON.parse((await sidecar.call(`${BASE}/config?type=json`)).body).routes.map((r: { serviceName: string }) => r.serviceName);

beforeAll(async () => {
  ca = createCa();
  plain = await startBackend('plain-port');
  tls = await startBackend('https-port');
  const httpPort = await freePort();
  httpsPort = await freePort();
  sidecar = await startSidecar({ httpPort, stateDir, env: { DEFAULT_PORTS: `${httpPort},${httpsPort}:ssl` } });
  const cert = issueCert(ca, ['shop.test']);
  const put = await sidecar.call(`${BASE}/cert?certName=shop`, { method: 'PUT', body: cert.pem, headers: { 'Content-Type': 'text/plain' } });
  expect(put.status).toBe(200);
}, 60000);

afterAll(async () => {
  await sidecar?.stop();
  await plain?.close();
  await tls?.close();
  fs.rmSync(stateDir, { recursive: true, force: true, maxRetries: 5 });
});

describe('parameters that depend on HTTPS', () => {
  beforeAll(async () => {
    const host = 'outboundHostname=127.0.0.1';
    expect((await reconfigure(`serviceName=deny&servicePath=/deny&port=${plain.port}&${host}&denyHttp=true`)).status).toBe(200);
    expect((await reconfigure(`serviceName=dual&servicePath=/dual&port=${plain.port}&httpsPort=${tls.port}&${host}`)).status).toBe(200);
    const ssl = encodeURIComponent('X-Forwarded-Ssl on if { ssl_fc }');
    expect((await reconfigure(`serviceName=ssl&servicePath=/ssl&port=${plain.port}&${host}&addReqHeader=${ssl}`)).status).toBe(200);
  });

  it('answers plain HTTP with 403 on a denyHttp route, and serves it over HTTPS', async () => {
    expect((await sidecar.through('/deny/x')).status).toBe(403);
    const secure = await overHttps('/deny/x');
    expect([secure.status, secure.backend]).toEqual([200, 'plain-port']);
  });

  it('sends requests that came over HTTPS to httpsPort, the others to port', async () => {
    expect((await sidecar.through('/dual/x')).backend).toBe('plain-port');
    expect((await overHttps('/dual/x')).backend).toBe('https-port');
  });

  it('makes the plain HTTP side of an httpsPort route the default backend with isDefaultBackend', async () => {
    const dual = `serviceName=dual&servicePath=/dual&port=${plain.port}&httpsPort=${tls.port}&outboundHostname=127.0.0.1`;
    expect((await reconfigure(`${dual}&isDefaultBackend=true`)).status).toBe(200);
    expect((await sidecar.through('/unmatched')).backend).toBe('plain-port');
    expect((await reconfigure(dual)).status).toBe(200);
    expect((await sidecar.through('/unmatched')).status).toBe(503);
  });

  it("adds DFP's X-Forwarded-Ssl example header only to requests that came over TLS", async () => {
    expect(JSON.parse((await overHttps('/ssl/x')).body).headers['x-forwarded-ssl']).toBe('on');
    expect(JSON.parse((await sidecar.through('/ssl/x')).body).headers['x-forwarded-ssl']).toBeUndefined();
  });
});

describe("requests from DFP's documentation", () => {
  it('serves go-demo as the Swarm listener announces it (com.df.* labels without the prefix)', async () => {
    const labels = `notify=true&servicePath=/demo/hello,/demo/person&port=${plain.port}&outboundHostname=127.0.0.1`;
    const answer = await reconfigure(`serviceName=go-demo&${labels}&serviceDomain=${encodeURIComponent('*domain.com')}`);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).ignored.map((i: { parameter: string }) => i.parameter)).toEqual(['notify']);
    expect((await sidecar.through('/demo/hello', { Host: 'my-domain.com' })).backend).toBe('plain-port');
    expect((await sidecar.through('/demo/person', { Host: 'my-other-domain.com:80' })).backend).toBe('plain-port');
    expect((await sidecar.through('/demo/hello', { Host: 'example.org' })).status).toBe(503);
    expect((await sidecar.call(`${BASE}/remove?serviceName=go-demo`)).status).toBe(200);
  });

  it('answers reload?recreate=false&fromListener=true', async () => {
    expect((await sidecar.call(`${BASE}/reload?recreate=false&fromListener=true`)).status).toBe(200);
  });
});

describe('the API side of DFP parameters', () => {
  const route = () => `serviceName=api-demo&servicePath=/api-demo&port=${plain.port}&outboundHostname=127.0.0.1`;

  it('lists parameters that change nothing under ignored, with the reason, and logs each name once', async () => {
    const query = `${route()}&com.df.notify=true&templateFePath=/tmpl/fe.tmpl&timeoutClient=5&distribute=false`;
    const answer = await reconfigure(query);
    expect(answer.status).toBe(200);
    const ignored: { parameter: string; reason: string }[] = JSON.parse(answer.body).ignored;
    expect(ignored.map((i) => i.parameter)).toEqual(['com.df.notify', 'templateFePath', 'timeoutClient']);
    expect(ignored[0].reason).toMatch(/not a parameter/);
    expect(ignored[1].reason).toMatch(/TEMPLATES_DIR/);
    expect(ignored[2].reason).toMatch(/tcp and sni/);
    expect((await reconfigure(query)).status).toBe(200);
    const logged = sidecar
      .logs()
      .split('\n')
      .filter((line) => line.includes('reconfigure parameter ignored') && line.includes('"com.df.notify"'));
    expect(logged).toHaveLength(1);
    expect((await sidecar.through('/api-demo/x')).backend).toBe('plain-port');
  });

  it('removes the service on replicas=0', async () => {
    expect((await reconfigure(route())).status).toBe(200);
    const answer = await reconfigure(`${route()}&replicas=0`);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).message).toBe('api-demo is removed');
    expect(await routeNames()).not.toContain('api-demo');
    expect((await sidecar.through('/api-demo/x')).status).toBe(503);
  });

  it('accepts aclName on remove', async () => {
    expect((await reconfigure(`${route()}&aclName=05-api-demo`)).status).toBe(200);
    expect((await sidecar.call(`${BASE}/remove?serviceName=api-demo&aclName=05-api-demo`)).status).toBe(200);
    expect(await routeNames()).not.toContain('api-demo');
    expect((await sidecar.through('/api-demo/x')).status).toBe(503);
  });

  it('recreates the config from the stored routes on reload?recreate=true', async () => {
    expect((await reconfigure(route())).status).toBe(200);
    const configPath = path.join(stateDir, 'haproxy.cfg');
    fs.writeFileSync(configPath, 'garbage that HAProxy would refuse\n');
    const answer = await sidecar.call(`${BASE}/reload?recreate=true`);
    expect(answer.status).toBe(200);
    expect(fs.readFileSync(configPath, 'utf8')).toContain('backend api-demo-be');
    expect((await request(`${sidecar.proxy}/api-demo/x`)).backend).toBe('plain-port');
  });

  it('refuses connectionMode=http-tunnel (gone from HAProxy 2) with 400 naming it, and stores nothing', async () => {
    const answer = await reconfigure(`serviceName=tunnel&servicePath=/tunnel&port=${plain.port}&connectionMode=http-tunnel`);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).message).toMatch(/^connectionMode: /);
    expect(await routeNames()).not.toContain('tunnel');
  });
});
