// The functions handed to page.evaluate run in the browser: they need the DOM types.
/// <reference lib="dom" />
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import type { Browser, Page } from 'playwright-core';
import { startBackend } from '../test/helpers/backends';
import { launchChromium } from '../test/helpers/browser';
import { startConsulDev } from '../test/helpers/consul';
import { startDnsmasq } from '../test/helpers/dnsmasq';
import { freePort, sleep } from '../test/helpers/ports';
import { REPO_ROOT } from '../test/helpers/sidecar';
import { tempDir } from '../test/helpers/tmp';
import { ROUTES_PER_PAGE } from '../ui/limits';
import { eachSize, log, runScenario, summarize, withCleanUps, writeResult } from './measure';
import type { DashboardRow } from './result-types';
import { writeConsulStore } from './routes';
import { startAndLoad, storeContents } from './sidecars';

/**
 * The fleet dashboard at 1,000 routes (BENCH_SIZES for others): three sidecars (127.0.0.2-4) on one
 * Consul dev agent, found through dnsmasq's tasks.proxy, and Debian's chromium driven by
 * playwright-core. Measures the fleet endpoint, a fresh page until the routes table holds every
 * route (its first page, and the count of all), the filter box, and the main thread's long tasks
 * while the page polls.
 *
 * Build: npx tsc -p tsconfig.bench.json; run: node .cache/bench/bench/dashboard.js. Writes dashboard.json.
 */

const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const SIZES = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(',').map(Number) : process.env.BENCH_QUICK === '1' ? [200] : [1000];
const FLEET_REQUESTS = 20;
const PAGE_LOADS = 10;
const FILTERS = 10;
const POLLING_MS = 10000;

async function timeFleet(api: string): Promise<{ ms: number[]; bytes: number }> {
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < FLEET_REQUESTS; i++) {
    const started = performance.now();
    const response = await fetch(`${api}/v1/docker-flow-proxy/fleet`, { signal: AbortSignal.timeout(30000) });
    const body = await response.text();
    ms.push(performance.now() - started);
    if (response.status !== 200) throw new Error(`fleet answered ${response.status}: ${body.slice(0, 200)}`);
    bytes = Buffer.byteLength(body);
  }
  return { ms, bytes };
}

/** Rows the routes table shows at once (ui/views.ts ROUTES_PER_PAGE), out of `size`. */
const firstPage = (size: number) => Math.min(size, ROUTES_PER_PAGE);

/**
 * In-page: milliseconds since navigation start when the routes table first shows its first page
 * and counts all `size` routes (the whole fleet answer is in and rendered).
 */
function rowsRendered(page: Page, size: number): Promise<number> {
  return page
    .waitForFunction(
      ([rows, total]) =>
        document.querySelectorAll('#routes tbody tr').length === rows &&
        (document.getElementById('routes-shown')?.textContent ?? '').includes(`of ${total}`) &&
        performance.now(),
      [firstPage(size), size] as const,
      { timeout: 60000, polling: 'raf' },
    )
    .then((handle) => handle.jsonValue() as Promise<number>)
    .catch(async (error: unknown) => {
      // Say what the page showed instead: a count that never matches is a bench or page bug.
      const shown = await page
        .evaluate(() => {
          const count = document.getElementById('routes-shown')?.textContent ?? '(no count)';
          return `${document.querySelectorAll('#routes tbody tr').length} rows, "${count}"`;
        })
        .catch(() => '(page gone)');
      throw new Error(`the routes table never showed ${firstPage(size)} rows of ${size} (it shows ${shown}): ${String(error)}`);
    });
}

/** In-page: when the first request to the fleet endpoint started, and when its answer was in (ms since navigation start). */
function fleetTiming(page: Page): Promise<{ start: number; end: number }> {
  return page.evaluate(() => {
    const entry = performance.getEntriesByType('resource').find((e) => e.name.endsWith('/v1/docker-flow-proxy/fleet'));
    return entry ? { start: entry.startTime, end: (entry as PerformanceResourceTiming).responseEnd } : { start: NaN, end: NaN };
  });
}

interface PageLoads {
  readonly inPage: number[];
  readonly fromGoto: number[];
  readonly fleetAsked: number[];
  readonly fleetArrived: number[];
  readonly afterFleet: number[];
}

async function timePageLoads(browser: Browser, url: string, rows: number): Promise<PageLoads> {
  const loads: PageLoads = { inPage: [], fromGoto: [], fleetAsked: [], fleetArrived: [], afterFleet: [] };
  for (let i = 0; i < PAGE_LOADS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const started = performance.now();
    await page.goto(url);
    const rendered = await rowsRendered(page, rows);
    loads.fromGoto.push(performance.now() - started);
    const fleet = await fleetTiming(page);
    loads.inPage.push(rendered);
    loads.fleetAsked.push(fleet.start);
    loads.fleetArrived.push(fleet.end);
    loads.afterFleet.push(rendered - fleet.end);
    await context.close();
  }
  return loads;
}

