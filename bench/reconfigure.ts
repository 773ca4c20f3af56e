import * as os from 'os';
import { Backend, startBackend } from '../test/helpers/backends';
import { RunningSidecar } from '../test/helpers/sidecar';
import { FloorResult, measureFloor } from './floor';
import {
  budget,
  Budget,
  cacheUse,
  countersOf,
  eachSize,
  FailedSize,
  log,
  meanApplyMs,
  runScenario,
  since,
  summarize,
  untilBackend,
  withCleanUps,
  writeResult,
} from './measure';
import type { ReconfigureRow } from './result-types';
import { probeEdit } from './routes';
import { keepLogsOnFailure, reconfigure, startLoadedSidecar } from './sidecars';

/**
 * Scenario 1, reconfigure-to-live: one reconfigure call after another, each moving the probe
 * route to the other of two backends (with a header carrying the change's number, so every change
 * renders a config never seen before), timed until a request through HAProxy reaches the new one.
 * The same run records the sidecar's resident memory (scenario 5) and, with the sidecar stopped
 * so it does not compete for the two cores, the HAProxy floor and `haproxy -c` time (scenario 4).
 *
 * Build: npx tsc -p tsconfig.bench.json; run: node .cache/bench/bench/reconfigure.js
 * (scripts/run-bench.js does both). Writes reconfigure.json, memory.json and floor.json.
 */

const CHANGES: Budget = { count: 100, capMs: 90000 };
const CHANGES_AT_10000: Budget = { count: 100, capMs: 150000 };
const FLOOR_SAMPLES = 10;
const FLOOR_SAMPLES_AT_10000 = 6;

type Timed = Pick<ReconfigureRow, 'apiMs' | 'liveMs' | 'cutShortByCap'>;

/** `count` changes, alternating backends, stopped early by the wall-clock cap. */
async function timeChanges(sidecar: RunningSidecar, backends: readonly Backend[], limit: Budget): Promise<Timed> {
  const apiMs: number[] = [];
  const liveMs: number[] = [];
  const started = performance.now();
  for (let i = 1; i <= limit.count && since(started) < limit.capMs; i++) {
    const target = backends[i % 2];
    const changeStarted = performance.now();
    await reconfigure(sidecar, probeEdit(target.port, i));
    apiMs.push(since(changeStarted));
    liveMs.push(await untilBackend(`${sidecar.proxy}/probe`, target.name, 30000, changeStarted));
  }
  return { apiMs: summarize(apiMs), liveMs: summarize(liveMs), cutShortByCap: liveMs.length < limit.count };
}

async function atSize(size: number): Promise<ReconfigureRow> {
  return withCleanUps(async (cleanUps) => {
    const backends = [cleanUps.add(await startBackend('reconf-a')), cleanUps.add(await startBackend('reconf-b'))];
    const { sidecar, loadMs } = await startLoadedSidecar(size, backends[0], cleanUps);
    const before = await countersOf(sidecar.api);
    const timed = await keepLogsOnFailure('reconfigure', size, [sidecar], () => timeChanges(sidecar, backends, budget(size, CHANGES, CHANGES_AT_10000)));
    const after = await countersOf(sidecar.api);
    log(
      `reconfigure at ${size} routes: ${timed.liveMs.count} changes, live p50 ${timed.liveMs.p50} p99 ${timed.liveMs.p99} ms, RSS ` +
        `${Math.round(after.rssBytes / 1048576)} MiB`,
    );
    return {
      routes: size,
      loadMs: Math.round(loadMs),
      ...timed,
      reloads: after.reloads - before.reloads,
      failedReloads: after.failedReloads - before.failedReloads,
      meanApplyMs: meanApplyMs(before, after),
      rssAfterLoadBytes: before.rssBytes,
      rssAfterChangesBytes: after.rssBytes,
      heapUsedAfterLoadBytes: before.heapUsedBytes,
      heapUsedAfterChangesBytes: after.heapUsedBytes,
      nodeCpuPerChangeMs: Math.round(((after.cpuSeconds - before.cpuSeconds) * 10000) / Math.max(1, timed.liveMs.count)) / 10,
      cache: cacheUse([before], [after]),
    };
  });
}

async function main(): Promise<void> {
  const machine = { node: process.version, cpus: os.cpus().length };
  const floors: (FloorResult | FailedSize)[] = [];
  const write = (rows: readonly (ReconfigureRow | FailedSize)[]): void => {
    writeResult('reconfigure', {
      scenario: 'reconfigure-to-live',
      ...machine,
      target: 'p99 < 100 ms at 10 routes; p99 < 3x the floor at 10,000',
      results: rows,
    });
    writeResult('floor', {
      scenario: 'haproxy-floor',
      ...machine,
      what: 'haproxy -c on the full config, then a master-worker reload until a request reaches the new backend; no sidecar',
      results: floors,
    });
    const memory = rows.map((r) =>
      'error' in r
        ? r
        : {
            routes: r.routes,
            rssAfterLoadBytes: r.rssAfterLoadBytes,
            rssAfterChangesBytes: r.rssAfterChangesBytes,
            heapUsedAfterLoadBytes: r.heapUsedAfterLoadBytes,
            heapUsedAfterChangesBytes: r.heapUsedAfterChangesBytes,
          },
    );
    writeResult('memory', { scenario: 'sidecar-rss', ...machine, target: 'RSS < 150 MB at 10,000 routes', results: memory });
  };
  await eachSize(
    'reconfigure',
    async (size) => {
      try {
        return await atSize(size);
      } finally {
        // After the sidecar has stopped, so the two do not share the cores.
        const samples = size >= 10000 ? FLOOR_SAMPLES_AT_10000 : FLOOR_SAMPLES;
        floors.push(
          await measureFloor(size, samples).catch((error: Error) => {
            console.error(`floor at ${size} routes failed: ${error.stack ?? error.message}`);
            return { routes: size, error: error.message };
          }),
        );
      }
    },
    write,
  );
}

runScenario('reconfigure', main);
