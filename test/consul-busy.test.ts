import { ConsulStore } from '../src/store/consul-store';
import { ConsulAgent, startConsulDev } from './helpers/consul';

/**
 * Consul answers 429 ("Your IP is issuing too many concurrent connections") to a connection over
 * `limits.http_max_conns_per_client` (200 by default, per client IP, so several sidecars behind
 * one NAT share it). Nothing was done with such a request: the store waits a moment and asks
 * again, within its request timeout, rather than failing a write the user would have to repeat.
 */
let consul: ConsulAgent;
const stores: ConsulStore[] = [];

beforeAll(async () => {
  consul = await startConsulDev(['limits { http_max_conns_per_client = 10 }']);
}, 60000);

afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await consul?.stop();
});

function openStore(prefix: string, requestTimeoutMs: number): ConsulStore {
  const store = new ConsulStore({ addresses: [consul.address], prefix, requestTimeoutMs, backoffMinMs: 50, backoffMaxMs: 500 });
  stores.push(store);
  return store;
}

it('stores every one of 60 concurrent writes when Consul allows this client 10 connections', async () => {
  const store = openStore('busy', 10000);
  const writes = Array.from({ length: 60 }, (_, i) => store.put({ serviceName: `route-${i}`, servicePath: `/r${i}`, port: String(1000 + i) }));
  const outcomes = await Promise.allSettled(writes);
  const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
  expect(refused).toEqual([]);
  const snapshot = await store.list();
  expect(snapshot.entries.map((e) => e.serviceName).sort()).toEqual(Array.from({ length: 60 }, (_, i) => `route-${i}`).sort());
}, 60000);
