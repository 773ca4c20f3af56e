import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import * as zlib from 'zlib';
import { Backend, request, startBackend, startTcpBackend } from './helpers/backends';
import { RunningHaproxy, startHaproxy } from './helpers/haproxy';
import { freePort, freePorts, waitFor } from './helpers/ports';
import { loopbackSettings, renderChecked } from './helpers/render';
import { CLI, RunningSidecar, startSidecar } from './helpers/sidecar';
import { removeTempDirs, tempDir } from './helpers/tmp';

/**
 * DFP's environment that shapes haproxy.cfg, proven by requests through a real HAProxy: what the
 * client gets back, what the service receives, and what the sidecar prints.
 */

const BASE = '/v1/docker-flow-proxy';
const CUSTOM_503 =
  'HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<h1>custom 503 page</h1>\n';

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

interface Proxy {
  readonly base: string;
  readonly port: number;
  readonly haproxy: RunningHaproxy;
}

async function serve(routes: Record<string, string>[], env: Record<string, string>): Promise<Proxy> {
  const port = await freePort();
  const settings = loopbackSettings(port, env);
  return { base: `http://127.0.0.1:${port}`, port, haproxy: await startHaproxy(renderChecked(routes, settings)) };
}

async function withProxy(routes: Record<string, string>[], env: Record<string, string>, test: (proxy: Proxy) => Promise<void>): Promise<void> {
  const proxy = await serve(routes, env);
  try {
    await test(proxy);
  } finally {
    await proxy.haproxy.stop();
  }
}

function lastSeen(): Backend['requests'][number] {
  return backend.requests[backend.requests.length - 1];
}

describe('EXTRA_GLOBAL, EXTRA_DEFAULTS and EXTRA_FRONTEND', () => {
  it('puts their lines (separated by commas) into the global, defaults and frontend sections', async () => {
    const env = {
      EXTRA_GLOBAL: 'setenv GREETING hello-from-global',
      EXTRA_DEFAULTS: 'compression algo gzip,compression type application/json',
      EXTRA_FRONTEND: 'http-response set-header X-Extra frontend-line,http-response set-header X-Greeting %[env(GREETING)]',
    };
    await withProxy([route('svc')], env, async (proxy) => {
      const answer = await request(`${proxy.base}/svc/x`, { headers: { 'Accept-Encoding': 'gzip' } });
      expect(answer.status).toBe(200);
      expect(answer.headers['x-extra']).toBe('frontend-line');
      expect(answer.headers['x-greeting']).toBe('hello-from-global');
      expect(answer.headers['content-encoding']).toBe('gzip');
    });
  });
});

describe('CONNECTION_MODE', () => {
  it('keeps the connection to the service open by default (http-keep-alive)', async () => {
    await withProxy([route('svc')], {}, async (proxy) => {
      expect((await request(`${proxy.base}/svc/x`, { headers: { Connection: 'keep-alive' } })).status).toBe(200);
      expect(lastSeen().headers.connection).toBeUndefined();
    });
  });

  it('http-server-close: the service is told to close after each response', async () => {
    await withProxy([route('svc')], { CONNECTION_MODE: 'http-server-close' }, async (proxy) => {
      const answer = await request(`${proxy.base}/svc/x`, { headers: { Connection: 'keep-alive' } });
      expect(answer.status).toBe(200);
      expect(lastSeen().headers.connection).toBe('close');
      expect(answer.headers.connection).toBeUndefined();
    });
  });

  it('httpclose (and DFP forceclose): both the service and the client are closed after the response', async () => {
    for (const mode of ['httpclose', 'forceclose']) {
      await withProxy([route('svc')], { CONNECTION_MODE: mode }, async (proxy) => {
        const answer = await request(`${proxy.base}/svc/x`, { headers: { Connection: 'keep-alive' } });
        expect(lastSeen().headers.connection).toBe('close');
        expect(answer.headers.connection).toBe('close');
      });
    }
  });
});

describe('SERVICE_DOMAIN_ALGO', () => {
  it('is the serviceDomainAlgo of routes that give none; a route that gives one keeps it', async () => {
    const routes = [
      route('dom', { serviceDomain: 'dom.test', servicePath: '/' }),
      route('exact', { serviceDomain: 'exact.test', serviceDomainAlgo: 'hdr(host)', servicePath: '/' }),
    ];
    await withProxy(routes, { SERVICE_DOMAIN_ALGO: 'hdr_dom(host)' }, async (proxy) => {
      expect((await request(`${proxy.base}/`, { headers: { Host: 'api.dom.test' } })).backend).toBe('svc');
      expect((await request(`${proxy.base}/`, { headers: { Host: 'exact.test' } })).backend).toBe('svc');
      expect((await request(`${proxy.base}/`, { headers: { Host: 'api.exact.test' } })).status).toBe(503);
    });
  });
});

