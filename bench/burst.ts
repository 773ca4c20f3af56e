import * as os from 'os';
import { Backend, request, startBackend } from '../test/helpers/backends';
import { RunningSidecar } from '../test/helpers/sidecar';
import { budget, Budget, cacheUse, countersOf, eachSize, log, runScenario, since, untilBackend, withCleanUps, writeResult } from './measure';
import type { BurstRow } from './result-types';
import { probeParams, queryString } from './routes';
import { keepLogsOnFailure, startLoadedSidecar } from './sidecars';

/**
 * Scenario 3, burst: 1,000 new routes sent as fast as the API takes them: all 1,000 calls in
 * flight at once, as a deployment script firing them in parallel would (the API checks and
 * applies concurrent changes in batches).
 * Reports accepted changes per second (a 200 means stored and live), the reloads the applier
 * needed (coalescing), and how long after the last 200 every accepted route answers through
 * HAProxy (checked route by route, so this includes the checking).
 *
 * Build: npx tsc -p tsconfig.bench.json; run: node .cache/bench/bench/burst.js. Writes burst.json.
 */

const CONCURRENCY = 1000;
/** Checking 1,000 routes one request at a time would mostly time the check itself. */
const CHECK_CONCURRENCY = 64;
const BURST: Budget = { count: 1000, capMs: 100000 };
// At 10,000 routes every accepted change costs a full render and `haproxy -c` (over a second):
// 1,000 of them would take far longer than the whole benchmark, so the burst is cut by time.
const BURST_AT_10000: Budget = { count: 1000, capMs: 60000 };

const burstRoute = (i: number, backend: Backend) => probeParams(backend.port, `burst-${i}`);

interface Sent {
  readonly accepted: number[];
  readonly refused: Record<string, number>;
  readonly attempted: number;
  readonly lastAcceptMs: number;
}

/** CONCURRENCY workers take the next route until all are sent or the cap passes. */
async function send(sidecar: RunningSidecar, backend: Backend, limit: Budget, started: number): Promise<Sent> {
  const accepted: number[] = [];
  const refused: Record<string, number> = {};
  let next = 0;
  let lastAcceptMs = 0;
  const worker = async (): Promise<void> => {
    while (next < limit.count && since(started) < limit.capMs) {
      const i = next++;
      const answer = await sidecar
        .call(`/v1/docker-flow-proxy/reconfigure?${queryString(burstRoute(i, backend))}`, { timeoutMs: 120000 })
        .catch((error: Error) => ({ status: `error: ${error.message}` }));
      if (answer.status !== 200) {
        refused[String(answer.status)] = (refused[String(answer.status)] ?? 0) + 1;
        continue;
      }
      accepted.push(i);
      lastAcceptMs = since(started);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { accepted, refused, attempted: next, lastAcceptMs };
}

/** Request every accepted route through HAProxy; how many answered at once. Throws if one never does. */
async function checkAllLive(sidecar: RunningSidecar, backend: Backend, accepted: readonly number[]): Promise<number> {
  let next = 0;
  let atFirst = 0;
  const worker = async (): Promise<void> => {
    while (next < accepted.length) {
      const url = `${sidecar.proxy}/burst-${accepted[next++]}`;
      const first = await request(url, { timeoutMs: 5000 }).catch(() => undefined);
      if (first?.backend === backend.name) atFirst++;
      else await untilBackend(url, backend.name, 10000);
    }
  };
  await Promise.all(Array.from({ length: CHECK_CONCURRENCY }, worker));
  return atFirst;
}

async function atSize(size: number): Promise<BurstRow> {
  return withCleanUps(async (cleanUps) => {
    const backend = cleanUps.add(await startBackend('burst'));
    const { sidecar } = await startLoadedSidecar(size, backend, cleanUps);
    const before = await countersOf(sidecar.api);
    const limit = budget(size, BURST, BURST_AT_10000);
    const started = performance.now();
    const sent = await keepLogsOnFailure('burst', size, [sidecar], () => send(sidecar, backend, limit, started));
    const liveAtFirstRequest = await keepLogsOnFailure('burst', size, [sidecar], () => checkAllLive(sidecar, backend, sent.accepted));
    const allLiveAfterLastMs = Math.round(since(started) - sent.lastAcceptMs);
    const after = await countersOf(sidecar.api);
    const acceptedPerSecond = Math.round((sent.accepted.length / Math.max(1, sent.lastAcceptMs)) * 100000) / 100;
    log(
      `burst at ${size} routes: ${sent.accepted.length}/${sent.attempted} accepted, ${acceptedPerSecond}/s, ` +
        `${after.reloads - before.reloads} reloads, all live ${allLiveAfterLastMs} ms after the last`,
    );
    return {
      routes: size,
      attempted: sent.attempted,
      accepted: sent.accepted.length,
      refused: sent.refused,
      cutShortByCap: sent.attempted < limit.count,
      burstMs: Math.round(sent.lastAcceptMs),
      acceptedPerSecond,
      reloads: after.reloads - before.reloads,
      failedReloads: after.failedReloads - before.failedReloads,
      allLiveAfterLastMs,
      liveAtFirstRequest,
      rssAfterBytes: after.rssBytes,
      cache: cacheUse([before], [after]),
    };
  });
}

async function main(): Promise<void> {
  await eachSize('burst', atSize, (results) =>
    writeResult('burst', {
      scenario: 'burst',
      node: process.version,
      cpus: os.cpus().length,
      concurrency: CONCURRENCY,
      target: '>= 500 accepted changes/s; all live within 2 s of the last',
      results,
    }),
  );
}

runScenario('burst', main);
