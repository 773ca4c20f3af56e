import * as http from 'http';
import type { AddressInfo } from 'net';
import { request } from './helpers/backends';
import { masterPids } from './helpers/haproxy-procs';
import { sleep, waitFor } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';

/**
 * SIGTERM stops the sidecar gracefully however long it ran and whatever happened to its HAProxy
 * meanwhile: a request in flight through HAProxy still gets its answer, and the sidecar says it
 * stopped. Here HAProxy's master was killed and restarted by the sidecar before the SIGTERM.
 */

const BASE = '/v1/docker-flow-proxy';
const SLOW_MS = 1500;

let slow: http.Server;
let slowPort: number;
let sidecar: RunningSidecar | undefined;

beforeAll(async () => {
  // Answers every request after SLOW_MS: a request that is in flight when the SIGTERM comes.
  slow = http.createServer((_req, res) => {
    setTimeout(() => res.writeHead(200, { 'X-Backend': 'slow', 'Content-Length': 2 }).end('ok'), SLOW_MS);
  });
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  slowPort = (slow.address() as AddressInfo).port;
});

afterAll(async () => {
  await sidecar?.stop();
  slow?.closeAllConnections();
  await new Promise((resolve) => slow?.close(resolve));
});

it('stops gracefully after its HAProxy master was restarted: the request in flight is answered and the stop is logged', async () => {
  sidecar = await startSidecar();
  const running = sidecar;
  expect((await running.call(`${BASE}/reconfigure?serviceName=slow&servicePath=/slow&port=${slowPort}&outboundHostname=127.0.0.1`)).status).toBe(200);
  const [first] = masterPids(running.stateDir);
  process.kill(first, 'SIGKILL');
  await waitFor('the sidecar to restart HAProxy', async () => running.logs().includes('haproxy restarted'), 20000, 50);
  await waitFor('the restarted HAProxy to serve the route', async () => (await running.through('/slow/x')).backend === 'slow', 20000, 100);

  const inFlight = request(`${running.proxy}/slow/in-flight`, { timeoutMs: 10000 }).catch((error: Error) => error);
  await sleep(300);
  await running.stop();
  const answer = await inFlight;

  expect(answer).toMatchObject({ status: 200, backend: 'slow' });
  const messages = running
    .logs()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
  expect(messages).toContain('stopping');
  expect(messages).toContain('stopped');
  expect(masterPids(running.stateDir)).toEqual([]);
}, 60000);
