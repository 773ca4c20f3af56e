import * as fs from 'fs';
import * as path from 'path';
import type { FloorResult } from './floor';
import { CacheUse, FailedSize, resultsDir, Summary } from './measure';
import { plotLatency, Series } from './plot';
import type { BurstRow, KeepAliveRow, KvEditRow, KvFleetRow, KvFleetSeries, ReconfigureRow } from './result-types';

/**
 * Turn the scenario JSON files of one run into bench/results/SUMMARY.md (every figure also as a
 * ratio to the HAProxy floor of the same run, and each target marked met or not) and
 * bench/results/latency.svg. Missing scenarios are listed as missing, not guessed.
 */

interface RenderRow {
  readonly routes: number;
  readonly medianMs: number;
}

interface Machine {
  readonly date: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly haproxy: string;
  readonly quick: boolean;
  /** BENCH_NOTE: what else ran on the machine, e.g. that it was shared. */
  readonly note?: string;
}

interface RunRecord {
  readonly scenario: string;
  readonly status: string;
  readonly seconds: number;
}

/** What bench/reload.ts (a colleague's) writes to reload.json. */
interface ReloadUnderLoad {
  readonly reloads: number;
  readonly outcomes: Readonly<Record<string, number>>;
  readonly reloadsMs: number;
  readonly requests: number;
  readonly failed: number;
  readonly failedBreakdown: Readonly<Record<string, number>>;
  readonly applyMs: { readonly p50: number; readonly p95: number; readonly max: number };
  readonly floor: { readonly configBytes: number; readonly checkMs: { readonly p50: number }; readonly reloadMs: { readonly p50: number } };
}

interface RouteMapsResult {
  readonly throughput: readonly (
    | {
        readonly routes: number;
        readonly routing: 'maps' | 'acl';
        readonly route: 'first' | 'last';
        readonly requestsPerSecond: number;
        /** Each round's figure (runs before the rounds had one figure only). */
        readonly samples?: readonly number[];
        readonly non2xx: number;
        readonly errors: number;
      }
    | FailedSize
  )[];
  readonly runtimeChange: readonly (
    | (RuntimeChanges & {
        readonly routes: number;
        /** Host changes (runs before 2026-12-06 05:30 UTC measured path changes only). */
        readonly host?: RuntimeChanges;
      })
    | FailedSize
  )[];
}

interface RuntimeChanges {
  readonly liveMs: Summary;
  readonly reloads: number;
  readonly runtimeApplies: number;
}

interface CertChangeRow {
  readonly certs: number;
  readonly certChangeMs: Summary;
  readonly routeChangeMs: Summary;
  readonly reloadsDuringCertChanges: readonly number[];
  readonly runtimeChangesPerInstance: readonly number[];
}

interface DashboardRow {
  readonly routes: number;
  readonly fleetMs: Summary;
  readonly fleetBytes: number;
  readonly pageRenderedMs: Summary;
  readonly filterMs: Summary;
  readonly longestTaskMs: number;
}

function readJson<T>(name: string): T | undefined {
  const file = path.join(resultsDir(), `${name}.json`);
  if (!fs.existsSync(file)) return undefined;
  const value: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
  return value as T;
}

type Rows<T> = { results: (T | FailedSize)[] };

/** The rows with figures; sizes that failed are listed by failures(). */
function rowsOf<T extends object>(name: string): T[] {
  return (readJson<Rows<T>>(name)?.results ?? []).filter((row): row is T => !('error' in row));
}

type FleetVariant = 'runtime' | 'reload';
type FleetSeriesRow = KvFleetSeries & { readonly routes: number; readonly variant: FleetVariant };

/** One series of every kv-fleet row that has it: the reload series is the row's own figures, the runtime one its `runtime`. */
function fleetSeries(rows: readonly KvFleetRow[], variant: FleetVariant): FleetSeriesRow[] {
  return rows.flatMap((row) => {
    const series = variant === 'runtime' ? row.runtime : row.allLiveMs ? (row as KvFleetRow & KvFleetSeries) : undefined;
    return series ? [{ ...series, routes: row.routes, variant }] : [];
  });
}

function failures(names: readonly string[]): string[] {
  return names.flatMap((name) =>
    (readJson<Rows<object>>(name)?.results ?? [])
      .filter((row): row is FailedSize => 'error' in row)
      .map((row) => `${name} at ${row.routes} routes: ${row.error}`),
  );
}

const ms = (value: number | null | undefined): string =>
  value === undefined || value === null || Number.isNaN(value)
    ? '—'
    : value === Infinity
      ? 'never (see failures)'
      : value >= 100
        ? `${Math.round(value)}`
        : value.toFixed(1);
