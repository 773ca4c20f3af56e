import * as net from 'net';
import { MasterCli } from '../src/haproxy/master-cli';
import { RunningHaproxy, startHaproxy } from './helpers/haproxy';
import { freePort, waitFor } from './helpers/ports';
import { loopbackSettings, renderChecked } from './helpers/render';

/** A request in flight to a backend that does not answer: the old worker must keep it after a reload. */
async function holdRequest(port: number, slow: SlowBackend): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const arrived = slow.requests + 1;
  socket.on('error', () => undefined);
  socket.once('connect', () => socket.write('GET /demo HTTP/1.1\r\nHost: x\r\n\r\n'));
  await waitFor('the request to reach the slow backend', async () => slow.requests >= arrived, 5000);
  return socket;
}

interface SlowBackend {
  readonly port: number;
  readonly requests: number;
  close(): Promise<void>;
}

/** An HTTP backend that takes every request and never answers. */
async function startSlowBackend(): Promise<SlowBackend> {
  const port = await freePort();
  const held = new Set<net.Socket>();
  let requests = 0;
  const server = net.createServer((socket) => {
    held.add(socket);
    socket.on('data', () => requests++);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of held) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function workers(haproxy: RunningHaproxy): Promise<number> {
  return (await new MasterCli(haproxy.masterSocket).showProc()).workers.length;
}

describe('HARD_STOP_AFTER', () => {
  let backend: SlowBackend;
  const running: RunningHaproxy[] = [];
  const sockets: net.Socket[] = [];

  beforeAll(async () => {
    backend = await startSlowBackend();
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(running.map((h) => h.stop()));
    await backend?.close();
  });

  async function reloadWhileHolding(hardStopAfter: string): Promise<RunningHaproxy> {
    const port = await freePort();
    const settings = loopbackSettings(port, { HARD_STOP_AFTER: hardStopAfter, TIMEOUT_SERVER: '60', TIMEOUT_CLIENT: '60' });
    const config = renderChecked([{ serviceName: 'demo', servicePath: '/demo', port: String(backend.port), outboundHostname: '127.0.0.1' }], settings);
    const haproxy = await startHaproxy(config);
    running.push(haproxy);
    sockets.push(await holdRequest(port, backend));
    await haproxy.reload(config);
    return haproxy;
  }

  it('stops an old worker that still holds a connection that long after a reload', async () => {
    const haproxy = await reloadWhileHolding('1');
    await waitFor('the old worker to be stopped', async () => (await workers(haproxy)) === 1, 4000, 100);
  });

  it('lets old workers drain on their own when it is 0', async () => {
    const haproxy = await reloadWhileHolding('0');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await workers(haproxy)).toBe(2);
  });
});
