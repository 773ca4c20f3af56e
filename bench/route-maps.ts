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
import { budget, Budget, countersOf, eachSize, log, runScenario, since, SIZES, summarize, Summary, untilBackend, withCleanUps, writeResult } from './measure';
import { fillerRoutes, Params } from './routes';
import { keepLogsOnFailure, reconfigure, startLoadedSidecar } from './sidecars';
import type { RunningSidecar } from '../test/helpers/sidecar';

/**
 * Map-based routing (issue 15), two figures:
 * 1. Request throughput through HAProxy alone at 10 and 10,000 routes, for the route first and
 *    the route last in the rule order, with the shipped templates (plain routes in maps) and with
 *    the same templates stripped of their map blocks (one ACL per route, as before the maps).
 *    The two routes answer from HAProxy itself (`http-request return` in their backend), so the
 *    figure is HAProxy's routing, not a test backend's speed. autocannon, 8 connections,
 *    keep-alive, LOAD_SECONDS each, ROUNDS rounds interleaved (the median counts).
 * 2. Reconfigure-to-live of a change that only moves map entries (the probe's path changes:
 *    the config stays, the Runtime API changes the maps): `/reconfigure` until a request through
 *    HAProxy reaches the probe on its new path, at every size; reloads counted (expected 0: one
 *    untimed change first makes the loaded probe a plain route, which reloads). Then the same
 *    for a change of the probe's host (serviceDomain), timed until a request with the new Host
 *    header reaches it.
 *
 * BENCH_ROUTE_MAPS=changes runs only part 2 (BENCH_ROUTE_MAPS=throughput only part 1).
 * Writes route-maps.json.
 */

const LOAD_SECONDS = 4;
const ROUNDS = 3;
const CONNECTIONS = 8;
const THROUGHPUT_SIZES = [10, 10000];
const CHANGES: Budget = { count: 100, capMs: 60000 };
const CHANGES_AT_10000: Budget = { count: 100, capMs: 120000 };
/** Which parts run: both unless BENCH_ROUTE_MAPS names one (`throughput` or `changes`). */
const PARTS = process.env.BENCH_ROUTE_MAPS ? process.env.BENCH_ROUTE_MAPS.split(',') : ['throughput', 'changes'];

interface ThroughputRow {
  readonly routes: number;
  readonly routing: 'maps' | 'acl';
  readonly route: 'first' | 'last';
  /** The median of the rounds. */
  readonly requestsPerSecond: number;
  readonly samples: readonly number[];
  readonly non2xx: number;
  readonly errors: number;
}

interface RuntimeRow {
  readonly routes: number;
  /** Path changes. */
  readonly liveMs: Summary;
  readonly reloads: number;
  readonly runtimeApplies: number;
  /** Host (serviceDomain) changes, after the path changes. */
  readonly host: { readonly liveMs: Summary; readonly reloads: number; readonly runtimeApplies: number };
}

/** One kind of timed change: the route's parameters for change `i` and the request that shows it live. */
interface ChangeKind {
  readonly name: string;
  readonly params: (i: number) => Params;
  readonly probe: (i: number) => { readonly path: string; readonly headers: Record<string, string> };
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

interface RunningRouting {
  readonly routes: number;
  readonly routing: 'maps' | 'acl';
  readonly port: number;
  readonly stop: () => Promise<void>;
}

async function startRouting(size: number, routing: 'maps' | 'acl'): Promise<RunningRouting> {
  const port = await freePort();
  const settings = loadSettings({ BIND_ADDRESS: '127.0.0.1', DEFAULT_PORTS: String(port), STATE_DIR: tempDir('bench-maps-') });
  const routes = [...fillerRoutes(size - 2), answering('aaa-first', '/first'), answering('zzz-last', '/last')].map(parseRoute);
  const rendered = loadTemplates(routing === 'maps' ? SHIPPED_TEMPLATES : aclTemplatesDir()).renderWithProblems(routes, settings);
  for (const map of rendered.maps) fs.writeFileSync(map.file, mapText(map.entries));
  const haproxy = await startHaproxy(rendered.config);
  return { routes: size, routing, port, stop: () => haproxy.stop() };
}

interface Sample {
  readonly requestsPerSecond: number;
  readonly non2xx: number;
  readonly errors: number;
}

async function sample(port: number, route: 'first' | 'last'): Promise<Sample> {
  const load = await startLoad(`http://127.0.0.1:${port}/${route}`, CONNECTIONS, LOAD_SECONDS);
  await sleep(LOAD_SECONDS * 1000 + 500);
  const result = await load.finish();
  return { requestsPerSecond: Math.round((result.requests * 1000) / Math.max(1, result.durationMs)), non2xx: result.non2xx, errors: result.errors };
}

/**
 * Every routing at every size runs at once, and each round measures each of them once in turn:
 * the machine is shared, so a figure taken minutes after another differs by more than routing
 * does. The row is the median of the rounds; `samples` keeps them all.
 */
async function throughput(sizes: readonly number[]): Promise<ThroughputRow[]> {
  const running: RunningRouting[] = [];
  try {
    for (const size of sizes) for (const routing of ['maps', 'acl'] as const) running.push(await startRouting(size, routing));
    const taken = new Map<string, Sample[]>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const target of running) {
        for (const route of ['first', 'last'] as const) {
          const key = `${target.routes} ${target.routing} ${route}`;
          const one = await sample(target.port, route);
          const counts = `${one.non2xx} non-2xx, ${one.errors} errors`;
          log(`throughput ${target.routing} at ${target.routes} routes, ${route} route, round ${round}: ${one.requestsPerSecond} requests/s (${counts})`);
          taken.set(key, [...(taken.get(key) ?? []), one]);
        }
      }
    }
    return running.flatMap((target) =>
      (['first', 'last'] as const).map((route) => {
        const samples = taken.get(`${target.routes} ${target.routing} ${route}`) ?? [];
        return {
          routes: target.routes,
          routing: target.routing,
          route,
          requestsPerSecond: summarize(samples.map((x) => x.requestsPerSecond)).p50,
          samples: samples.map((x) => x.requestsPerSecond),
          non2xx: samples.reduce((sum, x) => sum + x.non2xx, 0),
          errors: samples.reduce((sum, x) => sum + x.errors, 0),
        };
      }),
    );
  } finally {
    for (const target of running) await target.stop();
  }
}