const ratio = (value: number | undefined, floor: number | undefined): string =>
  value === undefined || floor === undefined || !(floor > 0) ? '—' : `${(value / floor).toFixed(2)}×`;
const mib = (bytes: number | undefined): string => (bytes === undefined || Number.isNaN(bytes) ? '—' : `${(bytes / 1048576).toFixed(0)} MiB`);
const hitRate = (cache: CacheUse | undefined): string => {
  if (!cache || cache.hits === null || cache.misses === null || Number.isNaN(cache.hits) || Number.isNaN(cache.misses)) return '—';
  const total = cache.hits + cache.misses;
  return total > 0 ? `${((cache.hits / total) * 100).toFixed(0)}% (${cache.hits}/${total})` : '0 lookups';
};
const mark = (met: boolean | undefined): string => (met === undefined ? 'not measured' : met ? '**met**' : '**not met**');

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function section(title: string, description: string, header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [title, description, '', table(header, rows)].join('\n');
}

class Report {
  readonly floors = rowsOf<FloorResult>('floor');
  readonly reconfigure = rowsOf<ReconfigureRow>('reconfigure');
  readonly kv = rowsOf<KvEditRow>('kv-edit');
  /** kv-fleet's reload series (a new config each edit) and its runtime series (map entries only). */
  readonly fleet = fleetSeries(rowsOf<KvFleetRow>('kv-fleet'), 'reload');
  readonly fleetRuntime = fleetSeries(rowsOf<KvFleetRow>('kv-fleet'), 'runtime');
  readonly burst = rowsOf<BurstRow>('burst');
  readonly render = rowsOf<RenderRow>('render');
  readonly machine = readJson<Machine>('machine');
  readonly runs = readJson<{ scenarios: RunRecord[] }>('run')?.scenarios ?? [];
  readonly reload = readJson<ReloadUnderLoad>('reload');
  readonly routeMaps = readJson<RouteMapsResult>('route-maps');
  readonly certs = rowsOf<CertChangeRow>('cert-change');
  readonly dashboard = rowsOf<DashboardRow>('dashboard');
  readonly keepAlive = rowsOf<KeepAliveRow>('keepalive');

  floor(routes: number): FloorResult | undefined {
    return this.floors.find((f) => f.routes === routes);
  }

  at<T extends { routes: number }>(rows: readonly T[], routes: number): T | undefined {
    return rows.find((r) => r.routes === routes);
  }

  largest(): number {
    return Math.max(0, ...this.floors.map((f) => f.routes));
  }
}

function machineSection(report: Report): string {
  const m = report.machine;
  const lines = m
    ? [
        `Run ${m.date}${m.quick ? ' (BENCH_QUICK=1: smoke sizes, not comparable)' : ''} on ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ` +
          `${m.kernel}, Node ${m.node}, ${m.haproxy}.`,
      ]
    : ['Machine not recorded.'];
  if (m?.note) lines.push('', `**Note:** ${m.note}`);
  if (report.runs.length > 0) lines.push('', `Scenario runs: ${report.runs.map((r) => `${r.scenario} ${r.status} in ${r.seconds} s`).join('; ')}.`);
  const stopped = [
    ...report.kv.filter((k) => k.stoppedBy).map((k) => `kv-edit at ${k.routes} routes stopped after ${k.edits} edits: ${k.stoppedBy}`),
    ...[...report.fleetRuntime, ...report.fleet]
      .filter((k) => k.stoppedBy)
      .map((k) => `kv-fleet (${k.variant}) at ${k.routes} routes stopped after ${k.allLiveMs.count} edits: ${k.stoppedBy}`),
  ];
  const failed = [...failures(['reconfigure', 'floor', 'kv-edit', 'kv-fleet', 'burst']), ...stopped];
  if (failed.length > 0) lines.push('', "**Failures** (the sidecars' output is kept as `<scenario>-<size>-<host>.log`):", '', ...failed.map((f) => `- ${f}`));
  return lines.join('\n');
}

function floorSection(report: Report): string {
  const rows = report.floors.map((f) => [
    String(f.routes),
    `${(f.configBytes / 1024).toFixed(0)} KiB`,
    ms(f.checkMs.p50),
    ms(f.reloadToLiveMs.p50),
    ms(f.floorMs.p50),
    ms(f.floorMs.p99),
    String(f.floorMs.count),
  ]);
  return section(
    '## HAProxy floor (no sidecar)',
    '`haproxy -c` on the full config, then a master-worker reload through the master CLI, until a request through HAProxy reaches the new ' +
      'backend. Every ratio below divides by this, percentile by percentile (p50 by p50, p99 by p99).',
    ['routes', 'config', 'haproxy -c p50 ms', 'reload→live p50 ms', 'floor p50 ms', 'floor p99 ms', 'samples'],
    rows,
  );
}