describe('HTTPS_ONLY', () => {
  it('redirects plain HTTP requests of every route to HTTPS', async () => {
    await withProxy([route('svc')], { HTTPS_ONLY: 'true' }, async (proxy) => {
      const answer = await request(`${proxy.base}/svc/x?a=1`, { headers: { Host: 'shop.test' } });
      expect(answer.status).toBe(302);
      expect(answer.headers.location).toBe('https://shop.test/svc/x?a=1');
    });
  });
});

describe('BIND_PORTS', () => {
  it('serves the HTTP frontend on the extra ports too', async () => {
    const [extra] = await freePorts(1);
    await withProxy([route('svc')], { BIND_PORTS: String(extra) }, async (proxy) => {
      expect((await request(`${proxy.base}/svc/x`)).backend).toBe('svc');
      expect((await request(`http://127.0.0.1:${extra}/svc/x`)).backend).toBe('svc');
    });
  });
});

describe('ERRORFILES_DIR', () => {
  it("answers with the folder's <code>.http page", async () => {
    const dir = tempDir('errorfiles-');
    fs.writeFileSync(path.join(dir, '503.http'), CUSTOM_503);
    fs.writeFileSync(path.join(dir, 'README'), 'not an error page');
    await withProxy([route('svc')], { ERRORFILES_DIR: dir }, async (proxy) => {
      const answer = await request(`${proxy.base}/nothing-here`);
      expect(answer.status).toBe(503);
      expect(answer.body).toBe('<h1>custom 503 page</h1>\n');
    });
  });
});

function lines(sidecar: RunningSidecar): string[] {
  return sidecar
    .logs()
    .split('\n')
    .filter((line) => line.startsWith('HAProxy: '));
}

async function reconfigure(sidecar: RunningSidecar, params: Record<string, string>): Promise<void> {
  const answer = await sidecar.call(`${BASE}/reconfigure?${new URLSearchParams(params).toString()}`);
  expect([answer.status, answer.body]).toEqual([200, expect.any(String)]);
}

/** The access log lines that name `what` (e.g. a request line), once there are `count` of them. */
async function logged(sidecar: RunningSidecar, what: string, count = 1): Promise<string[]> {
  return waitFor(`${count} access log line(s) with ${what}`, async () => {
    const found = lines(sidecar).filter((line) => line.includes(what));
    return found.length >= count ? found : undefined;
  });
}

describe('DEBUG: the access log on the sidecar stdout', () => {
  let sidecar: RunningSidecar;

  afterEach(async () => sidecar?.stop());

  it('prints one line per request with DEBUG=true, captured headers included', async () => {
    sidecar = await startSidecar({ env: { DEBUG: 'true', CAPTURE_REQUEST_HEADER: 'Host:20,X-Trace:10' } });
    await reconfigure(sidecar, route('svc'));
    await sidecar.through('/svc/first', { Host: 'shop.test', 'X-Trace': 'abc' });
    await sidecar.through('/svc/second');
    const [first] = await logged(sidecar, '"GET /svc/first HTTP/1.1"');
    expect(first).toMatch(/ services svc-be\d+\/svc .* 200 /);
    expect(first).toContain('{shop.test|abc}');
    expect(await logged(sidecar, '"GET /svc/second HTTP/1.1"')).toHaveLength(1);
  });

  it('prints nothing by default', async () => {
    sidecar = await startSidecar();
    await reconfigure(sidecar, route('svc'));
    expect((await sidecar.through('/svc/x')).backend).toBe('svc');
    expect((await sidecar.through('/missing')).status).toBe(503);
    // The stop drains HAProxy's output: whatever it printed is in the logs afterwards.
    await sidecar.stop();
    expect(lines(sidecar).filter((line) => line.includes('GET'))).toEqual([]);
  });

  it('prints only failed requests with DEBUG_ERRORS_ONLY=true', async () => {
    sidecar = await startSidecar({ env: { DEBUG: 'true', DEBUG_ERRORS_ONLY: 'true' } });
    await reconfigure(sidecar, route('svc'));
    expect((await sidecar.through('/svc/fine')).status).toBe(200);
    expect((await sidecar.through('/broken')).status).toBe(503);
    await logged(sidecar, '"GET /broken HTTP/1.1"');
    await sidecar.stop();
    expect(lines(sidecar).filter((line) => line.includes('/svc/fine'))).toEqual([]);
  });

  it('uses DEBUG_HTTP_FORMAT and DEBUG_TCP_FORMAT as the log formats', async () => {
    const tcp = await startTcpBackend('redis');
    const srcPort = await freePort();
    try {
      sidecar = await startSidecar({ env: { DEBUG: 'true', DEBUG_HTTP_FORMAT: 'http-format:%ST:%HU', DEBUG_TCP_FORMAT: 'tcp-format:%ft:%b' } });
      await reconfigure(sidecar, route('svc'));
      await reconfigure(sidecar, { serviceName: 'redis', port: String(tcp.port), srcPort: String(srcPort), reqMode: 'tcp', outboundHostname: '127.0.0.1' });
      await sidecar.through('/svc/formatted');
      await tcpRoundTrip(srcPort);
      expect(await logged(sidecar, 'http-format:200:/svc/formatted')).toHaveLength(1);
      expect(await logged(sidecar, `tcp-format:tcpFE_${srcPort}:redis-be${tcp.port}`)).toHaveLength(1);
    } finally {
      await tcp.close();
    }
  });
});

