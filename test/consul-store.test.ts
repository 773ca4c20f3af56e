import * as http from 'http';
import * as net from 'net';
import { StoreUnavailable } from '../src/errors';
import { ConsulStore, ConsulStoreOptions } from '../src/store/consul-store';
import { DedupedStore } from '../src/store/dedup';
import type { RouteStore, StoreSnapshot } from '../src/store/route-store';
import { ConsulCluster, startConsulCluster } from './helpers/consul';
import { freePort, waitFor } from './helpers/ports';

/** One cluster for the whole file: starting Consul is the slow part. Each test has its own prefix. */
let cluster: ConsulCluster;
let prefixes = 0;
const stores: RouteStore[] = [];
const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  cluster = await startConsulCluster(3);
}, 90000);

afterAll(async () => {
  await cluster?.stop();
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  for (let i = 0; i < 3; i++) if (!cluster.isRunning(i)) await cluster.restart(i);
});

function newPrefix(): string {
  return `test-${process.pid}-${++prefixes}`;
}

/** As createStore gives it: behind the de-duplicating wrapper. */
function openStore(addresses: readonly string[], prefix: string, extra: Partial<ConsulStoreOptions> = {}): RouteStore {
  const store = new DedupedStore(new ConsulStore({ addresses, prefix, requestTimeoutMs: 5000, backoffMinMs: 50, backoffMaxMs: 500, ...extra }));
  stores.push(store);
  return store;
}

/** The addresses starting with the leader's, so "the server the store talks to" is the leader. */
async function leaderFirst(): Promise<{ order: number[]; addresses: string[] }> {
  const leader = await cluster.leader();
  const order = [0, 1, 2].map((k) => (leader + k) % 3);
  return { order, addresses: order.map((i) => cluster.addresses[i]) };
}

async function kvPutRaw(address: string, key: string, value: string): Promise<void> {
  const response = await fetch(`${address}/v1/kv/${key}`, { method: 'PUT', body: value, signal: AbortSignal.timeout(10000) });
  expect(response.status).toBe(200);
}

async function kvGetRaw(address: string, key: string): Promise<string> {
  const response = await fetch(`${address}/v1/kv/${key}?raw`, { signal: AbortSignal.timeout(10000) });
  expect(response.status).toBe(200);
  return response.text();
}

function names(snapshot: StoreSnapshot | undefined): string[] {
  return (snapshot?.entries ?? []).map((entry) => entry.serviceName);
}

function portOf(snapshot: StoreSnapshot, serviceName: string): string | undefined {
  return snapshot.entries.find((entry) => entry.serviceName === serviceName)?.params?.port;
}

/** Records every snapshot a watch emits. */
function recordWatch(store: RouteStore): { seen: StoreSnapshot[]; errors: Error[]; indexes: number[]; stop: () => void } {
  const seen: StoreSnapshot[] = [];
  const errors: Error[] = [];
  const indexes: number[] = [];
  const watch = store.watch(
    (snapshot) => seen.push(snapshot),
    (error) => errors.push(error),
    (index) => indexes.push(index),
  );
  return { seen, errors, indexes, stop: () => watch.stop() };
}

/** A loopback HTTP server in front of nothing: answers every request with `status`. */
async function answeringServer(status: number, body: string): Promise<string> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(status, { 'Content-Type': 'text/plain' }).end(body);
  });
  return listen(server);
}

/** A loopback TCP server that accepts connections and never answers. */
async function silentServer(): Promise<string> {
  return listen(net.createServer(() => undefined));
}