function reconfigureSection(report: Report): string {
  const rows = report.reconfigure.map((r) => {
    const f = report.floor(r.routes);
    return [
      String(r.routes),
      `${r.liveMs.count}${r.cutShortByCap ? ' (time cap)' : ''}`,
      ms(r.liveMs.p50),
      ms(r.liveMs.p95),
      ms(r.liveMs.p99),
      ratio(r.liveMs.p50, f?.floorMs.p50),
      ratio(r.liveMs.p99, f?.floorMs.p99),
      ms(r.meanApplyMs),
      ms(r.nodeCpuPerChangeMs),
      hitRate(r.cache),
      String(r.failedReloads),
    ];
  });
  return section(
    '## 1. Reconfigure to live',
    'One `/reconfigure` call after another, each moving `/probe` to the other of two backends (and changing a header, so every change is a ' +
      'config never seen before); timed from the call until a request through HAProxy reaches the new backend. "apply" is the applier\'s own ' +
      "render + `haproxy -c` + reload per change (from `haproxy_sidecar_reload_duration_seconds`); the rest is the API's candidate check, the " +
      'store write and the coalescing window. "Node CPU" is the sidecar process\'s user + system time per change ' +
      '(`haproxy_sidecar_process_cpu_seconds_total`, i.e. `process.cpuUsage()`); "check cache" is the checked-config cache\'s hit rate ' +
      '(`haproxy_sidecar_check_cache_total`): the API checks each candidate and the applier reuses that verdict.',
    [
      'routes',
      'changes',
      'p50 ms',
      'p95 ms',
      'p99 ms',
      'p50 / floor',
      'p99 / floor',
      'apply mean ms',
      'Node CPU ms / change',
      'check cache hits',
      'failed reloads',
    ],
    rows,
  );
}

function kvSection(report: Report): string {
  const rows = report.kv.map((r) => {
    const cpu = (c: KvEditRow['cpuPerEditMs']['ours']) => `${ms(c.controllerMs)} + ${ms(c.checkMs)} + ${ms(c.haproxyMs)}`;
    const edits = `${r.edits}${r.cutShortByCap ? ' (time cap)' : ''}${r.stoppedBy ? ' (stopped: an edit not live within 30 s)' : ''}`;
    return [
      String(r.routes),
      edits,
      `${ms(r.ours.p50)} / ${ms(r.ours.p99)}`,
      `${ms(r.peer.p50)} / ${ms(r.peer.p99)}`,
      `**${ratio(r.ours.p50, r.peer.p50)} / ${ratio(r.ours.p99, r.peer.p99)}**`,
      cpu(r.cpuPerEditMs.ours),
      cpu(r.cpuPerEditMs.peer),
      hitRate(r.cache),
      r.sameConfig ? 'yes' : '**no**',
    ];
  });
  return section(
    '## 2. Consul KV edit to live: haproxy-sidecar beside consul-template + HAProxy',
    'Each peer has its own Consul dev agent loaded with the same routes. An edit is a PUT of `docker-flow/services/probe` (to the other of two ' +
      "backends, with a header carrying the edit's number: every edit is a config never seen before), timed until a request through that peer's " +
      'HAProxy reaches the new backend. Edits alternate between the peers in the same run. The peer is consul-template v0.41.1 ' +
      '(`tools/consul-template`) rendering `bench/consul-template/haproxy.cfg.ctmpl`, whose command runs `haproxy -c` and a master CLI `reload`; ' +
      "before and after the edits its output is checked to equal the sidecar's haproxy.cfg byte for byte. CPU per edit: controller (the sidecar's " +
      'Node process, or consul-template) + what it ran (`haproxy -c`, and for the peer `sh` and `socat`) + the HAProxy master and workers, in ms.',
    [
      'routes',
      'edits per peer',
      'haproxy-sidecar p50 / p99 ms',
      'consul-template + HAProxy p50 / p99 ms',
      'ratio us / peer (p50 / p99)',
      'CPU ms per edit, ours',
      'CPU ms per edit, peer',
      'check cache hits',
      'same config',
    ],
    rows,
  );
}

