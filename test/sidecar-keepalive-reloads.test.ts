import { Backend, startBackend } from './helpers/backends';
import * as http from 'http';
import { keepAliveClient } from './helpers/keepalive';
import { RunningSidecar, startSidecar } from './helpers/sidecar';

/**
 * Clients that keep connections open (browsers, Node's and Go's HTTP clients, other proxies) send
 * the next request on an idle connection whenever they like. A reload must never close such a
 * connection under a request that is already on its way: every request of these clients succeeds
 * while routes are added one by one, each a reload. A change that moves map entries only goes
 * through the Runtime API: no connection is closed at all, and a connection opened before the
 * change serves it on its next request.
 */

const BASE = '/v1/docker-flow-proxy';
const CLIENTS = 8;
const RELOADS = 60;
const RUNTIME_CHANGES = 40;

let stable: Backend;
let churn: Backend;
let sidecar: RunningSidecar;

beforeAll(async () => {
  stable = await startBackend('stable');
  churn = await startBackend('churn');
  sidecar = await startSidecar();
}, 60000);

afterAll(async () => {
  await sidecar?.stop();
  await stable?.close();
  await churn?.close();
});

it(`fails no request of ${CLIENTS} keep-alive clients while ${RELOADS} routes are added one by one`, async () => {
  const first = await sidecar.call(`${BASE}/reconfigure?serviceName=stable&servicePath=/stable&port=${stable.port}&outboundHostname=127.0.0.1`);
  expect(first.status).toBe(200);
  let running = true;
  const clients = Array.from({ length: CLIENTS }, () => keepAliveClient(`${sidecar.proxy}/stable/x`, 'stable', () => running));
  for (let i = 0; i < RELOADS; i += 1) {
    const answer = await sidecar.call(`${BASE}/reconfigure?serviceName=churn-${i}&servicePath=/churn-${i}&port=${churn.port}&outboundHostname=127.0.0.1`, {
      timeoutMs: 30000,
    });
    expect(answer.status).toBe(200);
  }
  running = false;
  const results = await Promise.all(clients);
  const ok = results.reduce((sum, r) => sum + r.ok, 0);
  const failed = results.flatMap((r) => r.failed);
  console.log(`keep-alive clients across ${RELOADS} reloads: ${ok} ok, ${failed.length} failed`);
  expect((await sidecar.through(`/churn-${RELOADS - 1}/x`)).backend).toBe('churn');
  // Stopped here, not only in afterAll: the shared clean-up may remove the state dir first.
  await sidecar.stop();
  expect(ok).toBeGreaterThan(RELOADS);
  expect(failed).toEqual([]);
}, 240000);

/** A GET on `agent`'s one connection: the backend that answered and whether the connection was reused. */
function getOn(agent: http.Agent, url: string): Promise<{ status: number; backend: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, backend: String(res.headers['x-backend'] ?? ''), reused: req.reusedSocket }));
      res.on('error', reject);
    });
    req.setTimeout(10000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

it(`keeps every keep-alive connection open and serving across ${RUNTIME_CHANGES} path changes through the Runtime API`, async () => {
  const own = await startSidecar();
  const moverAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const reloads = async () => Number(/haproxy_sidecar_reloads_total\{outcome="success"\} (\d+)/.exec((await own.call('/metrics')).body)?.[1] ?? NaN);
    const route = (name: string, servicePath: string, backend: Backend) =>
      own.call(`${BASE}/reconfigure?serviceName=${name}&servicePath=${servicePath}&port=${backend.port}&outboundHostname=127.0.0.1`, { timeoutMs: 30000 });
    expect((await route('stable', '/stable', stable)).status).toBe(200);
    expect((await route('mover', '/mover-0', churn)).status).toBe(200);
    // The mover's connection is open before the changes: each change must reach it on its next request.
    expect(await getOn(moverAgent, `${own.proxy}/mover-0/x`)).toMatchObject({ status: 200, backend: 'churn' });
    const reloadsBefore = await reloads();
    let running = true;
    const clients = Array.from({ length: CLIENTS }, () => keepAliveClient(`${own.proxy}/stable/x`, 'stable', () => running));
    const moverAnswers: { status: number; backend: string; reused: boolean }[] = [];
    try {
      for (let i = 1; i <= RUNTIME_CHANGES; i += 1) {
        expect((await route('mover', `/mover-${i}`, churn)).status).toBe(200);
        moverAnswers.push(await getOn(moverAgent, `${own.proxy}/mover-${i}/x`));
      }
    } finally {
      running = false;
    }
    const results = await Promise.all(clients);
    const failed = results.flatMap((r) => r.failed);
    expect(failed).toEqual([]);
    expect(results.reduce((sum, r) => sum + r.ok, 0)).toBeGreaterThan(RUNTIME_CHANGES);
    // One connection per client from start to end: nothing closed them.
    expect(results.map((r) => r.connections)).toEqual(Array(CLIENTS).fill(1));
    expect(moverAnswers).toEqual(Array(RUNTIME_CHANGES).fill({ status: 200, backend: 'churn', reused: true }));
    expect(await reloads()).toBe(reloadsBefore);
  } finally {
    moverAgent.destroy();
    await own.stop();
  }
}, 240000);
