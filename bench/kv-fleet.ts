import * as os from 'os';
import { Backend, startBackend } from '../test/helpers/backends';
import { startConsulDev } from '../test/helpers/consul';
import { freePort, sleep } from '../test/helpers/ports';
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
import type { KvFleetRow, KvFleetSeries } from './result-types';
import { Params, probeEdit, probeParams, writeConsulStore } from './routes';
import { keepLogs, startAndLoad, storeContents } from './sidecars';

/**
 * Scenario 2b, KV edit to live on three replicas: three sidecars (127.0.0.2, .3, .4, one port for all, as replicas)
 * share one Consul dev agent. Each change is a plain PUT of the probe's key, as `consul kv put`
 * does, timed until a request through every instance's HAProxy reaches it. Two series at each size:
 * - runtime: the probe's path moves (`/edit-<n>`, a path never served before), which changes the
 *   route maps only, so every replica applies it through the Runtime API without a reload (the
 *   reload counters say whether it did); timed until every HAProxy answers on the new path.
 * - reload: the probe moves to the other backend with a request header carrying the edit's number
 *   (routes.ts probeEdit), a config never seen before: check and reload on every replica.
 * BENCH_FLEET_VARIANTS=runtime (or reload) runs one of them.
 *
 * Build: npx tsc -p tsconfig.bench.json; run: node .cache/bench/bench/kv-fleet.js. Writes kv-fleet.json.
 */

const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const EDITS: Budget = { count: 100, capMs: 90000 };
const EDITS_AT_10000: Budget = { count: 100, capMs: 120000 };
const KEY = 'docker-flow/services/probe';
/** An edit not live on all three by then ends the series (at 10,000 routes six 3 MB configs are checked and loaded on two cores). */
const liveTimeoutMs = (size: number): number => (size >= 10000 ? 90000 : 30000);
/**
 * Untimed pause after an edit is live on all three, before the next. Each sidecar's watch sends at
 * most one query per 50 ms (watchMinIntervalMs): back-to-back edits 50 ms apart would time that
 * limit, not the edit (both series measured 50 ms at p50 at 10 routes without it).
 */
const PAUSE_MS = 100;

type VariantName = 'runtime' | 'reload';
const VARIANTS: readonly VariantName[] = (process.env.BENCH_FLEET_VARIANTS ?? 'runtime,reload')
  .split(',')
  .filter((v): v is VariantName => v === 'runtime' || v === 'reload');

/** Edit number `n` of a series: what is PUT, and the request through a proxy and the backend that show it live. */
interface Edit {
  readonly params: Params;
  readonly path: string;
  readonly backend: Backend;
}

type EditOf = (n: number, backends: readonly Backend[]) => Edit;

const EDIT_OF: Readonly<Record<VariantName, EditOf>> = {
  // No path served before is a prefix of `/edit-<n>/x`: only the new map entry can answer it.
  runtime: (n, backends) => ({ params: { ...probeParams(backends[0].port), servicePath: `/edit-${n}` }, path: `/edit-${n}/x`, backend: backends[0] }),
  reload: (n, backends) => ({ params: probeEdit(backends[n % 2].port, n), path: '/probe', backend: backends[n % 2] }),
};

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

/** One edit, timed until every sidecar's HAProxy serves it. */
async function edit(consul: string, sidecars: readonly RunningSidecar[], next: Edit, timeoutMs: number): Promise<number[]> {
  const started = performance.now();
  await putKey(consul, next.params);
  return Promise.all(sidecars.map((s) => untilBackend(`${s.proxy}${next.path}`, next.backend.name, timeoutMs, started)));
}

/** Edits 1, 2, ... until the count or the cap; an edit not live within `timeoutMs` ends the series. */
async function timeEdits(consul: string, sidecars: readonly RunningSidecar[], editOf: (n: number) => Edit, limit: Budget, timeoutMs: number): Promise<Edits> {
  const edits: Edits = { all: [], each: sidecars.map(() => []) };
  const started = performance.now();
  for (let i = 1; i <= limit.count && since(started) < limit.capMs; i++) {
    const times = await edit(consul, sidecars, editOf(i), timeoutMs).catch((error: Error) => error);
    if (times instanceof Error) {
      edits.stoppedBy = `edit ${i}: ${times.message}`;
      break;
    }
    times.forEach((ms, j) => edits.each[j].push(ms));
    edits.all.push(Math.max(...times));
    await sleep(PAUSE_MS);
  }
  return edits;
}