function fleetSection(report: Report): string {
  const rows = [...report.fleetRuntime, ...report.fleet].map((r) => {
    const f = report.floor(r.routes);
    return [
      String(r.routes),
      r.variant === 'runtime' ? 'path only (route maps)' : 'header and backend (config)',
      `${r.allLiveMs.count}${r.cutShortByCap ? ' (time cap)' : ''}${r.stoppedBy ? ' (stopped: an edit not live on all three in time, see failures)' : ''}`,
      ms(r.allLiveMs.p50),
      ms(r.allLiveMs.p99),
      ratio(r.allLiveMs.p50, f?.floorMs.p50),
      ratio(r.allLiveMs.p99, f?.floorMs.p99),
      r.reloadsPerInstance.join(' / '),
      r.runtimeAppliesPerInstance?.join(' / ') ?? '—',
      r.cpuPerEditMs?.map(ms).join(' / ') ?? '—',
      hitRate(r.cache),
      r.failedReloadsPerInstance.join(' / '),
    ];
  });
  return section(
    '## 2b. Consul KV edit to live on three instances',
    'A PUT of `docker-flow/services/probe` to the Consul dev agent shared by sidecars on 127.0.0.2, .3 and .4, timed until all three HAProxies ' +
      'serve it (three sidecars and three HAProxies share two cores). Path only: the probe moves to a path never served before, route map ' +
      'entries through the Runtime API (reloads expected 0). Header and backend: a config never seen before each time (check and reload).',
    [
      'routes',
      'edit',
      'edits',
      'p50 ms',
      'p99 ms',
      'p50 / floor',
      'p99 / floor',
      'reloads per instance',
      'runtime applies per instance',
      'Node CPU ms per edit per instance',
      'check cache hits',
      'failed reloads per instance',
    ],
    rows,
  );
}

function burstSection(report: Report): string {
  const rows = report.burst.map((r) => {
    const f = report.floor(r.routes);
    const perChange = r.accepted > 0 ? r.burstMs / r.accepted : undefined;
    const refused =
      Object.entries(r.refused)
        .map(([status, n]) => `${n}×${status}`)
        .join(', ') || 'none';
    return [
      String(r.routes),
      `${r.accepted}/${r.attempted}${r.cutShortByCap ? ' (time cap)' : ''}`,
      refused,
      r.acceptedPerSecond.toFixed(1),
      `${r.reloads} (${r.failedReloads} failed)`,
      ms(r.burstMs),
      ms(r.allLiveAfterLastMs),
      `${r.liveAtFirstRequest}/${r.accepted}`,
      ratio(perChange, f?.floorMs.p50),
      hitRate(r.cache),
    ];
  });
  return section(
    '## 3. Burst',
    '1,000 new routes through `/reconfigure`, all 1,000 calls in flight at once, stopped at a time cap (100 s; 60 s at 10,000 routes). "all live ' +
      'after last" runs from the last 200 until every accepted route has answered through HAProxy, 64 checks in flight (the check\'s own time is ' +
      'included); "live at first request" counts the routes that answered from the new backend at the first try of that check. The ratio is the ' +
      'burst time per accepted change over the floor p50.',
    [
      'routes',
      'accepted/sent',
      'refused',
      'accepted/s',
      'reloads',
      'burst ms',
      'all live after last ms',
      'live at first request',
      'ms per change / floor',
      'check cache hits',
    ],
    rows,
  );
}

function renderSection(report: Report): string {
  const sizes = [...new Set([...report.render.map((r) => r.routes), ...report.floors.map((f) => f.routes)])].sort((a, b) => a - b);
  const rows = sizes.map((routes) => {
    const r = report.at(report.render, routes);
    const f = report.floor(routes);
    return [String(routes), ms(r?.medianMs), ms(f?.checkMs.p50), ratio(r?.medianMs, f?.floorMs.p50), ratio(f?.checkMs.p50, f?.floorMs.p50)];
  });
  return section(
    '## 4. Render and `haproxy -c`',
    "Render: `bench/render.ts` (median of 7, its own mix with TCP and SNI routes). `haproxy -c`: the floor's config above.",
    ['routes', 'render median ms', 'haproxy -c p50 ms', 'render / floor', 'check / floor'],
    rows,
  );
}

function memorySection(report: Report): string {
  const rows = report.reconfigure.map((r) => [
    String(r.routes),
    `${mib(r.rssAfterLoadBytes)} (heap ${mib(r.heapUsedAfterLoadBytes)})`,
    `${mib(r.rssAfterChangesBytes)} (heap ${mib(r.heapUsedAfterChangesBytes)})`,
    mib(report.at(report.burst, r.routes)?.rssAfterBytes),
  ]);
  return section(
    '## 5. Sidecar resident memory',
    '`haproxy_sidecar_process_resident_memory_bytes` from `/metrics` (the Node process only, not HAProxy), with the V8 heap in use ' +
      '(`haproxy_sidecar_nodejs_heap_size_used_bytes`) in brackets. Memory has no floor to divide by.',
    ['routes', 'after load', 'after the reconfigure run', 'after the burst'],
    rows,
  );
}

