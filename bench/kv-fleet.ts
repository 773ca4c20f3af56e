import * as os from 'os';
import { Backend, startBackend } from '../test/helpers/backends';
import { startConsulDev } from '../test/helpers/consul';
import { freePort } from '../test/helpers/ports';
import { RunningSidecar } from '../test/helpers/sidecar';
import { tempDir } from '../test/helpers/tmp';
import {
  budget,
  Budget,
  cacheUse,
  CleanUps,
  countersOf,
  eachSize,
  log,
  meanApplyMs,
  runScenario,
  since,
  summarize,
  untilBackend,
  withCleanUps,
  writeResult,
} from './measure';
import type { KvFleetRow } from './result-types';
import { Params, probeEdit, writeConsulStore } from './routes';
import { keepLogs, startAndLoad, storeContents } from './sidecars';

/**
 * Scenario 2b, KV edit to live on three replicas: three sidecars (127.0.0.2, .3, .4, one port for all, as replicas)
 * share one Consul dev agent. Each change is a plain PUT of the probe's key, as `consul kv put`
 * does, timed until a request through every instance's HAProxy reaches the new backend. Every
 * edit produces a config never seen before (routes.ts probeEdit).
 *
 * Build: npx tsc -p tsconfig.bench.json; run: node .cache/bench/bench/kv-fleet.js. Writes kv-fleet.json.
 */

const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const EDITS: Budget = { count: 100, capMs: 90000 };
const EDITS_AT_10000: Budget = { count: 100, capMs: 120000 };
const KEY = 'docker-flow/services/probe';
/** An edit not live on all three by then ends the series (at 10,000 routes six 3 MB configs are checked and loaded on two cores). */
const liveTimeoutMs = (size: number): number => (size >= 10000 ? 90000 : 30000);

async function putKey(consul: string, params: Params): Promise<void> {
  const response = await fetch(`${consul}/v1/kv/${KEY}`, { method: 'PUT', body: JSON.stringify(params), signal: AbortSignal.timeout(10000) });
  if (response.status !== 200) throw new Error(`Consul PUT ${KEY} answered ${response.status}: ${await response.text()}`);
}

/** Three sidecars on their own loopback addresses, all loaded; started together as a fleet is. */
async function startFleet(consul: string, backend: Backend, cleanUps: CleanUps): Promise<{ sidecars: RunningSidecar[]; loadMs: number }> {
  // Distinct addresses: a port free on 127.0.0.2 is, in practice, free on .3 and .4 too.
  const apiPort = await freePort(HOSTS[0]);
  const httpPort = await freePort(HOSTS[0]);
  const env = { CONSUL_ADDRESS: consul };
  const loaded = await Promise.all(HOSTS.map((host) => startAndLoad(backend, cleanUps, { host, apiPort, httpPort, stateDir: tempDir('bench-kv-'), env })));
  return { sidecars: loaded.map((l) => l.sidecar), loadMs: Math.round(Math.max(...loaded.map((l) => l.loadMs))) };
}

interface Edits {
  readonly all: number[];
  readonly each: number[][];
  /** Why the edits stopped before the count and the cap, if they did: the edits before it stand. */
  stoppedBy?: string;
}

/** Edits until the count or the cap; an edit not live within `timeoutMs` ends the series. */
async function timeEdits(consul: string, sidecars: readonly RunningSidecar[], backends: readonly Backend[], limit: Budget, timeoutMs: number): Promise<Edits> {
  const edits: Edits = { all: [], each: sidecars.map(() => []) };
  const started = performance.now();
  for (let i = 1; i <= limit.count && since(started) < limit.capMs; i++) {
    const target = backends[i % 2];
    const editStarted = performance.now();
    await putKey(consul, probeEdit(target.port, i));
    const times = await Promise.all(sidecars.map((s) => untilBackend(`${s.proxy}/probe`, target.name, timeoutMs, editStarted))).catch((error: Error) => error);
    if (times instanceof Error) {
      edits.stoppedBy = `edit ${i}: ${times.message}`;
      break;
    }
    times.forEach((ms, j) => edits.each[j].push(ms));
    edits.all.push(Math.max(...times));
  }
  return edits;
}

async function atSize(size: number): Promise<KvFleetRow> {
  return withCleanUps(async (cleanUps) => {
    const backends = [cleanUps.add(await startBackend('kv-a')), cleanUps.add(await startBackend('kv-b'))];
    const consul = cleanUps.add(await startConsulDev());
    await writeConsulStore(consul.address, storeContents(size, backends[0]));
    const { sidecars, loadMs } = await startFleet(consul.address, backends[0], cleanUps);
    const before = await Promise.all(sidecars.map((s) => countersOf(s.api)));
    const limit = budget(size, EDITS, EDITS_AT_10000);
    const { all, each, stoppedBy } = await timeEdits(consul.address, sidecars, backends, limit, liveTimeoutMs(size));
    if (stoppedBy) await keepLogs('kv-fleet', size, sidecars, stoppedBy);
    const after = await Promise.all(sidecars.map((s) => countersOf(s.api)));
    const allLiveMs = summarize(all);
    log(`kv-fleet at ${size} routes: ${all.length} edits, all three live p50 ${allLiveMs.p50} p99 ${allLiveMs.p99} ms`);
    return {
      routes: size,
      loadMs,
      allLiveMs,
      perInstanceMs: Object.fromEntries(HOSTS.map((host, j) => [host, summarize(each[j])])),
      cutShortByCap: all.length < limit.count && !stoppedBy,
      stoppedBy,
      reloadsPerInstance: after.map((a, j) => a.reloads - before[j].reloads),
      failedReloadsPerInstance: after.map((a, j) => a.failedReloads - before[j].failedReloads),
      meanApplyMs: after.map((a, j) => meanApplyMs(before[j], a)),
      cache: cacheUse(before, after),
    };
  });
}

async function main(): Promise<void> {
  await eachSize('kv-fleet', atSize, (results) =>
    writeResult('kv-fleet', {
      scenario: 'kv-edit-to-live on three replicas',
      node: process.version,
      cpus: os.cpus().length,
      instances: HOSTS,
      target: 'p99 < 1 s until all three serve the edit',
      results,
    }),
  );
}

runScenario('kv-fleet', main);