/** A loopback HTTP proxy to `target` that records each request's X-Consul-Token. */
async function tokenRecordingProxy(target: string, tokens: Array<string | undefined>): Promise<string> {
  const server = http.createServer((req, res) => {
    tokens.push(req.headers['x-consul-token'] as string | undefined);
    const upstream = http.request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  return listen(server);
}

async function listen(server: net.Server): Promise<string> {
  const port = await freePort();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  servers.push(server);
  return `http://127.0.0.1:${port}`;
}

describe('ConsulStore on a three-server cluster', () => {
  it('reads back through one address a route written through another, as one JSON key per route', async () => {
    const prefix = newPrefix();
    const writer = openStore([cluster.addresses[0]], prefix);
    const reader = openStore([cluster.addresses[1]], prefix);
    const params = { serviceName: 'go-demo', servicePath: '/demo', port: '8080' };
    const index = await writer.put(params);
    const snapshot = await reader.list();
    expect(snapshot.entries).toEqual([{ serviceName: 'go-demo', params }]);
    expect(snapshot.index).toBeGreaterThanOrEqual(index);
    expect(JSON.parse(await kvGetRaw(cluster.addresses[2], `${prefix}/services/go-demo`))).toEqual(params);
  });

  it('resolves put and remove with the Raft index of the write; remove is idempotent', async () => {
    const prefix = newPrefix();
    const store = openStore(cluster.addresses, prefix);
    const put = await store.put({ serviceName: 'a', servicePath: '/a', port: '80' });
    const removed = await store.remove('a');
    expect(removed).toBeGreaterThan(put);
    const again = await store.remove('a');
    expect(again).toBeGreaterThan(removed);
    const snapshot = await store.list();
    expect(snapshot.entries).toEqual([]);
    expect(snapshot.index).toBeGreaterThanOrEqual(removed);
    const missing = await fetch(`${cluster.addresses[0]}/v1/kv/${prefix}/services/a`);
    expect(missing.status).toBe(404);
  });

  it('brings a hand edit made with PUT /v1/kv to the watcher within one second', async () => {
    const prefix = newPrefix();
    const store = openStore(cluster.addresses, prefix);
    await store.put({ serviceName: 'api', servicePath: '/api', port: '80' });
    const watch = recordWatch(store);
    await waitFor('the first snapshot', async () => watch.seen.length === 1);
    const edited = Date.now();
    await kvPutRaw(cluster.addresses[2], `${prefix}/services/api`, JSON.stringify({ serviceName: 'api', servicePath: '/api', port: '9090' }));
    await waitFor('the hand edit', async () => watch.seen.length === 2, 1000, 5);
    expect(Date.now() - edited).toBeLessThan(1000);
    expect(portOf(watch.seen[1], 'api')).toBe('9090');
    expect(watch.seen[1].index).toBeGreaterThan(watch.seen[0].index);
  });

  it('reports an invalid hand-edited value and keeps the other routes', async () => {
    const prefix = newPrefix();
    const store = openStore(cluster.addresses, prefix);
    await store.put({ serviceName: 'good', servicePath: '/good', port: '80' });
    const watch = recordWatch(store);
    await kvPutRaw(cluster.addresses[0], `${prefix}/services/broken`, '{"serviceName": "broken", "port": 80');
    await kvPutRaw(cluster.addresses[0], `${prefix}/services/numbers`, '{"serviceName": "numbers", "port": 80}');
    await kvPutRaw(cluster.addresses[0], `${prefix}/services/`, '');
    await waitFor('both invalid values', async () => watch.seen.at(-1)?.entries.length === 3);
    const [broken, good, numbers] = (watch.seen.at(-1) as StoreSnapshot).entries;
    expect(broken).toMatchObject({ serviceName: 'broken', params: null, error: expect.stringMatching(/not JSON/) });
    expect(good).toEqual({ serviceName: 'good', params: { serviceName: 'good', servicePath: '/good', port: '80' } });
    expect(numbers).toEqual({ serviceName: 'numbers', params: null, error: 'parameter "port" is not a string' });
    await store.put({ serviceName: 'after', servicePath: '/after', port: '80' });
    await waitFor('a write after the invalid values', async () => names(watch.seen.at(-1)).includes('after'));
  });

  it('reads keys whose names Consul escapes in JSON, and sees each later edit and delete among unchanged keys', async () => {
    const prefix = newPrefix();
    const store = openStore(cluster.addresses, prefix);
    const hand = ['a<b>&c', 'd"e', 'f\\g', 'é-ü'];
    const put = (name: string, port: string) =>
      kvPutRaw(cluster.addresses[0], `${prefix}/services/${encodeURIComponent(name)}`, JSON.stringify({ serviceName: name, port }));
    for (const name of hand) await put(name, '80');
    await store.put({ serviceName: 'plain', servicePath: '/plain', port: '80' });
    const watch = recordWatch(store);
    await waitFor('the first snapshot', async () => watch.seen.length === 1);
    expect(names(watch.seen[0])).toEqual([...hand, 'plain'].sort());
    expect(hand.map((name) => portOf(watch.seen[0], name))).toEqual(['80', '80', '80', '80']);
    await put('d"e', '81');
    await waitFor('the edit of an escaped key', async () => portOf(watch.seen.at(-1) as StoreSnapshot, 'd"e') === '81');
    const response = await fetch(`${cluster.addresses[0]}/v1/kv/${prefix}/services/${encodeURIComponent('a<b>&c')}`, { method: 'DELETE' });
    expect(response.status).toBe(200);
    await waitFor('the delete', async () => !names(watch.seen.at(-1)).includes('a<b>&c'));
    const last = watch.seen.at(-1) as StoreSnapshot;
    expect(names(last)).toEqual(['d"e', 'f\\g', 'plain', 'é-ü']);
    expect(['d"e', 'f\\g', 'plain', 'é-ü'].map((name) => portOf(last, name))).toEqual(['81', '80', '80', '80']);
    // The entries nobody changed are the very objects of the first snapshot (not decoded again).
    expect(last.entries.find((entry) => entry.serviceName === 'plain')).toBe(watch.seen[0].entries.find((entry) => entry.serviceName === 'plain'));
    expect(watch.errors).toEqual([]);
  });

  it('emits only real changes, but reports every index (a put of the same value moves the index only)', async () => {
    const prefix = newPrefix();
    const store = openStore(cluster.addresses, prefix);
    const params = { serviceName: 'same', servicePath: '/same', port: '80' };
    await store.put(params);
    const watch = recordWatch(store);
    await waitFor('the first snapshot', async () => watch.seen.length === 1);
    const index = await store.put(params);
    await waitFor('the index of the unchanged put', async () => watch.indexes.some((i) => i >= index));
    expect(watch.seen).toHaveLength(1);
  });

  it("fails a write that Consul answers with a non-2xx, with Consul's reason", async () => {
    const store = openStore(cluster.addresses, newPrefix());
    const tooBig = { serviceName: 'huge', port: '80', addReqHeader: 'x'.repeat(600 * 1024) };
    await expect(store.put(tooBig)).rejects.toThrow(StoreUnavailable);
    await expect(store.put(tooBig)).rejects.toThrow(/refused to store route "huge": HTTP 413/);
  });

  it('fails over on a 5xx and on a timeout, stays on the address that works, and reports each address', async () => {
    const failing = await answeringServer(500, 'No cluster leader');
    const silent = await silentServer();
    const store = openStore([failing, silent, cluster.addresses[0]], newPrefix(), { requestTimeoutMs: 300 });
    await store.put({ serviceName: 'a', servicePath: '/a', port: '80' });
    const started = Date.now();
    await store.put({ serviceName: 'b', servicePath: '/b', port: '80' });
    expect(Date.now() - started).toBeLessThan(300);
    const health = store.health();
    expect(health.reachable).toBe(true);
    expect(health.addresses.map((a) => a.reachable)).toEqual([false, false, true]);
    expect(health.addresses[0].lastError).toMatch(/HTTP 500 No cluster leader/);
    expect(health.addresses[1].lastError).toMatch(/timed out after 300 ms/);
    expect(names(await store.list())).toEqual(['a', 'b']);
  });

  it('sends CONSUL_TOKEN on every request, the watch included', async () => {
    const tokens: Array<string | undefined> = [];
    const proxy = await tokenRecordingProxy(cluster.addresses[0], tokens);
    const store = openStore([proxy], newPrefix(), { token: 'secret-token' });
    const watch = recordWatch(store);
    await waitFor('the first snapshot', async () => watch.seen.length === 1);
    await store.put({ serviceName: 'a', servicePath: '/a', port: '80' });
    await waitFor('the watch to see the put', async () => watch.seen.length === 2);
    await store.remove('a');
    await store.list();
    await waitFor('the watch to see the remove', async () => watch.seen.length === 3);
    expect(tokens.length).toBeGreaterThanOrEqual(4);
    expect(new Set(tokens)).toEqual(new Set(['secret-token']));
  });

  it('continues writes and the watch through the next address when the server it talks to dies', async () => {
    const prefix = newPrefix();
    const { order, addresses } = await leaderFirst();
    const store = openStore(addresses, prefix);
    const watch = recordWatch(store);
    await waitFor('the first snapshot', async () => watch.seen.length === 1);
    const written: string[] = [];
    for (let i = 0; i < 10; i++) {
      if (i === 5) await cluster.kill(order[0]);
      await store.put({ serviceName: `route-${i}`, servicePath: `/r${i}`, port: '80' });
      written.push(`route-${i}`);
    }
    await waitFor('every route at the watcher', async () => names(watch.seen.at(-1)).length === 10, 10000);
    expect(names(watch.seen.at(-1))).toEqual([...written].sort());
    expect(store.health().addresses[0].reachable).toBe(false);
    expect(store.health().watchRestarts).toBeGreaterThan(0);
    // No duplicated change: each emission differs from the one before; no lost change: none shrinks.
    for (let i = 1; i < watch.seen.length; i++) {
      expect(names(watch.seen[i])).not.toEqual(names(watch.seen[i - 1]));
      expect(names(watch.seen[i])).toEqual(expect.arrayContaining(names(watch.seen[i - 1])));
    }
  });

  it('fails writes with a clear StoreUnavailable while two of three servers are down, and converges once they are back', async () => {
    const prefix = newPrefix();
    const { order, addresses } = await leaderFirst();
    const store = openStore(addresses, prefix, { requestTimeoutMs: 1500 });
    await store.put({ serviceName: 'before', servicePath: '/before', port: '80' });
    const watch = recordWatch(store);
    await waitFor('the first snapshot', async () => watch.seen.length === 1);

    await cluster.kill(order[0]);
    await cluster.kill(order[1]);
    const failure = store.put({ serviceName: 'during', servicePath: '/during', port: '80' });
    await expect(failure).rejects.toThrow(StoreUnavailable);
    await expect(failure).rejects.toThrow(/Consul is unavailable: no address answered PUT \/v1\/txn/);
    await expect(store.list()).rejects.toThrow(StoreUnavailable);
    expect(store.health().reachable).toBe(false);
    await waitFor('the watch to report the outage', async () => watch.errors.length > 0, 15000);

    await Promise.all([cluster.restart(order[0], 60000), cluster.restart(order[1], 60000)]);
    await cluster.leader(60000);
    await kvPutRaw(cluster.addresses[order[2]], `${prefix}/services/by-hand`, JSON.stringify({ serviceName: 'by-hand', servicePath: '/h', port: '80' }));
    await store.put({ serviceName: 'after', servicePath: '/after', port: '80' });
    // Two servers that just restarted and a watch in back-off (5 s at most): slow on a loaded machine.
    await waitFor('the watch to converge', async () => names(watch.seen.at(-1)).join() === 'after,before,by-hand', 30000);
    expect(store.health().reachable).toBe(true);
  });

  it('loses no acknowledged write of 200 writers on distinct routes and 50 on one route', async () => {
    const prefix = newPrefix();
    const writers = [0, 1, 2].map(() => openStore(cluster.addresses, prefix));
    const distinct = Array.from({ length: 200 }, (_, i) => writers[i % 3].put({ serviceName: `route-${i}`, servicePath: `/r${i}`, port: String(1000 + i) }));
    const same = Array.from({ length: 50 }, (_, i) => {
      const port = String(2000 + i);
      return writers[i % 3].put({ serviceName: 'shared', servicePath: '/shared', port }).then((index) => ({ index, port }));
    });
    await Promise.all(distinct);
    const acknowledged = await Promise.all(same);
    expect(new Set(acknowledged.map((a) => a.index)).size).toBe(50);
    const last = acknowledged.reduce((a, b) => (b.index > a.index ? b : a));
    const snapshot = await openStore([cluster.addresses[1]], prefix).list();
    expect(snapshot.entries).toHaveLength(201);
    for (let i = 0; i < 200; i++) expect(portOf(snapshot, `route-${i}`)).toBe(String(1000 + i));
    expect(portOf(snapshot, 'shared')).toBe(last.port);
  });
});