function reloadSection(report: Report): string {
  const title = '## 6. Requests failed during reloads under load';
  const r = report.reload;
  if (!r) return `${title}\nNot measured in this run (\`bench/reload.ts\` missing or failed).`;
  const floor = r.floor.checkMs.p50 + r.floor.reloadMs.p50;
  const breakdown = Object.entries(r.failedBreakdown)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  const outcomes = Object.entries(r.outcomes)
    .map(([kind, n]) => `${n} ${kind}`)
    .join(', ');
  return [
    title,
    '`bench/reload.ts`: the applier reloads HAProxy one change after another while autocannon (a second process, keep-alive) requests a route ' +
      'that never changes. Its floor is `haproxy -c` plus a master CLI reload of its own final config.',
    '',
    table(
      ['reloads', 'outcomes', 'requests', 'failed', 'apply p50 ms', 'apply p95 ms', 'floor p50 ms', 'apply p50 / floor'],
      [
        [
          String(r.reloads),
          outcomes,
          String(r.requests),
          `**${r.failed}** (${breakdown})`,
          ms(r.applyMs.p50),
          ms(r.applyMs.p95),
          ms(floor),
          ratio(r.applyMs.p50, floor),
        ],
      ],
    ),
  ].join('\n');
}

function routeMapsSection(report: Report): string {
  const title = '## 7. Map-based routing';
  const r = report.routeMaps;
  if (!r) return `${title}\nNot measured in this run (\`bench/route-maps.ts\` missing or failed).`;
  const throughput = r.throughput
    .filter((row): row is Exclude<(typeof r.throughput)[number], FailedSize> => !('error' in row))
    .map((row) => [
      String(row.routes),
      row.routing,
      row.route,
      String(row.requestsPerSecond),
      row.samples ? row.samples.join(', ') : '—',
      `${row.non2xx} / ${row.errors}`,
    ]);
  const runtimeRow = (routes: number, change: string, row: RuntimeChanges): string[] => [
    String(routes),
    change,
    String(row.liveMs.count),
    ms(row.liveMs.p50),
    ms(row.liveMs.p95),
    ms(row.liveMs.p99),
    String(row.reloads),
    String(row.runtimeApplies),
  ];
  const runtime = r.runtimeChange
    .filter((row): row is Exclude<(typeof r.runtimeChange)[number], FailedSize> => !('error' in row))
    .flatMap((row) => [runtimeRow(row.routes, 'path', row), ...(row.host ? [runtimeRow(row.routes, 'host', row.host)] : [])]);
  return [
    title,
    '`bench/route-maps.ts`. Throughput: HAProxy alone (no sidecar), the shipped templates (plain routes in route maps) beside the same templates ' +
      'without their map blocks (one ACL per route, as before), autocannon with 8 keep-alive connections for 4 s on the route first and the ' +
      'route last in the rule order, both answered by HAProxy itself (`http-request return`). All four HAProxies run at once and each ' +
      'round measures every one in turn (the shared machine changes more between minutes than routing does); the figure is the median of the rounds.',
    '',
    table(['routes', 'routing', 'route', 'requests/s (median)', 'rounds', 'non-2xx / errors'], throughput),
    '',
    "Runtime change: `/reconfigure` moving the probe route's path, then its host (map entries only: the config stays, the Runtime API changes the worker's " +
      'maps), timed until a request through HAProxy reaches the probe on its new path (with the new Host header); reloads counted during the changes ' +
      '(one untimed change before each kind makes the loaded probe, which has headers, a plain route, or gives it a domain: that one reloads).',
    '',
    table(['routes', 'change', 'changes', 'p50 ms', 'p95 ms', 'p99 ms', 'reloads', 'runtime applies'], runtime),
  ].join('\n');
}

function keepAliveSection(report: Report): string {
  const rows = report.keepAlive.map((k) => [
    String(k.routes),
    String(k.liveMs.count),
    `${ms(k.liveMs.p50)} / ${ms(k.liveMs.p99)}`,
    String(k.requests),
    `**${k.failed}**${k.failures.length > 0 ? ` (${k.failures.join('; ')})` : ''}`,
    String(k.reconnects),
    String(k.reloads),
    String(k.runtimeApplies),
  ]);
  return section(
    '## 7b. Keep-alive clients during runtime changes',
    '`bench/keepalive.ts`: 8 keep-alive clients (one connection each, requests one after another) on a route that never changes while ' +
      "`/reconfigure` moves another service's path 1,000 times (map entries through the Runtime API), each change timed until live; the " +
      "clients' failed requests and the connections they had to open again.",
    ['routes', 'changes', 'change live p50 / p99 ms', 'requests', 'failed', 'reconnects', 'reloads', 'runtime applies'],
    rows,
  );
}

