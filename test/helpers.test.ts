import * as net from 'net';
import { Backend, request, startBackend, startTcpBackend } from './helpers/backends';
import { resolverFor, startDnsmasq, RunningDnsmasq } from './helpers/dnsmasq';
import { RunningHaproxy, startHaproxy } from './helpers/haproxy';
import { freePorts } from './helpers/ports';

function haproxyConfig(httpPort: number, tcpPort: number, http: Backend, tcp: Backend): string {
  return `global
  log stderr format raw local0 notice

defaults
  timeout connect 5s
  timeout client 20s
  timeout server 20s

frontend web
  mode http
  bind 127.0.0.1:${httpPort}
  default_backend app

backend app
  mode http
  server ${http.name} ${http.host}:${http.port}

listen echo
  mode tcp
  bind 127.0.0.1:${tcpPort}
  server ${tcp.name} ${tcp.host}:${tcp.port}
`;
}

/** Connect, send `text`, and collect what comes back until `expected` bytes arrived. */
async function talkTcp(port: number, text: string, expectedLength: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = '';
    socket.setTimeout(5000, () => socket.destroy(new Error(`no full answer on port ${port}: ${JSON.stringify(received)}`)));
    socket.on('connect', () => socket.write(text));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      if (received.length < expectedLength) return;
      socket.end();
      resolve(received);
    });
    socket.on('error', reject);
  });
}

describe('test helpers', () => {
  describe('HAProxy with test backends', () => {
    const cleanups: Array<() => Promise<void>> = [];
    let haproxy: RunningHaproxy;
    let httpPort: number;
    let tcpPort: number;
    let blue: Backend;
    let tcp: Backend;

    beforeAll(async () => {
      [httpPort, tcpPort] = await freePorts(2);
      blue = await startBackend('blue');
      tcp = await startTcpBackend('echo');
      cleanups.push(
        () => blue.close(),
        () => tcp.close(),
      );
      haproxy = await startHaproxy(haproxyConfig(httpPort, tcpPort, blue, tcp));
      cleanups.push(() => haproxy.stop());
    });

    afterAll(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    it('serves an HTTP request from the test backend, which names itself', async () => {
      const answer = await request(`http://127.0.0.1:${httpPort}/demo/hello`);
      expect(answer.status).toBe(200);
      expect(answer.backend).toBe('blue');
      expect(JSON.parse(answer.body)).toMatchObject({ backend: 'blue', path: '/demo/hello' });
      expect(blue.requests.map((seen) => seen.url)).toContain('/demo/hello');
    });

    it('passes TCP through to a backend that greets and echoes', async () => {
      expect(await talkTcp(tcpPort, 'ping\n', 'echo\nping\n'.length)).toBe('echo\nping\n');
    });

    it('reloads hitlessly onto a new config', async () => {
      const green = await startBackend('green');
      cleanups.push(() => green.close());
      await haproxy.reload(haproxyConfig(httpPort, tcpPort, green, tcp));
      const answer = await request(`http://127.0.0.1:${httpPort}/`);
      expect(answer.backend).toBe('green');
    });
  });

  describe('when a component cannot start', () => {
    it("startHaproxy rejects a config HAProxy refuses, with HAProxy's reason", async () => {
      await expect(startHaproxy('frontend broken\n  bind 127.0.0.1:notaport\n')).rejects.toThrow(/haproxy -c rejected/);
    });

    it('startDnsmasq rejects records that are not IP addresses', async () => {
      await expect(startDnsmasq({ 'tasks.proxy': ['not-an-ip'] })).rejects.toThrow(/not IP addresses/);
    });
  });

  describe('a TCP backend', () => {
    it('greets with its name and echoes what it gets', async () => {
      const backend = await startTcpBackend('raw');
      try {
        expect(await talkTcp(backend.port, 'abc', 'raw\nabc'.length)).toBe('raw\nabc');
      } finally {
        await backend.close();
      }
    });
  });

  describe('dnsmasq', () => {
    let dnsmasq: RunningDnsmasq;

    beforeAll(async () => {
      dnsmasq = await startDnsmasq({ 'tasks.proxy': ['127.0.0.2', '127.0.0.3', '127.0.0.4'] });
    });

    afterAll(async () => {
      await dnsmasq.stop();
    });

    it('answers tasks.proxy with three A records', async () => {
      const resolver = resolverFor(dnsmasq.address);
      expect((await resolver.resolve4('tasks.proxy')).sort()).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
      expect(dnsmasq.address).toBe(`127.0.0.1:${dnsmasq.port}`);
    });

    it('answers NXDOMAIN for a name it does not hold', async () => {
      await expect(resolverFor(dnsmasq.address).resolve4('tasks.nothing')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    });

    it('changes records while running: a peer leaves, then the name goes away', async () => {
      const resolver = resolverFor(dnsmasq.address);
      await dnsmasq.setRecords('tasks.proxy', ['127.0.0.2', '127.0.0.4']);
      expect((await resolver.resolve4('tasks.proxy')).sort()).toEqual(['127.0.0.2', '127.0.0.4']);
      await dnsmasq.setRecords('tasks.proxy', []);
      await expect(resolver.resolve4('tasks.proxy')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    });

    it('stops cleanly and a second instance gets its own port', async () => {
      const other = await startDnsmasq({ 'tasks.other': ['127.0.0.9'] });
      try {
        expect(other.port).not.toBe(dnsmasq.port);
        expect(await resolverFor(other.address).resolve4('tasks.other')).toEqual(['127.0.0.9']);
      } finally {
        await other.stop();
      }
      await expect(resolverFor(other.address).resolve4('tasks.other')).rejects.toMatchObject({ code: expect.stringMatching(/ECONNREFUSED|ETIMEOUT/) });
    });
  });
});
