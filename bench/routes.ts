import * as fs from 'fs';
import * as path from 'path';

/**
 * The routes every scenario runs against: a store pre-loaded with `size` filler routes, written
 * straight into the store (the file store's routes.json, or Consul KV in transactions) because
 * 10,000 API calls would take longer than the whole benchmark.
 */

export type Params = Readonly<Record<string, string>>;

/**
 * An HTTP-only mix (paths, domains, basic auth, rewrites, headers). TCP and SNI routes are left
 * out on purpose: each would bind its own port, and thousands of listeners would measure the
 * kernel rather than the sidecar. Servers are IP addresses, so HAProxy never asks a DNS server.
 */
export function fillerParams(i: number): Params {
  const base = { serviceName: `filler-${i}`, port: String(1 + (i % 1000)), outboundHostname: '127.0.0.1' };
  switch (i % 5) {
    case 0:
      return { ...base, servicePath: `/filler-${i}/api,/filler-${i}/v2` };
    case 1:
      return { ...base, serviceDomain: `filler-${i}.example.com` };
    case 2:
      return { ...base, servicePath: `/filler-${i}`, users: `u${i}:p${i}` };
    case 3:
      return { ...base, servicePath: `/filler-${i}`, reqPathSearch: `^/filler-${i}/(.*)`, reqPathReplace: '/\\1' };
    default:
      return { ...base, servicePath: `/filler-${i}`, addReqHeader: 'X-Bench filler', setResHeader: 'X-Served-By sidecar' };
  }
}

export function fillerRoutes(size: number): Params[] {
  return Array.from({ length: size }, (_, i) => fillerParams(i));
}

/** The file store's format (src/store/file-store.ts): `{index, routes: {serviceName: params}}`. */
export function writeFileStore(stateDir: string, routes: readonly Params[]): void {
  const byName: Record<string, Params> = {};
  for (const route of routes) byName[route.serviceName] = route;
  fs.mkdirSync(stateDir, { recursive: true });
  fs.writeFileSync(path.join(stateDir, 'routes.json'), `${JSON.stringify({ index: 1, routes: byName })}\n`);
}

/** Consul allows at most 64 operations in one transaction. */
const TXN_OPS = 64;
const TXN_CONCURRENCY = 8;

async function putTransaction(consul: string, prefix: string, routes: readonly Params[]): Promise<void> {
  const operations = routes.map((route) => ({
    KV: { Verb: 'set', Key: `${prefix}/services/${route.serviceName}`, Value: Buffer.from(JSON.stringify(route)).toString('base64') },
  }));
  const response = await fetch(`${consul}/v1/txn`, { method: 'PUT', body: JSON.stringify(operations), signal: AbortSignal.timeout(10000) });
  if (response.status !== 200) throw new Error(`Consul txn answered ${response.status}: ${await response.text()}`);
}

/** Write every route to Consul KV, a few transactions at a time. */
export async function writeConsulStore(consul: string, routes: readonly Params[], prefix = 'docker-flow'): Promise<void> {
  const batches: Params[][] = [];
  for (let i = 0; i < routes.length; i += TXN_OPS) batches.push(routes.slice(i, i + TXN_OPS));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) await putTransaction(consul, prefix, batches[next++]);
  };
  await Promise.all(Array.from({ length: TXN_CONCURRENCY }, worker));
}

/** The route whose changes the latency scenarios time: one path, one backend at a time. */
export function probeParams(backendPort: number, serviceName = 'probe'): Params {
  return { serviceName, servicePath: `/${serviceName}`, port: String(backendPort), outboundHostname: '127.0.0.1' };
}

/**
 * Change number `n` of the probe: to `backend`, with a request header carrying `n`, so that every
 * change renders a config never seen before (a cache of checked configs cannot skip the check)
 * while the backend, alternated by the caller, shows when it is live.
 */
export function probeEdit(backendPort: number, n: number, serviceName = 'probe'): Params {
  return { ...probeParams(backendPort, serviceName), addReqHeader: `X-Bench-Change ${n}` };
}

export function queryString(params: Params): string {
  return new URLSearchParams(params).toString();
}