function certSection(report: Report): string {
  const rows = report.certs.map((c) => [
    String(c.certs),
    `${ms(c.certChangeMs.p50)} / ${ms(c.certChangeMs.p99)} (${c.certChangeMs.count})`,
    c.reloadsDuringCertChanges.join(' / '),
    c.runtimeChangesPerInstance.join(' / '),
    `${ms(c.routeChangeMs.p50)} / ${ms(c.routeChangeMs.p99)} (${c.routeChangeMs.count})`,
  ]);
  return section(
    '## 8. Certificate change to live on three replicas',
    '`bench/cert-change.ts`: three sidecars on one Consul; a `PUT /certs/<name>` replacing one of the stored certificates, timed until all ' +
      'three HAProxies present the new one (through the Runtime API, no reload); beside it, a route change (check + reload) in the same fleet.',
    ['certificates', 'cert change p50 / p99 ms (changes)', 'reloads per instance', 'runtime changes per instance', 'route change p50 / p99 ms (changes)'],
    rows,
  );
}

function dashboardSection(report: Report): string {
  const rows = report.dashboard.map((d) => [
    String(d.routes),
    `${ms(d.pageRenderedMs.p50)} / ${ms(d.pageRenderedMs.max)}`,
    `${ms(d.fleetMs.p50)} / ${ms(d.fleetMs.p99)}`,
    `${(d.fleetBytes / 1024).toFixed(0)} KiB`,
    ms(d.filterMs.p50),
    ms(d.longestTaskMs),
  ]);
  return section(
    '## 9. Fleet dashboard',
    "`bench/dashboard.ts`: three replicas, Debian's Chromium; a fresh page until every route is rendered, the fleet endpoint, a filter, the " +
      'longest main-thread task while the page polls.',
    ['routes', 'page rendered p50 / max ms', 'fleet endpoint p50 / p99 ms', 'fleet answer', 'filter p50 ms', 'longest task while polling ms'],
    rows,
  );
}

/** ", not measured at 10000 routes" when a size of the run has no row here (it failed). */
function missing(report: Report, rows: readonly { routes: number }[]): string {
  const absent = report.floors.map((f) => f.routes).filter((routes) => !rows.some((r) => r.routes === routes));
  return absent.length > 0 ? `; not measured at ${absent.join(', ')} routes (failed)` : '';
}

/** A verdict from some sizes only says so. */
function partial(report: Report, rows: readonly { routes: number }[], verdict: string): string {
  return missing(report, rows) === '' ? verdict : `${verdict} at the sizes measured`;
}

/** Issue 15's figures from route-maps.json: throughput at the largest size against 10 routes, runtime change p99 at each size. */
function routeMapTargets(report: Report): string[][] {
  const r = report.routeMaps;
  const rps = (routes: number, route: 'first' | 'last'): number | undefined => {
    const row = r?.throughput.find((x) => !('error' in x) && x.routes === routes && x.routing === 'maps' && x.route === route);
    return row && !('error' in row) ? row.requestsPerSecond : undefined;
  };
  const ratios = (['first', 'last'] as const).map((route) => {
    const small = rps(10, route);
    const big = rps(10000, route);
    return small && big ? big / small : undefined;
  });
  const runtime = (r?.runtimeChange ?? []).filter((x): x is Exclude<typeof x, FailedSize> => !('error' in x));
  const worstOf = (x: RuntimeChanges & { host?: RuntimeChanges }): number => Math.max(x.liveMs.p99, x.host?.liveMs.p99 ?? 0);
  const worst = runtime.length > 0 ? Math.max(...runtime.map(worstOf)) : undefined;
  return [
    [
      'route maps: throughput at 10,000 routes ≥ 0.9× that at 10, first and last route',
      ratios.map((x, i) => `${i === 0 ? 'first' : 'last'} ${x === undefined ? '—' : `${x.toFixed(2)}×`}`).join(', '),
      mark(ratios.some((x) => x === undefined) ? undefined : ratios.every((x) => (x ?? 0) >= 0.9)),
    ],
    [
      'a path or host change live (Runtime API) p99 < 20 ms at every size',
      runtime.map((x) => `${x.routes}: ${ms(worstOf(x))} ms`).join(', ') || '—',
      mark(worst === undefined ? undefined : worst < 20),
    ],
  ];
}

