import * as fs from 'fs';
import * as path from 'path';
import { request } from '../test/helpers/backends';
import { sleep } from '../test/helpers/ports';
import { removeTempDirs } from '../test/helpers/tmp';

/**
 * What every scenario shares: sizes and budgets (BENCH_QUICK=1 for a smoke run), percentiles,
 * "poll until HAProxy answers from this backend", /metrics parsing, and writing results.
 */

const QUICK = process.env.BENCH_QUICK === '1';

/** Route counts every scenario runs at; BENCH_SIZES=10000 (comma-separated) to rerun some. */
export const SIZES: readonly number[] = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(',').map(Number) : QUICK ? [10, 200] : [10, 1000, 10000];

/** How many timed changes at one size, and the wall-clock cap that may cut them short. */
export interface Budget {
  readonly count: number;
  readonly capMs: number;
}

/**
 * The big sizes are capped in time so the whole run stays near 15 minutes on two cores: at
 * 10,000 routes every change costs seconds of `haproxy -c` and reload (see the floor).
 */
export function budget(size: number, full: Budget, large: Budget): Budget {
  if (QUICK) return { count: Math.min(full.count, 20), capMs: 20000 };
  return size >= 10000 ? large : full;
}

export interface Summary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentile: with fewer than 100 samples, p99 is the maximum. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

const round = (value: number): number => Math.round(value * 10) / 10;

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, v) => sum + v, 0) / Math.max(1, sorted.length);
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? NaN),
    mean: round(mean),
  };
}

export function median(values: readonly number[]): number {
  return summarize(values).p50;
}

/** Milliseconds since `started` (a performance.now() reading). */
export function since(started: number): number {
  return performance.now() - started;
}

/**
 * Poll `url` through HAProxy until the answer comes from backend `name`; the time it took in ms.
 * A fresh connection per try (no keep-alive), so every try sees the newest worker; `headers` go with every try (a Host).
 */
export async function untilBackend(
  url: string,
  name: string,
  timeoutMs: number,
  started = performance.now(),
  headers: Record<string, string> = {},
): Promise<number> {
  const deadline = started + timeoutMs;
  let last = 'no answer yet';
  while (performance.now() < deadline) {
    try {
      const answer = await request(url, { timeoutMs: 2000, headers });
      if (answer.backend === name) return since(started);
      last = `${answer.status} from ${answer.backend ?? 'HAProxy'}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(2);
  }
  throw new Error(`${url} did not reach backend ${name} within ${timeoutMs} ms (last: ${last})`);
}

/** One sample of a Prometheus text exposition, e.g. ('x_total', {outcome: 'success'}). */
export function metricValue(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const labelText = match[2] ?? '';
    if (wanted.every((pair) => labelText.includes(pair))) return Number(match[3]);
  }
  return undefined;
}

/** The sidecar's /metrics text. */
export async function metricsOf(api: string): Promise<string> {
  const answer = await request(`${api}/metrics`, { timeoutMs: 5000 });
  if (answer.status !== 200) throw new Error(`${api}/metrics answered ${answer.status}`);
  return answer.body;
}

export interface SidecarCounters {
  readonly reloads: number;
  /** Applies that changed HAProxy through the Runtime API alone (map entries, server addresses), without a reload. */
  readonly runtimeApplies: number;
  /** Applies whose reload failed (and were rolled back to the last-known-good config). */
  readonly failedReloads: number;
  readonly rssBytes: number;
  /** The V8 heap in use: what of the RSS is live JavaScript objects (the rest: code, buffers, free heap). */
  readonly heapUsedBytes: number;
  /** Applies (render, check, reload) that changed HAProxy, and the seconds they took in all. */
  readonly applies: number;
  readonly applySeconds: number;
  /** Node's own CPU time (user + system, prom-client reads it with process.cpuUsage()). */
  readonly cpuSeconds: number;
  /** Rendered configs whose `haproxy -c` verdict the checked-config cache already had, and did not. */
  readonly checkCacheHits: number;
  readonly checkCacheMisses: number;
}

export async function countersOf(api: string): Promise<SidecarCounters> {
  const text = await metricsOf(api);
  return {
    reloads: metricValue(text, 'haproxy_sidecar_reloads_total', { outcome: 'success' }) ?? NaN,
    runtimeApplies: metricValue(text, 'haproxy_sidecar_reloads_total', { outcome: 'runtime' }) ?? NaN,
    failedReloads: metricValue(text, 'haproxy_sidecar_reloads_total', { outcome: 'failed' }) ?? NaN,
    rssBytes: metricValue(text, 'haproxy_sidecar_process_resident_memory_bytes') ?? NaN,
    heapUsedBytes: metricValue(text, 'haproxy_sidecar_nodejs_heap_size_used_bytes') ?? NaN,
    applies: metricValue(text, 'haproxy_sidecar_reload_duration_seconds_count') ?? NaN,
    applySeconds: metricValue(text, 'haproxy_sidecar_reload_duration_seconds_sum') ?? NaN,
    cpuSeconds: metricValue(text, 'haproxy_sidecar_process_cpu_seconds_total') ?? NaN,
    checkCacheHits: metricValue(text, 'haproxy_sidecar_check_cache_total', { result: 'hit' }) ?? NaN,
    checkCacheMisses: metricValue(text, 'haproxy_sidecar_check_cache_total', { result: 'miss' }) ?? NaN,
  };
}

export interface CacheUse {
  readonly hits: number;
  readonly misses: number;
  /** hits / (hits + misses); NaN when the sidecar has no such counter or nothing was looked up. */
  readonly hitRate: number;
}

/** The checked-config cache's use between two readings (summed over instances). */
export function cacheUse(before: readonly SidecarCounters[], after: readonly SidecarCounters[]): CacheUse {
  const hits = after.reduce((sum, a, i) => sum + a.checkCacheHits - before[i].checkCacheHits, 0);
  const misses = after.reduce((sum, a, i) => sum + a.checkCacheMisses - before[i].checkCacheMisses, 0);
  return { hits, misses, hitRate: hits + misses > 0 ? Math.round((hits / (hits + misses)) * 1000) / 1000 : NaN };
}

/** The mean time of one apply between two readings, in ms: the applier's share of a change. */
export function meanApplyMs(before: SidecarCounters, after: SidecarCounters): number {
  const applies = after.applies - before.applies;
  return applies > 0 ? Math.round(((after.applySeconds - before.applySeconds) * 1000) / applies) : NaN;
}

/** Where results go: BENCH_RESULTS_DIR (set by scripts/run-bench.js) or bench/results. */
export function resultsDir(): string {
  // Compiled into .cache/bench/bench, three levels below the repository root.
  return process.env.BENCH_RESULTS_DIR ?? path.resolve(__dirname, '..', '..', '..', 'bench', 'results');
}

export function writeResult(scenario: string, report: object): void {
  const dir = resultsDir();
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${scenario}.json`), `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${path.join(dir, `${scenario}.json`)}`);
}

