import { setTimeout as sleep } from 'timers/promises';
import type { RouteStats } from './report-types';

/** One backend's line and its servers' lines of `show stat`. */
export interface BackendStats {
  readonly status: string;
  readonly servers: readonly { readonly name: string; readonly status: string }[];
  readonly requests: number;
  readonly errors: number;
}

/** Where the stats come from: the worker's Runtime API (RuntimeApi.stats). */
export type StatsSource = () => Promise<string>;

/** What a probe of HAProxy found: stats per backend, or why there are none. */
export type StatsProbe = { readonly ok: true; readonly backends: ReadonlyMap<string, BackendStats> } | { readonly ok: false; readonly reason: string };

/**
 * During a reload the master re-executes itself and refuses connections for a moment: a refused
 * question is asked again for this long before HAProxy counts as down. A question that got no
 * answer at all (a hung or stopped HAProxy) is not asked again.
 */
const REFUSED_RETRY_MS = 1500;
const RETRY_PAUSE_MS = 50;

/** Answers younger than this are shared: every page of every viewer would otherwise ask HAProxy again. */
const FRESH_MS = 1000;

function number(value: string | undefined): number {
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : 0;
}

/**
 * Parse `show stat` CSV (header `# pxname,svname,...`). Hand-written: it is plain CSV with no
 * quoting (HAProxy never quotes; names cannot hold commas), and the columns are read by name so a
 * newer HAProxy's extra columns do not matter.
 */
export function parseStats(csv: string): Map<string, BackendStats> {
  const lines = csv.split('\n').filter((line) => line.trim() !== '');
  const header = (lines.shift() ?? '').replace(/^#\s*/, '').split(',');
  const column = (name: string) => header.indexOf(name);
  const [px, sv, status, reqTot, stot, econ, eresp, hrsp5xx] = ['pxname', 'svname', 'status', 'req_tot', 'stot', 'econ', 'eresp', 'hrsp_5xx'].map(column);
  const servers = new Map<string, { name: string; status: string }[]>();
  const backends = new Map<string, Omit<BackendStats, 'servers'>>();
  for (const line of lines) {
    const fields = line.split(',');
    const proxy = fields[px];
    if (fields[sv] !== 'BACKEND') {
      const list = servers.get(proxy) ?? [];
      list.push({ name: fields[sv], status: fields[status] });
      servers.set(proxy, list);
      continue;
    }
    // req_tot is empty for a tcp backend: its sessions are its requests.
    const requests = fields[reqTot] ? number(fields[reqTot]) : number(fields[stot]);
    backends.set(proxy, { status: fields[status], requests, errors: number(fields[econ]) + number(fields[eresp]) + number(fields[hrsp5xx]) });
  }
  const result = new Map<string, BackendStats>();
  for (const [name, backend] of backends) result.set(name, { ...backend, servers: servers.get(name) ?? [] });
  return result;
}

/** A service's backends summed up; a backend HAProxy does not report counts as down. */
export function routeStats(names: readonly string[], backends: ReadonlyMap<string, BackendStats> | undefined): RouteStats {
  if (!backends) return { status: '', servers: 0, serversUp: 0, requests: 0, errors: 0 };
  // A service scaled to zero (replicas=0) has no backend in the config.
  if (names.length === 0) return { status: 'NO BACKEND', servers: 0, serversUp: 0, requests: 0, errors: 0 };
  let status = 'UP';
  let servers = 0;
  let serversUp = 0;
  let requests = 0;
  let errors = 0;
  for (const name of names) {
    const backend = backends.get(name);
    if (!backend) {
      status = status === 'UP' ? 'MISSING' : status;
      continue;
    }
    if (status === 'UP' && backend.status !== 'UP') status = backend.status;
    servers += backend.servers.length;
    // "no check": a server without health checks is taken as up, as HAProxy does.
    serversUp += backend.servers.filter((s) => s.status.startsWith('UP') || s.status === 'no check').length;
    requests += backend.requests;
    errors += backend.errors;
  }
  return { status, servers, serversUp, requests, errors };
}

/** Asks HAProxy for its stats: one question at a time, its answer shared for FRESH_MS. */
export class BackendStatsProbe {
  private current?: Promise<StatsProbe>;
  private answeredAt = 0;
  private pending = false;

  constructor(private readonly source: StatsSource) {}

  probe(): Promise<StatsProbe> {
    if (this.current && (this.pending || Date.now() - this.answeredAt < FRESH_MS)) return this.current;
    this.pending = true;
    this.current = this.ask()
      .then(
        (csv): StatsProbe => ({ ok: true, backends: parseStats(csv) }),
        (error: unknown): StatsProbe => ({ ok: false, reason: error instanceof Error ? error.message : String(error) }),
      )
      .finally(() => {
        this.pending = false;
        this.answeredAt = Date.now();
      });
    return this.current;
  }

  private async ask(): Promise<string> {
    const deadline = Date.now() + REFUSED_RETRY_MS;
    for (;;) {
      try {
        return await this.source();
      } catch (error) {
        const refused = error instanceof Error && /ECONNREFUSED|ENOENT/.test(error.message);
        if (!refused || Date.now() + RETRY_PAUSE_MS >= deadline) throw error;
        await sleep(RETRY_PAUSE_MS);
      }
    }
  }
}