function targetRows(report: Report): string[][] {
  const big = report.largest();
  const r10 = report.at(report.reconfigure, 10);
  const rBig = report.at(report.reconfigure, big);
  const fBig = report.floor(big);
  // An edit that never went live on all three is worse than any percentile.
  const kvWorst = report.fleet.length > 0 ? Math.max(...report.fleet.map((k) => (k.stoppedBy ? Infinity : k.allLiveMs.p99))) : undefined;
  const kv1000 = report.at(report.kv, 1000);
  const fleetRuntimeBig = report.at(report.fleetRuntime, 10000);
  const kvMet = kv1000 && !kv1000.stoppedBy ? kv1000.ours.p50 <= kv1000.peer.p50 && kv1000.ours.p99 <= kv1000.peer.p99 : undefined;
  const burstWorst = report.burst.length > 0 ? Math.min(...report.burst.map((b) => b.acceptedPerSecond)) : undefined;
  const burstLive = report.burst.length > 0 ? Math.max(...report.burst.map((b) => b.allLiveAfterLastMs)) : undefined;
  const renderBig = report.at(report.render, 10000)?.medianMs;
  const rssBig = rBig ? Math.max(rBig.rssAfterLoadBytes, rBig.rssAfterChangesBytes, report.at(report.burst, big)?.rssAfterBytes ?? 0) : undefined;
  const bigRatio = rBig && fBig ? rBig.liveMs.p99 / fBig.floorMs.p99 : undefined;
  const certWorst = report.certs.length > 0 ? Math.max(...report.certs.map((c) => c.certChangeMs.p99)) : undefined;
  // The first reload of the run is the one that binds :ssl once the first certificate is stored.
  const certReloads = report.certs.length > 0 ? Math.max(...report.certs.flatMap((c) => c.reloadsDuringCertChanges.map((n) => Math.max(0, n - 1)))) : undefined;
  const dash1000 = report.at(report.dashboard, 1000);
  return [
    ['reconfigure-to-live p99 < 100 ms at 10 routes', `${ms(r10?.liveMs.p99)} ms`, mark(r10 ? r10.liveMs.p99 < 100 : undefined)],
    [
      `reconfigure-to-live p99 < 3× floor at ${big} routes`,
      `${ms(rBig?.liveMs.p99)} ms = ${ratio(rBig?.liveMs.p99, fBig?.floorMs.p99)} floor p99`,
      mark(bigRatio === undefined ? undefined : bigRatio < 3),
    ],
    [
      'KV edit at 1,000 routes: p50 and p99 at or below consul-template + HAProxy (same run)',
      kv1000
        ? `${ms(kv1000.ours.p50)} / ${ms(kv1000.ours.p99)} ms against ${ms(kv1000.peer.p50)} / ${ms(kv1000.peer.p99)} ms ` +
          `(${ratio(kv1000.ours.p50, kv1000.peer.p50)} / ${ratio(kv1000.ours.p99, kv1000.peer.p99)})`
        : '—',
      mark(kvMet),
    ],
    [
      'Node CPU per KV edit at 1,000 routes ≤ 92.5 ms (half of 185 ms)',
      `${ms(kv1000?.cpuPerEditMs.ours.controllerMs)} ms`,
      mark(kv1000 ? kv1000.cpuPerEditMs.ours.controllerMs <= 92.5 : undefined),
    ],
    [
      'KV edit to live on all three, p99 < 1 s (every size)',
      `worst p99 ${ms(kvWorst)}${kvWorst === Infinity ? '' : ' ms'}${missing(report, report.fleet)}`,
      partial(report, report.fleet, mark(kvWorst === undefined ? undefined : kvWorst < 1000)),
    ],
    [
      'KV edit of a path live on all three, p99 < 100 ms at 10,000 routes (route maps, no reload)',
      `${ms(fleetRuntimeBig?.allLiveMs.p99)} ms, reloads ${fleetRuntimeBig?.reloadsPerInstance.join(' / ') ?? '—'}`,
      mark(fleetRuntimeBig ? fleetRuntimeBig.allLiveMs.p99 < 100 && fleetRuntimeBig.reloadsPerInstance.every((n) => n === 0) : undefined),
    ],
    [
      'burst ≥ 500 accepted/s (every size)',
      `worst ${burstWorst?.toFixed(1) ?? '—'}/s${missing(report, report.burst)}`,
      partial(report, report.burst, mark(burstWorst === undefined ? undefined : burstWorst >= 500)),
    ],
    [
      'burst: all live within 2 s of the last (every size)',
      `worst ${ms(burstLive)} ms${missing(report, report.burst)}`,
      partial(report, report.burst, mark(burstLive === undefined ? undefined : burstLive < 2000)),
    ],
    ['render 10,000 routes < 200 ms', `${ms(renderBig)} ms`, mark(renderBig === undefined ? undefined : renderBig < 200)],
    [`sidecar RSS < 150 MB at ${big} routes`, `${mib(rssBig)}`, mark(rssBig === undefined ? undefined : rssBig < 150e6)],
    ...routeMapTargets(report),
    [
      'a certificate change live on all three within 1 s, no reload (every size)',
      `worst p99 ${ms(certWorst)} ms, ${certReloads ?? '—'} reloads after the first`,
      mark(certWorst === undefined ? undefined : certWorst < 1000),
    ],
    [
      'dashboard page renders every route well under a second at 1,000 routes',
      `p50 ${ms(dash1000?.pageRenderedMs.p50)} / max ${ms(dash1000?.pageRenderedMs.max)} ms`,
      mark(dash1000 ? dash1000.pageRenderedMs.max < 1000 : undefined),
    ],
    [
      'zero failed requests on keep-alive connections during 1,000 runtime changes (every size)',
      report.keepAlive.map((k) => `${k.routes}: ${k.failed} of ${k.requests} (${k.liveMs.count} changes, ${k.reconnects} reconnects)`).join(', ') || '—',
      mark(report.keepAlive.length === 0 ? undefined : report.keepAlive.every((k) => k.failed === 0 && k.reconnects === 0 && k.liveMs.count >= 1000)),
    ],
    [
      'zero failed requests during reloads',
      `${report.reload?.failed ?? '—'}`,
      mark(report.reload?.failed === undefined ? undefined : report.reload.failed === 0),
    ],
  ];
}