/** In-page: type a filter that leaves one row, then clear it, each timed until the table shows it. */
async function timeFilters(page: Page, size: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < FILTERS; i++) {
    const [value, expected] = i % 2 === 0 ? ['probe', 1] : ['', firstPage(size)];
    times.push(
      await page.evaluate(
        ([text, rows]) =>
          new Promise<number>((resolve) => {
            const input = document.querySelector<HTMLInputElement>('input[type="search"]');
            if (!input) throw new Error('no filter box');
            const started = performance.now();
            input.value = text;
            input.dispatchEvent(new Event('input', { bubbles: true }));
            const check = () => {
              if (document.querySelectorAll('#routes tbody tr').length === rows) resolve(performance.now() - started);
              else requestAnimationFrame(check);
            };
            requestAnimationFrame(check);
          }),
        [value, expected] as const,
      ),
    );
  }
  return times;
}

/** Long tasks (over 50 ms) on the page's main thread while it polls the fleet for POLLING_MS. */
async function watchPolling(browser: Browser, url: string, rows: number): Promise<{ longest: number; count: number; polls: number }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.addInitScript(() => {
    const seen: number[] = [];
    (window as unknown as { longTasks: number[] }).longTasks = seen;
    new PerformanceObserver((list) => list.getEntries().forEach((entry) => seen.push(entry.duration))).observe({ type: 'longtask', buffered: true });
  });
  let polls = 0;
  page.on('response', (response) => {
    if (response.url().endsWith('/v1/docker-flow-proxy/fleet')) polls++;
  });
  await page.goto(url);
  await rowsRendered(page, rows);
  // Only the polling: the first load's tasks are in the page-load figure.
  await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks.splice(0));
  polls = 0;
  await sleep(POLLING_MS);
  const tasks = await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);
  await context.close();
  return { longest: Math.round(Math.max(0, ...tasks)), count: tasks.length, polls };
}

function bundleSizes(): { bytes: number; gzip: number } {
  const bundle = fs.readFileSync(path.join(REPO_ROOT, 'dist', 'ui', 'app.js'));
  return { bytes: bundle.length, gzip: zlib.gzipSync(bundle).length };
}

async function atSize(size: number): Promise<DashboardRow> {
  return withCleanUps(async (cleanUps) => {
    const loadBefore = os.loadavg().map((l) => Math.round(l * 10) / 10);
    const backend = cleanUps.add(await startBackend('dash'));
    const consul = cleanUps.add(await startConsulDev());
    const dns = cleanUps.add(await startDnsmasq({ 'tasks.proxy': HOSTS }));
    await writeConsulStore(consul.address, storeContents(size, backend));
    const apiPort = await freePort(HOSTS[0]);
    const httpPort = await freePort(HOSTS[0]);
    const env = { CONSUL_ADDRESS: consul.address, DNS_SERVER: dns.address, SERVICE_NAME: 'proxy' };
    const loaded = await Promise.all(HOSTS.map((host) => startAndLoad(backend, cleanUps, { host, apiPort, httpPort, stateDir: tempDir('bench-dash-'), env })));
    const api = loaded[0].sidecar.api;
    const browser = await launchChromium();
    cleanUps.add(browser);
    const fleet = await timeFleet(api);
    const pages = await timePageLoads(browser, `${api}/ui/`, size);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${api}/ui/`);
    await rowsRendered(page, size);
    const filterMs = await timeFilters(page, size);
    await context.close();
    const polling = await watchPolling(browser, `${api}/ui/`, size);
    const bundle = bundleSizes();
    const row: DashboardRow = {
      routes: size,
      fleetMs: summarize(fleet.ms),
      fleetBytes: fleet.bytes,
      pageRenderedMs: summarize(pages.inPage),
      pageRenderedFromGotoMs: summarize(pages.fromGoto),
      fleetAskedMs: summarize(pages.fleetAsked),
      fleetArrivedMs: summarize(pages.fleetArrived),
      renderAfterFleetMs: summarize(pages.afterFleet),
      filterMs: summarize(filterMs),
      longestTaskMs: polling.longest,
      longTasks: polling.count,
      polls: polling.polls,
      bundleBytes: bundle.bytes,
      bundleGzipBytes: bundle.gzip,
      loadAverage: { before: loadBefore, after: os.loadavg().map((l) => Math.round(l * 10) / 10) },
    };
    log(
      `dashboard at ${size} routes: page rendered p50 ${row.pageRenderedMs.p50} / p99 ${row.pageRenderedMs.p99} ms ` +
        `(fleet asked at p50 ${row.fleetAskedMs.p50} ms, answer in at p50 ${row.fleetArrivedMs.p50} ms, ` +
        `rendered p50 ${row.renderAfterFleetMs.p50} ms after it), ` +
        `fleet p50 ${row.fleetMs.p50} ms (${fleet.bytes} bytes), filter p50 ${row.filterMs.p50} ms, longest task while polling ${row.longestTaskMs} ms; ` +
        `load ${row.loadAverage.before.join(' ')} -> ${row.loadAverage.after.join(' ')}`,
    );
    return row;
  });
}

async function main(): Promise<void> {
  await eachSize(
    'dashboard',
    atSize,
    (results) =>
      writeResult('dashboard', {
        scenario: 'fleet dashboard page with three replicas',
        node: process.version,
        cpus: os.cpus().length,
        instances: HOSTS,
        target: 'the page renders every route well under a second at 1,000 routes',
        results,
      }),
    SIZES,
  );
}

runScenario('dashboard', main);