interface Fleet {
  readonly consul: string;
  readonly sidecars: readonly RunningSidecar[];
  readonly backends: readonly Backend[];
}

/**
 * One series: an untimed edit 0 first (the loaded probe may differ from the series' edits in more
 * than they change, e.g. the reload series' header), then the timed ones, with the counters around them.
 */
async function series(fleet: Fleet, size: number, variant: VariantName): Promise<KvFleetSeries> {
  const editOf = (n: number): Edit => EDIT_OF[variant](n, fleet.backends);
  await edit(fleet.consul, fleet.sidecars, editOf(0), liveTimeoutMs(size));
  const before = await Promise.all(fleet.sidecars.map((s) => countersOf(s.api)));
  const limit = budget(size, EDITS, EDITS_AT_10000);
  const { all, each, stoppedBy } = await timeEdits(fleet.consul, fleet.sidecars, editOf, limit, liveTimeoutMs(size));
  if (stoppedBy) await keepLogs(`kv-fleet-${variant}`, size, fleet.sidecars, stoppedBy);
  const after = await Promise.all(fleet.sidecars.map((s) => countersOf(s.api)));
  const allLiveMs = summarize(all);
  const reloads = after.map((a, j) => a.reloads - before[j].reloads);
  log(`kv-fleet ${variant} at ${size} routes: ${all.length} edits, all three live p50 ${allLiveMs.p50} p99 ${allLiveMs.p99} ms, reloads ${reloads.join('/')}`);
  return {
    allLiveMs,
    perInstanceMs: Object.fromEntries(HOSTS.map((host, j) => [host, summarize(each[j])])),
    cutShortByCap: all.length < limit.count && !stoppedBy,
    stoppedBy,
    reloadsPerInstance: reloads,
    runtimeAppliesPerInstance: after.map((a, j) => a.runtimeApplies - before[j].runtimeApplies),
    failedReloadsPerInstance: after.map((a, j) => a.failedReloads - before[j].failedReloads),
    meanApplyMs: after.map((a, j) => meanApplyMs(before[j], a)),
    cpuPerEditMs: after.map((a, j) => (all.length > 0 ? Math.round(((a.cpuSeconds - before[j].cpuSeconds) * 1000) / all.length) : NaN)),
    cache: cacheUse(before, after),
  };
}

async function atSize(size: number): Promise<KvFleetRow> {
  return withCleanUps(async (cleanUps) => {
    const backends = [cleanUps.add(await startBackend('kv-a')), cleanUps.add(await startBackend('kv-b'))];
    const consul = cleanUps.add(await startConsulDev());
    await writeConsulStore(consul.address, storeContents(size, backends[0]));
    const { sidecars, loadMs } = await startFleet(consul.address, backends[0], cleanUps);
    const fleet = { consul: consul.address, sidecars, backends };
    // The runtime series first: the loaded probe is a plain route already.
    const runtime = VARIANTS.includes('runtime') ? await series(fleet, size, 'runtime') : undefined;
    const reload = VARIANTS.includes('reload') ? await series(fleet, size, 'reload') : undefined;
    return { routes: size, loadMs, ...reload, ...(runtime ? { runtime } : {}) };
  });
}

async function main(): Promise<void> {
  await eachSize('kv-fleet', atSize, (results) =>
    writeResult('kv-fleet', {
      scenario: 'kv-edit-to-live on three replicas',
      node: process.version,
      cpus: os.cpus().length,
      instances: HOSTS,
      target: 'reload: p99 < 1 s until all three serve the edit; runtime (map entries only): p99 < 100 ms at 10,000 routes',
      variants: VARIANTS,
      pauseBetweenEditsMs: PAUSE_MS,
      results,
    }),
  );
}

runScenario('kv-fleet', main);
