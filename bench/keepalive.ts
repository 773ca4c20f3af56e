import { startBackend } from '../test/helpers/backends';
import { keepAliveClient } from '../test/helpers/keepalive';
import { KeepAliveRow } from './result-types';
import { budget, Budget, countersOf, eachSize, log, runScenario, since, summarize, untilBackend, withCleanUps, writeResult } from './measure';
import { keepLogsOnFailure, reconfigure, startLoadedSidecar } from './sidecars';

/**
 * Keep-alive clients during runtime changes (issue 15: "zero failed requests on keep-alive
 * connections during 1,000 such changes"). A sidecar loaded with the size's routes; CLIENTS
 * keep-alive clients (one connection each, a request after another with 0-3 ms gaps) request the
 * probe, a route that never changes, while `/reconfigure` moves another service's path 1,000
 * times (map entries only: the Runtime API, no reload), each change timed until a request through
 * HAProxy reaches the service on its new path. Counted: the clients' failed requests, the
 * connections they had to open beyond their first (a reload closes idle connections; a runtime
 * change must not), reloads and runtime applies.
 *
 * Writes keepalive.json.
 */

const CLIENTS = 8;
const CHANGES: Budget = { count: 1000, capMs: 120000 };
const CHANGES_AT_10000: Budget = { count: 1000, capMs: 240000 };

async function atSize(size: number): Promise<KeepAliveRow> {
  return withCleanUps(async (cleanUps) => {
    const stable = cleanUps.add(await startBackend('keepalive-stable'));
    const mover = cleanUps.add(await startBackend('keepalive-mover'));
    const { sidecar } = await startLoadedSidecar(size, stable, cleanUps);
    const limit = budget(size, CHANGES, CHANGES_AT_10000);
    const moved = (i: number) => ({ serviceName: 'mover', servicePath: `/mover-${i}`, port: String(mover.port), outboundHostname: '127.0.0.1' });
    // A new service is a new backend: a reload, done before the clients start and the count begins.
    await reconfigure(sidecar, moved(0));
    await untilBackend(`${sidecar.proxy}/mover-0/x`, mover.name, 60000);
    const before = await countersOf(sidecar.api);
    let running = true;
    const clients = Array.from({ length: CLIENTS }, () => keepAliveClient(`${sidecar.proxy}/probe/x`, stable.name, () => running));
    const liveMs: number[] = [];
    const started = performance.now();
    try {
      await keepLogsOnFailure('keepalive', size, [sidecar], async () => {
        for (let i = 1; i <= limit.count && since(started) < limit.capMs; i++) {
          const changeStarted = performance.now();
          await reconfigure(sidecar, moved(i));
          liveMs.push(await untilBackend(`${sidecar.proxy}/mover-${i}/x`, mover.name, 30000, changeStarted));
        }
      });
    } finally {
      running = false;
    }
    const results = await Promise.all(clients);
    const after = await countersOf(sidecar.api);
    const failures = results.flatMap((r) => r.failed);
    const row: KeepAliveRow = {
      routes: size,
      clients: CLIENTS,
      liveMs: summarize(liveMs),
      requests: results.reduce((sum, r) => sum + r.ok, 0) + failures.length,
      failed: failures.length,
      failures: [...new Set(failures)].slice(0, 5),
      reconnects: results.reduce((sum, r) => sum + r.connections, 0) - CLIENTS,
      reloads: after.reloads - before.reloads,
      runtimeApplies: after.runtimeApplies - before.runtimeApplies,
    };
    log(
      `keep-alive at ${size} routes: ${row.liveMs.count} changes (live p50 ${row.liveMs.p50} p99 ${row.liveMs.p99} ms), ` +
        `${row.requests} requests, ${row.failed} failed, ${row.reconnects} reconnects, ${row.reloads} reloads`,
    );
    return row;
  });
}

runScenario('keepalive', () =>
  eachSize('keepalive', atSize, (rows) =>
    writeResult('keepalive', {
      scenario: 'keepalive',
      target: 'zero failed requests on keep-alive connections during 1,000 runtime changes',
      results: rows,
    }),
  ),
);