function series(report: Report): Series[] {
  const line = (name: string, points: [number, number | undefined][]): Series => ({
    name,
    points: points.filter((p): p is [number, number] => p[1] !== undefined && p[1] > 0),
  });
  return [
    line(
      'reconfigure-to-live p99',
      report.reconfigure.map((r) => [r.routes, r.liveMs.p99]),
    ),
    line(
      'reconfigure-to-live p50',
      report.reconfigure.map((r) => [r.routes, r.liveMs.p50]),
    ),
    line(
      'KV edit p99, haproxy-sidecar',
      report.kv.map((r) => [r.routes, r.ours.p99]),
    ),
    line(
      'KV edit p99, consul-template + HAProxy',
      report.kv.map((r) => [r.routes, r.peer.p99]),
    ),
    line(
      'KV edit p50, haproxy-sidecar',
      report.kv.map((r) => [r.routes, r.ours.p50]),
    ),
    line(
      'KV edit p50, consul-template + HAProxy',
      report.kv.map((r) => [r.routes, r.peer.p50]),
    ),
    line(
      'KV edit, three replicas, p99',
      report.fleet.map((r) => [r.routes, r.allLiveMs.p99]),
    ),
    line(
      'KV edit of a path (route maps), three replicas, p99',
      report.fleetRuntime.map((r) => [r.routes, r.allLiveMs.p99]),
    ),
    line(
      'HAProxy floor p50 (check + reload)',
      report.floors.map((f) => [f.routes, f.floorMs.p50]),
    ),
    line(
      'haproxy -c p50',
      report.floors.map((f) => [f.routes, f.checkMs.p50]),
    ),
    line(
      'render median',
      report.render.map((r) => [r.routes, r.medianMs]),
    ),
  ];
}

function main(): void {
  const report = new Report();
  const markdown = [
    '# haproxy-sidecar benchmark summary',
    '',
    machineSection(report),
    '',
    '## Targets (issues 7, 14, 15, 17 and 18)',
    table(['target', 'figure', ''], targetRows(report)),
    '',
    floorSection(report),
    '',
    reconfigureSection(report),
    '',
    kvSection(report),
    '',
    fleetSection(report),
    '',
    burstSection(report),
    '',
    renderSection(report),
    '',
    memorySection(report),
    '',
    reloadSection(report),
    '',
    routeMapsSection(report),
    '',
    keepAliveSection(report),
    '',
    certSection(report),
    '',
    dashboardSection(report),
    '',
    '![latency against routes](latency.svg)',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(resultsDir(), 'SUMMARY.md'), markdown);
  fs.writeFileSync(path.join(resultsDir(), 'latency.svg'), plotLatency(series(report)));
  console.log(markdown);
  console.log(sideBySide(report));
}

/** The console's last word: our KV-edit-to-live beside consul-template's, from this run. */
function sideBySide(report: Report): string {
  if (report.kv.length === 0) return '\nKV edit to live: not measured in this run.';
  const lines = report.kv.map(
    (r) =>
      `  ${String(r.routes).padStart(6)} routes   haproxy-sidecar ${ms(r.ours.p50).padStart(6)} / ${ms(r.ours.p99).padStart(6)} ms   ` +
      `consul-template + HAProxy ${ms(r.peer.p50).padStart(6)} / ${ms(r.peer.p99).padStart(6)} ms   us/peer ${ratio(r.ours.p50, r.peer.p50)} / ` +
      `${ratio(r.ours.p99, r.peer.p99)}   Node CPU ${ms(r.cpuPerEditMs.ours.controllerMs)} ms/edit`,
  );
  return ['', 'KV edit to live, p50 / p99 (same run, edits interleaved):', ...lines].join('\n');
}

main();
