import * as os from 'os';
import { startBackend } from '../test/helpers/backends';
import { createCa, handshake, issueCert, TestCert } from '../test/helpers/certs';
import { startConsulDev } from '../test/helpers/consul';
import { freePort, sleep } from '../test/helpers/ports';
import { RunningSidecar, startSidecar } from '../test/helpers/sidecar';
import { tempDir } from '../test/helpers/tmp';
import { Budget, countersOf, log, metricsOf, metricValue, runScenario, since, summarize, Summary, untilBackend, withCleanUps, writeResult } from './measure';
import { probeParams, writeConsulStore } from './routes';
import { BENCH_ENV, LOAD_TIMEOUT_MS } from './sidecars';

/**
 * Certificate change to live, beside a route change: three sidecars (127.0.0.2, .3, .4) share one
 * Consul dev agent holding N certificates. Each certificate change is a PUT of
 * `docker-flow/certs/probe` (the next of two versions), timed until a TLS handshake with every
 * instance presents the new certificate; each route change a PUT of `docker-flow/services/probe`,
 * timed until a request through every instance reaches the other backend. Certificate changes go
 * through the Runtime API, so the reload counter must not move while they run.
 *
 * Build: npx tsc -p tsconfig.bench.json; run: node .cache/bench/bench/cert-change.js. Writes cert-change.json.
 */

const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const QUICK = process.env.BENCH_QUICK === '1';
const CERT_COUNTS: readonly number[] = process.env.BENCH_CERTS ? process.env.BENCH_CERTS.split(',').map(Number) : QUICK ? [10, 100] : [10, 1000];
const CHANGES: Budget = { count: QUICK ? 20 : 100, capMs: 90000 };
const LIVE_TIMEOUT_MS = 30000;
const TXN_OPS = 64;

interface CertChangeRow {
  readonly certs: number;
  readonly loadMs: number;
  /** Until all three present the new certificate. */
  readonly certChangeMs: Summary;
  /** Until all three route the probe to the other backend, at the same certificate count. */
  readonly routeChangeMs: Summary;
  /** Reloads (per instance) while the certificate changes ran: 0 when the Runtime API did them all. */
  readonly reloadsDuringCertChanges: readonly number[];
  readonly runtimeChangesPerInstance: readonly number[];
}

async function consulPut(consul: string, key: string, body: string): Promise<void> {
  const response = await fetch(`${consul}/v1/kv/${key}`, { method: 'PUT', body, signal: AbortSignal.timeout(10000) });
  if (response.status !== 200) throw new Error(`Consul PUT ${key} answered ${response.status}`);
}

/** `count` certificates: the probe and count-1 fillers (one PEM under many names: HAProxy loads each file). */
async function writeCerts(consul: string, count: number, probe: TestCert, filler: TestCert): Promise<void> {
  const names = Array.from({ length: count - 1 }, (_v, i) => `filler-${String(i).padStart(5, '0')}`);
  const entries: Array<[string, string]> = [['probe', probe.pem], ...names.map((name): [string, string] => [name, filler.pem])];
  for (let i = 0; i < entries.length; i += TXN_OPS) {
    const operations = entries
      .slice(i, i + TXN_OPS)
      .map(([name, pem]) => ({ KV: { Verb: 'set', Key: `docker-flow/certs/${name}`, Value: Buffer.from(pem).toString('base64') } }));
    const response = await fetch(`${consul}/v1/txn`, { method: 'PUT', body: JSON.stringify(operations), signal: AbortSignal.timeout(30000) });
    if (response.status !== 200) throw new Error(`Consul transaction answered ${response.status}: ${await response.text()}`);
  }
}

async function untilPresented(sidecar: RunningSidecar, port: number, fingerprint: string, timeoutMs: number, started: number): Promise<number> {
  const deadline = started + timeoutMs;
  let last = 'no handshake yet';
  while (performance.now() < deadline) {
    const seen = await handshake({ host: sidecar.host, port, servername: 'probe.bench', timeoutMs: 2000 }).catch((error: Error) => error);
    if (!(seen instanceof Error) && seen.fingerprint === fingerprint) return since(started);
    last = seen instanceof Error ? seen.message : `presented ${seen.commonName}`;
    await sleep(2);
  }
  throw new Error(`${sidecar.host}:${port} did not present the new certificate within ${timeoutMs} ms (last: ${last})`);
}

