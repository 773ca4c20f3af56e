import * as http from 'http';
import { Backend, startBackend } from './helpers/backends';
import { sleep } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';

/**
 * Clients that keep connections open (browsers, Node's and Go's HTTP clients, other proxies) send
 * the next request on an idle connection whenever they like. A reload must never close such a
 * connection under a request that is already on its way: every request of these clients succeeds
 * while routes are added one by one, each a reload.
 */

const BASE = '/v1/docker-flow-proxy';
const CLIENTS = 8;
const RELOADS = 60;

interface ClientResult {
  ok: number;
  failed: string[];
}

/** One keep-alive client: one connection at a time, requests one after another with short idle gaps. */
function keepAliveClient(url: string, isRunning: () => boolean): Promise<ClientResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const result: ClientResult = { ok: 0, failed: [] };
  const once = () =>
    new Promise<void>((resolve) => {
      const req = http.get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200 && res.headers['x-backend'] === 'stable') result.ok += 1;
          else result.failed.push(`status ${res.statusCode}`);
          resolve();
        });
        res.on('error', (error) => {
          result.failed.push(error.message);
          resolve();
        });
      });
      req.setTimeout(10000, () => req.destroy(new Error('timed out')));
      req.on('error', (error) => {
        result.failed.push(error.message);
        resolve();
      });
    });
  return (async () => {
    while (isRunning()) {
      await once();
      await sleep(Math.floor(Math.random() * 4));
    }
    agent.destroy();
    return result;
  })();
}

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
  const clients = Array.from({ length: CLIENTS }, () => keepAliveClient(`${sidecar.proxy}/stable/x`, () => running));
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
