import * as dgram from 'dgram';
import * as net from 'net';
import { Backend, startBackend } from './helpers/backends';
import { ConsulAgent, startConsulAgent } from './helpers/consul';
import { RunningDnsmasq, startDnsmasq } from './helpers/dnsmasq';
import { freePort } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';
import { removeTempDirs } from './helpers/tmp';

const BASE = '/v1/docker-flow-proxy';
const LIVE = '127.0.0.2';
const SILENT = '127.0.0.3';
const DEADLINE_MS = 3000;
/** Room for a loaded machine; far less than the extra request timeout (5 s) a wait could add. */
const MARGIN_MS = 2000;

/** A peer that accepts TCP connections on the API port and never answers. */
async function silentPeer(port: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, SILENT, resolve);
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Timed {
  readonly status: number;
  readonly body: { message: string; replicas?: { address: string; status: string; message: string }[] };
  readonly elapsedMs: number;
}

async function timedCall(sidecar: RunningSidecar, pathAndQuery: string): Promise<Timed> {
  const started = Date.now();
  const answer = await sidecar.call(pathAndQuery, { timeoutMs: 60000 });
  return { status: answer.status, body: JSON.parse(answer.body), elapsedMs: Date.now() - started };
}

function expectWithinDeadline(answer: Timed): void {
  const lagging = (answer.body.replicas ?? []).filter((r) => r.status !== 'OK').map((r) => `${r.address}: ${r.message}`);
  if (answer.elapsedMs >= DEADLINE_MS + MARGIN_MS) {
    const lagged = lagging.join('; ') || 'none named';
    throw new Error(
      `answered after ${answer.elapsedMs} ms, deadline ${DEADLINE_MS} ms (+${MARGIN_MS} ms margin); lagging: ${lagged}; message: ${answer.body.message}`,
    );
  }
}

describe.each([
  ['with Consul', true],
  ['without Consul', false],
])('distribute=true keeps DISTRIBUTE_TIMEOUT_MS %s', (_label, withConsul) => {
  let backend: Backend;
  let dns: RunningDnsmasq;
  let consul: ConsulAgent | undefined;
  let peer: { close(): Promise<void> };
  let sidecar: RunningSidecar;
  let silentDns: dgram.Socket;

  beforeAll(async () => {
    backend = await startBackend('demo');
    dns = await startDnsmasq({ 'tasks.proxy': [LIVE, SILENT] });
    if (withConsul) consul = await startConsulAgent();
    const apiPort = await freePort(LIVE);
    peer = await silentPeer(apiPort);
    silentDns = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silentDns.bind(0, '127.0.0.1', resolve));
    const env: Record<string, string> = {
      DNS_SERVER: dns.address,
      SERVICE_NAME: 'proxy',
      DISTRIBUTE_TIMEOUT_MS: String(DEADLINE_MS),
      REQUEST_TIMEOUT_MS: '5000',
    };
    if (consul) env.CONSUL_ADDRESS = consul.address;
    sidecar = await startSidecar({ host: LIVE, apiPort, env });
  }, 60000);

  afterAll(async () => {
    await sidecar?.stop();
    await peer?.close();
    silentDns?.close();
    await consul?.stop();
    await dns?.stop();
    await backend?.close();
    removeTempDirs();
  });

  it('answers a reconfigure by the deadline, naming the replica that never answered', async () => {
    const answer = await timedCall(
      sidecar,
      `${BASE}/reconfigure?serviceName=demo&servicePath=/demo&port=${backend.port}&outboundHostname=127.0.0.1&distribute=true`,
    );
    expectWithinDeadline(answer);
    expect(answer.status).toBe(500);
    expect(answer.body.message).toContain(SILENT);
    expect(answer.body.replicas?.find((r) => r.address === LIVE)?.status).toBe('OK');
    expect((await sidecar.through('/demo/x')).backend).toBe('demo');
  }, 30000);

  it('answers a remove by the deadline, naming the replica that never answered', async () => {
    const answer = await timedCall(sidecar, `${BASE}/remove?serviceName=demo&distribute=true`);
    expectWithinDeadline(answer);
    expect(answer.status).toBe(500);
    expect(answer.body.message).toContain(SILENT);
    expect((await sidecar.through('/demo/x')).status).toBe(503);
  }, 30000);

  it('answers by the deadline when the DNS server never answers the replica lookup', async () => {
    const address = silentDns.address();
    // The sidecar reads DNS_SERVER at start: a second sidecar whose resolver is the silent one.
    const deaf = await startSidecar({
      env: {
        DNS_SERVER: `127.0.0.1:${address.port}`,
        SERVICE_NAME: 'proxy',
        DISTRIBUTE_TIMEOUT_MS: String(DEADLINE_MS),
        REQUEST_TIMEOUT_MS: '5000',
        ...(consul ? { CONSUL_ADDRESS: consul.address } : {}),
      },
    });
    try {
      const answer = await timedCall(
        deaf,
        `${BASE}/reconfigure?serviceName=deaf&servicePath=/deaf&port=${backend.port}&outboundHostname=127.0.0.1&distribute=true`,
      );
      expectWithinDeadline(answer);
      expect(answer.status).toBe(500);
      expect(answer.body.message).toContain('SERVICE_NAME');
    } finally {
      await deaf.stop();
    }
  }, 60000);
});