/** Connect, read the greeting of the TCP backend, close. */
async function tcpRoundTrip(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(5000, () => socket.destroy(new Error('no greeting')));
    socket.once('data', (data) => {
      socket.end();
      resolve(data.toString());
    });
    socket.once('error', reject);
  });
}

describe('DEFAULT_REQ_MODE', () => {
  it('stores routes that give no reqMode with it: a tcp service from port and srcPort alone', async () => {
    const tcp = await startTcpBackend('redis');
    const srcPort = await freePort();
    const sidecar = await startSidecar({ env: { DEFAULT_REQ_MODE: 'tcp' } });
    try {
      await reconfigure(sidecar, { serviceName: 'redis', port: String(tcp.port), srcPort: String(srcPort), outboundHostname: '127.0.0.1' });
      expect(await tcpRoundTrip(srcPort)).toBe('redis\n');
      const stored = JSON.parse((await sidecar.call(`${BASE}/config?type=json`)).body).routes[0];
      expect(stored.reqMode).toBe('tcp');
    } finally {
      await sidecar.stop();
      await tcp.close();
    }
  });
});

describe('a malformed value stops the start with exit code 2 naming the variable', () => {
  it.each([
    ['EXTRA_GLOBAL', 'no-such-directive 1'],
    ['EXTRA_DEFAULTS', 'option no-such-option'],
    ['EXTRA_FRONTEND', 'http-request bogus-action'],
    ['DEBUG_HTTP_FORMAT', '%[no_such_fetch]'],
    ['CONNECTION_MODE', 'http-tunnel'],
    ['SERVICE_DOMAIN_ALGO', 'req.nothing'],
    ['DEFAULT_REQ_MODE', 'udp'],
    ['CAPTURE_REQUEST_HEADER', 'Host'],
    ['BIND_PORTS', '80a'],
    ['DEBUG', 'yes please'],
  ])('%s=%s', (name, value) => {
    const stateDir = tempDir('bad-setting-');
    const result = spawnSync(process.execPath, [CLI, 'serve'], {
      env: { ...process.env, [name]: value, DEBUG: name === 'DEBUG' ? value : 'true', STATE_DIR: stateDir, LISTEN_ADDRESS: '127.0.0.1:1', DEFAULT_PORTS: '1' },
      encoding: 'utf8',
      timeout: 30000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`${name}: `);
  });

  it('ERRORFILES_DIR with a page HAProxy cannot read', () => {
    const dir = tempDir('errorfiles-');
    fs.writeFileSync(path.join(dir, '503.http'), 'not an HTTP response');
    const result = spawnSync(process.execPath, [CLI, 'serve'], {
      env: { ...process.env, ERRORFILES_DIR: dir, STATE_DIR: tempDir('bad-setting-'), LISTEN_ADDRESS: '127.0.0.1:1', DEFAULT_PORTS: '1' },
      encoding: 'utf8',
      timeout: 30000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('ERRORFILES_DIR: ');
  });
});

// zlib: the gzip answer above is real gzip, not just a header.
it('EXTRA_DEFAULTS compression gives a body that gunzips to what the service sent', async () => {
  await withProxy([route('svc')], { EXTRA_DEFAULTS: 'compression algo gzip,compression type application/json' }, async (proxy) => {
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: proxy.port });
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => resolve(Buffer.concat(chunks)));
      socket.on('error', reject);
      socket.write('GET /svc/zip HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n');
    });
    const body = raw.subarray(raw.indexOf('\r\n\r\n') + 4);
    const text = raw.toString('latin1');
    expect(text).toMatch(/content-encoding: gzip/i);
    const chunked = /transfer-encoding: chunked/i.test(text);
    const unzipped = zlib.gunzipSync(chunked ? dechunk(body) : body).toString();
    expect(JSON.parse(unzipped).path).toBe('/svc/zip');
  });
});

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    const size = parseInt(body.subarray(at, eol).toString(), 16);
    if (!size) return Buffer.concat(parts);
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
