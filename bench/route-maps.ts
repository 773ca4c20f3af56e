import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startBackend } from '../test/helpers/backends';
import { startHaproxy } from '../test/helpers/haproxy';
import { freePort, sleep } from '../test/helpers/ports';
import { tempDir } from '../test/helpers/tmp';
import { SHIPPED_TEMPLATES, startLoad } from '../test/fixtures/applier-harness';
import { loadTemplates } from '../src/render';
import { mapText } from '../src/render/route-maps';
import { parseRoute } from '../src/route/params';
import { loadSettings } from '../src/settings';
import {
  budget,
  Budget,
  countersOf,
  eachSize,
  log,
  metricsOf,
  metricValue,
  runScenario,
  since,
  SIZES,
  summarize,
  Summary,
  untilBackend,
  withCleanUps,
  writeResult,
} from './measure';
import { fillerRoutes, Params } from './routes';
import { keepLogsOnFailure, reconfigure, startLoadedSidecar } from './sidecars';

/**
 * Map-based routing (issue 15), two figures:
 * 1. Request throughput through HAProxy alone at 10 and 10,000 routes, for the route first and
 *    the route last in the rule order, with the shipped templates (plain routes in maps) and with
 *    the same templates stripped of their map blocks (one ACL per route, as before the maps).
 *    The two routes answer from HAProxy itself (`http-request return` in their backend), so the
 *    figure is HAProxy's routing, not a test backend's speed. autocannon, 8 connections,
 *    keep-alive, LOAD_SECONDS each.
 * 2. Reconfigure-to-live of a change that only moves map entries (the probe's path changes:
 *    the config stays, the Runtime API changes the maps): `/reconfigure` until a request through
 *    HAProxy reaches the probe on its new path, at every size; reloads counted (expected 0).
 *
 * Writes route-maps.json.
 */

const LOAD_SECONDS = 5;
const CONNECTIONS = 8;
const THROUGHPUT_SIZES = [10, 10000];
const CHANGES: Budget = { count: 100, capMs: 60000 };
const CHANGES_AT_10000: Budget = { count: 100, capMs: 120000 };

interface ThroughputRow {
  readonly routes: number;
  readonly routing: 'maps' | 'acl';
  readonly route: 'first' | 'last';
  readonly requestsPerSecond: number;
  readonly non2xx: number;
  readonly errors: number;
}

interface RuntimeRow {
  readonly routes: number;
  readonly liveMs: Summary;
  readonly reloads: number;
  readonly runtimeApplies: number;
}

/** A route answered by HAProxy itself, named so it sorts first or last among the fillers. */
function answering(serviceName: string, servicePath: string): Params {
  return {
    serviceName,
    servicePath,
    port: '1',
    outboundHostname: '127.0.0.1',
    backendExtra: `http-request return status 200 content-type text/plain string ${serviceName}`,
  };
}

