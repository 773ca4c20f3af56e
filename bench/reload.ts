import * as fs from 'fs';
import { checkConfig } from '../src/haproxy/check';
import { startBackend } from '../test/helpers/backends';
import { percentile, routeTo, snapshotOf, startHarness, startLoad } from '../test/fixtures/applier-harness';
import { log, runScenario, withCleanUps, writeResult } from './measure';

/**
 * 100 reloads under load (the test applier-reload-under-load, with figures): a second process
 * (autocannon, 2 keep-alive connections, pipelining 1, capped rate) requests a route that never
 * changes while the applier reloads HAProxy with a changing route set, one reload after another.
 * Then the HAProxy floor for the last config of the run: `haproxy -c` alone, and a master-worker
 * reload until the new worker runs, with no applier around them.
 *
 * Writes reload.json (the name scripts/run-bench.js and summary.ts read). Environment:
 * BENCH_QUICK=1 (20 reloads), BENCH_RELOADS, BENCH_RELOAD_RATE (requests per second, 0: uncapped).
 */

const QUICK = process.env.BENCH_QUICK === '1';
const RELOADS = Number(process.env.BENCH_RELOADS ?? (QUICK ? 20 : 100));
const RATE = Number(process.env.BENCH_RELOAD_RATE ?? 1000);
const CONNECTIONS = 2;
const FLOOR_SAMPLES = QUICK ? 5 : 20;
const LOAD_CAP_S = 300;

interface Spread {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
}

function spread(values: readonly number[]): Spread {
  return { count: values.length, p50: percentile(values, 50), p95: percentile(values, 95), max: Math.max(0, ...values) };
}

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return Math.round((performance.now() - started) * 10) / 10;
}

runScenario('reload', () =>
  withCleanUps(async (cleanUps) => {
    const stable = cleanUps.add(await startBackend('stable'));
    const churn = cleanUps.add(await startBackend('churn'));
    const harness = await startHarness();
    cleanUps.add({ stop: () => harness.applier.stop() });
    await harness.applier.applyNow(snapshotOf(1, [routeTo('stable', stable)]));

    const load = await startLoad(`${harness.base}/stable`, CONNECTIONS, LOAD_CAP_S, RATE);
    cleanUps.add({ stop: async () => load.kill() });
    const applyMs: number[] = [];
    const outcomes: Record<string, number> = {};
    const began = performance.now();
    for (let i = 0; i < RELOADS; i += 1) {
      const report = await harness.applier.applyNow(snapshotOf(i + 2, [routeTo('stable', stable), routeTo(`churn-${i}`, churn)]));
      outcomes[report.outcome] = (outcomes[report.outcome] ?? 0) + 1;
      applyMs.push(report.durationMs);
    }
    const reloadsMs = Math.round(performance.now() - began);
    const traffic = await load.finish();
    log(`${RELOADS} reloads in ${reloadsMs} ms under ${traffic.requests} requests: ${traffic.errors + traffic.timeouts + traffic.non2xx} failed`);

    const config = harness.settings.haproxyConfig;
    const floorCheck: number[] = [];
    const floorReload: number[] = [];
    for (let i = 0; i < FLOOR_SAMPLES; i += 1) {
      floorCheck.push(await timed(() => checkConfig(harness.settings.haproxyBin, config)));
      floorReload.push(await timed(() => harness.haproxy.reload()));
    }
    writeResult('reload', {
      scenario: `${RELOADS} reloads with changing routes under load on a stable route`,
      load: { tool: 'autocannon (second process)', connections: CONNECTIONS, pipelining: 1, rateCap: RATE || 'none', keepAlive: true },
      reloads: RELOADS,
      outcomes,
      reloadsMs,
      requests: traffic.requests,
      ok2xx: traffic.ok2xx,
      failed: traffic.errors + traffic.timeouts + traffic.non2xx,
      failedBreakdown: { socketErrors: traffic.errors, timeouts: traffic.timeouts, statusNot2xx: traffic.non2xx, resets: traffic.resets },
      applyMs: spread(applyMs),
      floor: {
        configBytes: fs.statSync(config).size,
        checkMs: spread(floorCheck),
        reloadMs: spread(floorReload),
        note: 'haproxy -c of the final config, and a master CLI reload until show proc lists a new worker (no applier)',
      },
    });
  }),
);
