import * as net from 'net';
import { Backend, helloWithSni, RecordingBackend, request, startRecordingBackend, startTcpBackend } from './helpers/backends';
import { RunningHaproxy, startHaproxy } from './helpers/haproxy';
import { freePorts, waitFor } from './helpers/ports';
import { basicAuth, loopbackSettings, renderChecked } from './helpers/render';

/**
 * tcp and sni routes and the stats frontend of its own, through a real HAProxy on loopback.
 * The tcp backends greet every connection with their name, so the first line a client reads
 * says who answered.
 */

/** Connect, read the greeting line, send `text`, read it echoed back. */
async function talk(port: number, text: string): Promise<{ greeting: string; echoed: string }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
  await waitFor('the greeting', async () => data.includes('\n'), 5000);
  const greeting = data.slice(0, data.indexOf('\n'));
  socket.write(text);
  await waitFor('the echo', async () => data.length >= greeting.length + 1 + text.length, 5000);
  socket.destroy();
  return { greeting, echoed: data.slice(greeting.length + 1) };
}

let haproxy: RunningHaproxy;
let tcpBackend: Backend;
let idleBackend: Backend;
let sniA: RecordingBackend;
let sniWild: RecordingBackend;
let sniOther: RecordingBackend;
let ports: { http: number; stats: number; tcp: number; idle: number; sni: number };

beforeAll(async () => {
  const [http, stats, tcp, idle, sni, a, wild, other] = await freePorts(8);
  ports = { http, stats, tcp, idle, sni };
  tcpBackend = await startTcpBackend('db');
  idleBackend = await startTcpBackend('idle');
  sniA = await startRecordingBackend(a);
  sniWild = await startRecordingBackend(wild);
  sniOther = await startRecordingBackend(other);
  const settings = loopbackSettings(http, { STATS_USER: 'admin', STATS_PASS: 'pw', STATS_PORT: String(stats) });
  const loopback = { outboundHostname: '127.0.0.1' };
  const routes = [
    { serviceName: 'db', reqMode: 'tcp', srcPort: String(tcp), port: String(tcpBackend.port), ...loopback },
    { serviceName: 'idle', reqMode: 'tcp', srcPort: String(idle), port: String(idleBackend.port), timeoutTunnel: '1', ...loopback },
    { serviceName: 'sni-a', reqMode: 'sni', srcPort: String(sni), port: String(a), serviceDomain: 'a.tls.test', ...loopback },
    { serviceName: 'sni-wild', reqMode: 'sni', srcPort: String(sni), port: String(wild), serviceDomain: '*.wild.tls.test', ...loopback },
    { serviceName: 'sni-other', reqMode: 'sni', srcPort: String(sni), port: String(other), ...loopback },
  ];
  haproxy = await startHaproxy(renderChecked(routes, settings));
});

afterAll(async () => {
  await haproxy?.stop();
  for (const backend of [tcpBackend, idleBackend, sniA, sniWild, sniOther]) await backend?.close();
});

describe('a tcp route', () => {
  it('passes raw bytes both ways between srcPort and the service', async () => {
    const answer = await talk(ports.tcp, 'raw \u0000\u00ff bytes\r\n');
    expect(answer.greeting).toBe('db');
    expect(answer.echoed).toBe('raw \u0000\u00ff bytes\r\n');
  });

  it('closes an idle connection after timeoutTunnel', async () => {
    const socket = net.connect({ host: '127.0.0.1', port: ports.idle });
    socket.resume(); // read the greeting, otherwise the close is never noticed
    const started = Date.now();
    await new Promise<void>((resolve) => socket.on('close', () => resolve()).on('error', () => undefined));
    expect(Date.now() - started).toBeLessThan(5000); // the client and server timeouts are 20 s
  });
});

describe('sni routes sharing one srcPort', () => {
  it('picks the service by the TLS server name', async () => {
    helloWithSni(ports.sni, 'a.tls.test');
    await waitFor('sni-a to receive the ClientHello', async () => sniA.received.length === 1, 5000);
    expect(sniA.received[0][0]).toBe(0x16); // a TLS handshake record, passed through untouched
  });

  it('matches a wildcard server name by suffix', async () => {
    helloWithSni(ports.sni, 'x.wild.tls.test');
    await waitFor('sni-wild to receive the ClientHello', async () => sniWild.received.length === 1, 5000);
  });

  it('sends an unknown server name to the sni service without a domain', async () => {
    helloWithSni(ports.sni, 'unknown.test');
    await waitFor('sni-other to receive the ClientHello', async () => sniOther.received.length === 1, 5000);
    expect(sniA.received).toHaveLength(1);
    expect(sniWild.received).toHaveLength(1);
  });
});

describe('the stats frontend on STATS_PORT', () => {
  it('serves the stats page behind basic auth', async () => {
    expect((await request(`http://127.0.0.1:${ports.stats}/admin?stats`)).status).toBe(401);
    const page = await request(`http://127.0.0.1:${ports.stats}/admin?stats`, { headers: { Authorization: basicAuth('admin', 'pw') } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('Statistics Report');
  });

  it("serves HAProxy's Prometheus metrics at /metrics", async () => {
    const metrics = await request(`http://127.0.0.1:${ports.stats}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('haproxy_process_');
    expect(metrics.body).toContain('proxy="db-be');
  });

  it('leaves the HTTP frontend without stats: it answers 503 with no http routes', async () => {
    expect((await request(`http://127.0.0.1:${ports.http}/admin?stats`, { headers: { Authorization: basicAuth('admin', 'pw') } })).status).toBe(503);
  });
});