/** The shipped templates without their map blocks: every route an ACL, as before the maps. */
function aclTemplatesDir(): string {
  const dir = tempDir('bench-acl-templates-');
  for (const file of fs.readdirSync(SHIPPED_TEMPLATES)) fs.copyFileSync(path.join(SHIPPED_TEMPLATES, file), path.join(dir, file));
  const frontend = path.join(dir, 'frontend-http.hbs');
  fs.writeFileSync(frontend, fs.readFileSync(frontend, 'utf8').replace(/\{\{#if routeMaps\}\}[\s\S]*?\{\{\/if\}\}\n/g, ''));
  return dir;
}

async function throughput(size: number, routing: 'maps' | 'acl'): Promise<ThroughputRow[]> {
  const port = await freePort();
  const settings = loadSettings({ BIND_ADDRESS: '127.0.0.1', DEFAULT_PORTS: String(port), STATE_DIR: tempDir('bench-maps-') });
  const routes = [...fillerRoutes(size - 2), answering('aaa-first', '/first'), answering('zzz-last', '/last')].map(parseRoute);
  const rendered = loadTemplates(routing === 'maps' ? SHIPPED_TEMPLATES : aclTemplatesDir()).renderWithProblems(routes, settings);
  for (const map of rendered.maps) fs.writeFileSync(map.file, mapText(map.entries));
  const haproxy = await startHaproxy(rendered.config);
  const rows: ThroughputRow[] = [];
  try {
    for (const route of ['first', 'last'] as const) {
      const load = await startLoad(`http://127.0.0.1:${port}/${route}`, CONNECTIONS, LOAD_SECONDS);
      await sleep(LOAD_SECONDS * 1000 + 500);
      const result = await load.finish();
      const row = {
        routes: size,
        routing,
        route,
        requestsPerSecond: Math.round((result.requests * 1000) / Math.max(1, result.durationMs)),
        non2xx: result.non2xx,
        errors: result.errors,
      };
      log(`throughput ${routing} at ${size} routes, ${route} route: ${row.requestsPerSecond} requests/s (${row.non2xx} non-2xx, ${row.errors} errors)`);
      rows.push(row);
    }
  } finally {
    await haproxy.stop();
  }
  return rows;
}

async function runtimeChanges(size: number): Promise<RuntimeRow> {
  return withCleanUps(async (cleanUps) => {
    const backend = cleanUps.add(await startBackend('maps-probe'));
    const { sidecar } = await startLoadedSidecar(size, backend, cleanUps);
    const limit = budget(size, CHANGES, CHANGES_AT_10000);
    const before = await countersOf(sidecar.api);
    const runtimeBefore = await runtimeAppliesOf(sidecar.api);
    const liveMs: number[] = [];
    const started = performance.now();
    await keepLogsOnFailure('route-maps', size, [sidecar], async () => {
      for (let i = 1; i <= limit.count && since(started) < limit.capMs; i++) {
        const changeStarted = performance.now();
        await reconfigure(sidecar, { serviceName: 'probe', servicePath: `/probe-${i}`, port: String(backend.port), outboundHostname: '127.0.0.1' });
        liveMs.push(await untilBackend(`${sidecar.proxy}/probe-${i}/x`, backend.name, 30000, changeStarted));
      }
    });
    const after = await countersOf(sidecar.api);
    const row = {
      routes: size,
      liveMs: summarize(liveMs),
      reloads: after.reloads - before.reloads,
      runtimeApplies: (await runtimeAppliesOf(sidecar.api)) - runtimeBefore,
    };
    log(`runtime path change at ${size} routes: ${row.liveMs.count} changes, live p50 ${row.liveMs.p50} p99 ${row.liveMs.p99} ms, ${row.reloads} reloads`);
    return row;
  });
}

async function runtimeAppliesOf(api: string): Promise<number> {
  return metricValue(await metricsOf(api), 'haproxy_sidecar_reloads_total', { outcome: 'runtime' }) ?? NaN;
}

async function main(): Promise<void> {
  const machine = { node: process.version, cpus: os.cpus().length };
  const throughputRows: (ThroughputRow | { routes: number; error: string })[] = [];
  let runtimeRows: readonly (RuntimeRow | { routes: number; error: string })[] = [];
  const write = (): void =>
    writeResult('route-maps', {
      scenario: 'route-maps',
      ...machine,
      target: 'throughput at 10,000 routes >= 0.9x at 10, first and last route; runtime change to live p99 < 20 ms at 10, 1,000, 10,000',
      throughput: throughputRows,
      runtimeChange: runtimeRows,
    });
  for (const size of THROUGHPUT_SIZES.filter((s) => !process.env.BENCH_SIZES || SIZES.includes(s))) {
    for (const routing of ['maps', 'acl'] as const) {
      try {
        throughputRows.push(...(await throughput(size, routing)));
      } catch (error) {
        throughputRows.push({ routes: size, error: `${routing}: ${(error as Error).message}` });
        process.exitCode = 1;
      }
      write();
    }
  }
  await eachSize('route-maps', runtimeChanges, (rows) => {
    runtimeRows = rows;
    write();
  });
}

runScenario('route-maps', main);