export function log(message: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
}

/** A size whose run threw: the row says why instead of giving figures. */
export interface FailedSize {
  readonly routes: number;
  readonly error: string;
}

/**
 * Run `atSize` at every size. A size that fails is recorded as a FailedSize and the next size
 * still runs; `write` gets the rows after every size, so an interrupted run keeps what it measured.
 */
export async function eachSize<T>(
  name: string,
  atSize: (size: number) => Promise<T>,
  write: (rows: readonly (T | FailedSize)[]) => void,
  sizes: readonly number[] = SIZES,
): Promise<void> {
  const rows: (T | FailedSize)[] = [];
  for (const size of sizes) {
    try {
      rows.push(await atSize(size));
    } catch (error) {
      console.error(`${name} at ${size} routes failed: ${(error as Error).stack ?? String(error)}`);
      rows.push({ routes: size, error: (error as Error).message });
      process.exitCode = 1;
    }
    write(rows);
  }
}

/** Run a scenario's main; exit non-zero on failure, and remove temporary directories either way. */
export function runScenario(name: string, main: () => Promise<void>): void {
  main()
    .catch((error: Error) => {
      console.error(`${name} failed: ${error.stack ?? error.message}`);
      process.exitCode = 1;
    })
    .finally(() => removeTempDirs());
}

/** Run `work` and then stop everything it registered, even when it throws. */
export async function withCleanUps<T>(work: (cleanUps: CleanUps) => Promise<T>): Promise<T> {
  const cleanUps = new CleanUps();
  try {
    return await work(cleanUps);
  } finally {
    await cleanUps.run();
  }
}

/** Stop functions, run last-in first-out; one failing does not skip the others. */
export class CleanUps {
  private readonly stops: (() => Promise<void>)[] = [];

  add<T extends { stop(): Promise<void> } | { close(): Promise<void> }>(thing: T): T {
    this.stops.push(() => ('stop' in thing ? thing.stop() : thing.close()));
    return thing;
  }

  async run(): Promise<void> {
    for (const stop of this.stops.splice(0).reverse()) {
      await stop().catch((error: Error) => console.error(`clean-up: ${error.message}`));
    }
  }
}