async function atCount(count: number): Promise<CertChangeRow> {
  return withCleanUps(async (cleanUps) => {
    const backends = [cleanUps.add(await startBackend('cert-a')), cleanUps.add(await startBackend('cert-b'))];
    const consul = cleanUps.add(await startConsulDev());
    const ca = createCa('bench CA');
    const versions = [issueCert(ca, ['probe.bench']), issueCert(ca, ['probe.bench'])];
    await writeCerts(consul.address, count, versions[0], issueCert(ca, ['filler.bench']));
    await writeConsulStore(consul.address, [probeParams(backends[0].port)]);
    const [apiPort, httpPort, httpsPort] = [await freePort(HOSTS[0]), await freePort(HOSTS[0]), await freePort(HOSTS[0])];
    const env = { ...BENCH_ENV, CONSUL_ADDRESS: consul.address, DEFAULT_PORTS: `${httpPort},${httpsPort}:ssl` };
    const started = performance.now();
    const sidecars = await Promise.all(
      HOSTS.map(async (host) => cleanUps.add(await startSidecar({ host, apiPort, httpPort, stateDir: tempDir('bench-cert-'), env }))),
    );
    const loaded = await Promise.all(sidecars.map((s) => untilPresented(s, httpsPort, versions[0].fingerprint, LOAD_TIMEOUT_MS, started)));

    const before = await Promise.all(sidecars.map((s) => countersOf(s.api)));
    const runtimeBefore = await Promise.all(
      sidecars.map(async (s) => metricValue(await metricsOf(s.api), 'haproxy_sidecar_reloads_total', { outcome: 'runtime' }) ?? 0),
    );
    const certTimes: number[] = [];
    const seriesStarted = performance.now();
    for (let i = 1; i <= CHANGES.count && since(seriesStarted) < CHANGES.capMs; i++) {
      const next = versions[i % 2];
      const changeStarted = performance.now();
      await consulPut(consul.address, 'docker-flow/certs/probe', next.pem);
      const times = await Promise.all(sidecars.map((s) => untilPresented(s, httpsPort, next.fingerprint, LIVE_TIMEOUT_MS, changeStarted)));
      certTimes.push(Math.max(...times));
    }
    const after = await Promise.all(sidecars.map((s) => countersOf(s.api)));
    const runtimeAfter = await Promise.all(
      sidecars.map(async (s) => metricValue(await metricsOf(s.api), 'haproxy_sidecar_reloads_total', { outcome: 'runtime' }) ?? 0),
    );

    const routeTimes: number[] = [];
    const routesStarted = performance.now();
    for (let i = 1; i <= CHANGES.count && since(routesStarted) < CHANGES.capMs; i++) {
      const target = backends[i % 2];
      const changeStarted = performance.now();
      await consulPut(consul.address, 'docker-flow/services/probe', JSON.stringify(probeParams(target.port)));
      const times = await Promise.all(sidecars.map((s) => untilBackend(`${s.proxy}/probe`, target.name, LIVE_TIMEOUT_MS, changeStarted)));
      routeTimes.push(Math.max(...times));
    }
    const row: CertChangeRow = {
      certs: count,
      loadMs: Math.round(Math.max(...loaded)),
      certChangeMs: summarize(certTimes),
      routeChangeMs: summarize(routeTimes),
      reloadsDuringCertChanges: after.map((a, j) => a.reloads - before[j].reloads),
      runtimeChangesPerInstance: runtimeAfter.map((value, j) => value - runtimeBefore[j]),
    };
    const { certChangeMs: cert, routeChangeMs: route } = row;
    log(`cert-change at ${count} certificates: cert p50 ${cert.p50} p99 ${cert.p99} ms; route p50 ${route.p50} p99 ${route.p99} ms`);
    return row;
  });
}

async function main(): Promise<void> {
  const rows: Array<CertChangeRow | { certs: number; error: string }> = [];
  for (const count of CERT_COUNTS) {
    try {
      rows.push(await atCount(count));
    } catch (error) {
      console.error(`cert-change at ${count} certificates failed: ${(error as Error).stack ?? String(error)}`);
      rows.push({ certs: count, error: (error as Error).message });
      process.exitCode = 1;
    }
    writeResult('cert-change', {
      scenario: 'cert-change-to-live',
      node: process.version,
      cpus: os.cpus().length,
      instances: HOSTS,
      target: 'a certificate change served by all three within a second, without a reload',
      results: rows,
    });
  }
}

runScenario('cert-change', main);