async function runtimeChanges(size: number): Promise<RuntimeRow> {
  return withCleanUps(async (cleanUps) => {
    const backend = cleanUps.add(await startBackend('maps-probe'));
    const { sidecar } = await startLoadedSidecar(size, backend, cleanUps);
    const plain = { serviceName: 'probe', port: String(backend.port), outboundHostname: '127.0.0.1' };
    const pathKind: ChangeKind = {
      name: 'path',
      params: (i) => ({ ...plain, servicePath: `/probe-${i}` }),
      probe: (i) => ({ path: `/probe-${i}/x`, headers: {} }),
    };
    const hostKind: ChangeKind = {
      name: 'host',
      params: (i) => ({ ...plain, servicePath: '/probe', serviceDomain: `probe-${i}.example.com` }),
      probe: (i) => ({ path: '/probe/x', headers: { Host: `probe-${i}.example.com` } }),
    };
    const paths = await timedChanges(size, sidecar, backend.name, pathKind);
    const hosts = await timedChanges(size, sidecar, backend.name, hostKind);
    return { routes: size, ...paths, host: hosts };
  });
}

/**
 * One untimed change of `kind` first: the loaded probe has headers and more (bench/routes.ts), and
 * making it a plain route (or giving it its first domain) changes its backend or ACLs, which is a
 * reload. Every timed change after it moves map entries only.
 */
async function timedChanges(
  size: number,
  sidecar: RunningSidecar,
  backendName: string,
  kind: ChangeKind,
): Promise<{ liveMs: Summary; reloads: number; runtimeApplies: number }> {
  const limit = budget(size, CHANGES, CHANGES_AT_10000);
  const live = async (i: number, started: number): Promise<number> => {
    const probe = kind.probe(i);
    return untilBackend(`${sidecar.proxy}${probe.path}`, backendName, 30000, started, probe.headers);
  };
  await reconfigure(sidecar, kind.params(0));
  await live(0, performance.now());
  const before = await countersOf(sidecar.api);
  const liveMs: number[] = [];
  const started = performance.now();
  await keepLogsOnFailure('route-maps', size, [sidecar], async () => {
    for (let i = 1; i <= limit.count && since(started) < limit.capMs; i++) {
      const changeStarted = performance.now();
      await reconfigure(sidecar, kind.params(i));
      liveMs.push(await live(i, changeStarted));
    }
  });
  const after = await countersOf(sidecar.api);
  const row = {
    liveMs: summarize(liveMs),
    reloads: after.reloads - before.reloads,
    runtimeApplies: after.runtimeApplies - before.runtimeApplies,
  };
  const figures = `live p50 ${row.liveMs.p50} p99 ${row.liveMs.p99} ms, ${row.reloads} reloads`;
  log(`runtime ${kind.name} change at ${size} routes: ${row.liveMs.count} changes, ${figures}`);
  return row;
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
  const sizes = THROUGHPUT_SIZES.filter((s) => !process.env.BENCH_SIZES || SIZES.includes(s));
  if (PARTS.includes('throughput')) {
    try {
      throughputRows.push(...(await throughput(sizes)));
    } catch (error) {
      throughputRows.push(...sizes.map((routes) => ({ routes, error: (error as Error).message })));
      process.exitCode = 1;
    }
    write();
  }
  if (!PARTS.includes('changes')) return;
  await eachSize('route-maps', runtimeChanges, (rows) => {
    runtimeRows = rows;
    write();
  });
}

runScenario('route-maps', main);
