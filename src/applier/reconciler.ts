import { RuntimeRefused } from '../errors';
import type { NamedServerState, RuntimeApi } from '../haproxy/runtime-api';
import type { Logger } from '../logger';
import type { MapFile } from '../render/route-maps';
import { replaceMap, RouteMapFiles } from './route-map-files';
import { applyServerChanges } from './server-addresses';
import { ConfigServer, configServers, isAddress } from './server-diff';

/**
 * `in_step`: the worker serves what the files say; `runtime`: it did not, and the Runtime API
 * brought it back; `reload`: a reload of the files did; `failed`: the worker could not be read
 * (HAProxy down or restarting) or the reload failed, and the next round tries again.
 */
export type ReconcileOutcome = 'in_step' | 'runtime' | 'reload' | 'failed';

export const RECONCILE_OUTCOMES: readonly ReconcileOutcome[] = ['in_step', 'runtime', 'reload', 'failed'];

/** What the reconciliations since start found and did (metrics). */
export interface ReconcileStatus {
  readonly runs: Readonly<Record<ReconcileOutcome, number>>;
  /** Map entries found missing, extra, with another value or out of order (the wildcard map). */
  readonly mapEntries: number;
  /** Servers found at another address, port or host name, or missing. */
  readonly servers: number;
  /** Unix time in ms when the last reconciliation ended; undefined before the first. */
  readonly lastAt?: number;
  readonly lastOutcome?: ReconcileOutcome;
}

export interface ReconcilerOptions {
  /** Pause between two reconciliations; 0: none. */
  readonly intervalMs: number;
  readonly runtime: RuntimeApi;
  /** The route maps the worker should serve (those of the live config, on disk already). */
  readonly routeMaps: RouteMapFiles;
  /** The live config text: its backends' server lines say where each server should be. */
  readonly config: () => string;
  /** Runs `task` in the applier's one-at-a-time chain, so a comparison never sees half an apply. */
  readonly exclusive: <T>(task: () => Promise<T>) => Promise<T>;
  /** Reload HAProxy from the files of the live config, checked; false when that failed. */
  readonly reload: () => Promise<boolean>;
  readonly logger: Logger;
}

/** A map whose worker copy differs from its file: the keys concerned. */
interface MapDivergence {
  readonly file: string;
  readonly missing: readonly string[];
  readonly extra: readonly string[];
  readonly changed: readonly string[];
  /** Same entries, another order (only the wildcard map's order matters). */
  readonly reordered: boolean;
}

/** A server the worker holds elsewhere than the config says, or not at all. */
interface ServerDivergence {
  readonly server: ConfigServer;
  readonly state: NamedServerState | undefined;
}

interface Divergences {
  readonly maps: readonly MapDivergence[];
  readonly servers: readonly ServerDivergence[];
}

/** Keys or servers named in one log line, at most: a wiped map of 10,000 entries is one line, not megabytes. */
const LOGGED = 10;

/**
 * Periodic reconciliation of the running worker with the files. The applier verifies each runtime
 * change as it makes it, but the worker can drift afterwards: a hand-made `del map` or `set
 * server` on the Runtime API, a worker that missed an update. Every interval the worker's route
 * maps (`show map`) are compared with the maps of the live config and its servers (`show servers
 * state`, one command for all) with the config's server lines; a difference is confirmed inside
 * the applier's one-at-a-time chain, logged, counted and put back there: a diverged map replaced
 * whole in one commit, a moved server set back, as the applier's own runtime changes do, and when
 * that is refused or cannot be done, a checked reload of the files. Never a worker left diverged.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly runs: Record<ReconcileOutcome, number> = { in_step: 0, runtime: 0, reload: 0, failed: 0 };
  private mapEntries = 0;
  private servers = 0;
  private lastAt: number | undefined;
  private lastOutcome: ReconcileOutcome | undefined;

  constructor(private readonly options: ReconcilerOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  status(): ReconcileStatus {
    return { runs: { ...this.runs }, mapEntries: this.mapEntries, servers: this.servers, lastAt: this.lastAt, lastOutcome: this.lastOutcome };
  }

  /** One reconciliation now, in the applier's chain; undefined when stopped meanwhile. */
  async reconcile(): Promise<ReconcileOutcome | undefined> {
    if (this.stopped) return undefined;
    // A first look outside the chain: reading changes nothing, and at 10,000 routes it takes about
    // 100 ms that a change arriving meanwhile would otherwise wait. A worker found in step needs
    // nothing more (an apply running meanwhile verifies its own changes); anything else (a
    // difference, or a read that failed) is looked at again inside the chain, where no apply can
    // be half-way, and only that look acts.
    const glance = await this.compare().catch(() => undefined);
    const inStep = glance !== undefined && glance.maps.length === 0 && glance.servers.length === 0;
    const outcome = inStep ? 'in_step' : await this.options.exclusive(() => (this.stopped ? Promise.resolve(undefined) : this.run()));
    if (outcome === undefined) return undefined;
    this.runs[outcome]++;
    this.lastAt = Date.now();
    this.lastOutcome = outcome;
    return outcome;
  }

  private schedule(): void {
    if (this.stopped || this.options.intervalMs <= 0 || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reconcile()
        .catch((error: Error) => this.options.logger.error({ err: error.message }, 'reconciliation failed'))
        .finally(() => this.schedule());
    }, this.options.intervalMs);
    // A pending round never keeps the process alive.
    this.timer.unref();
  }

  private async run(): Promise<ReconcileOutcome> {
    let found: Divergences;
    try {
      found = await this.compare();
    } catch (error) {
      const err = (error as Error).message;
      // No answer: HAProxy is down or busy re-executing, and a reload would not get through either.
      if (!(error instanceof RuntimeRefused)) {
        this.options.logger.warn({ err }, 'reconciliation could not read the worker; trying again later');
        return 'failed';
      }
      // An answer, but not the maps or servers of the live config (e.g. a reload of another config by hand).
      this.options.logger.warn({ err }, 'the HAProxy worker does not know what the files name; reloading them');
      return (await this.options.reload()) ? 'reload' : 'failed';
    }
    if (found.maps.length === 0 && found.servers.length === 0) return 'in_step';
    this.count(found);
    this.options.logger.warn(describe(found), 'the HAProxy worker differs from the files; restoring them');
    if (await this.restore(found)) {
      this.options.logger.info('the worker serves the files again, restored through the Runtime API');
      return 'runtime';
    }
    return (await this.options.reload()) ? 'reload' : 'failed';
  }

  private async compare(): Promise<Divergences> {
    const maps: MapDivergence[] = [];
    for (const map of this.options.routeMaps.live) {
      const divergence = mapDivergence(map, await this.options.runtime.showMap(map.file), this.options.routeMaps.ordered(map.file));
      if (divergence) maps.push(divergence);
    }
    const servers: ServerDivergence[] = [];
    // Read from the live config every round, not kept between rounds: at 10,000 routes the server
    // lines (strings sliced from the config text) held a config the applier had replaced, 4 MB of
    // heap, to save a parse of about 30 ms every RECONCILE_INTERVAL.
    const wanted = configServers(this.options.config());
    if (wanted.length === 0) return { maps, servers };
    const states = new Map<string, NamedServerState>();
    for (const state of await this.options.runtime.serverStates()) states.set(`${state.backend}/${state.server}`, state);
    for (const server of wanted) {
      const state = states.get(`${server.backend}/${server.server}`);
      if (!state || !serves(state, server)) servers.push({ server, state });
    }
    return { maps, servers };
  }

  /** Through the Runtime API, as the applier's own changes; false when a reload must do it. */
  private async restore(found: Divergences): Promise<boolean> {
    const { runtime, logger } = this.options;
    try {
      for (const divergence of found.maps) {
        const map = this.options.routeMaps.live.find((m) => m.file === divergence.file);
        if (map) await replaceMap(runtime, map.file, map.entries);
      }
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'route maps not restored through the Runtime API; reloading instead');
      return false;
    }
    if (found.servers.length === 0) return true;
    if (found.servers.some((divergence) => divergence.state === undefined)) {
      logger.warn('a server of the config is missing from the worker; reloading');
      return false;
    }
    const changes = found.servers.map(({ server, state }) => ({ ...server, host: bare(server.host), liveHost: state?.fqdn ?? state?.address ?? '' }));
    return (await applyServerChanges(changes, this.options.config(), runtime, logger)) === 'applied';
  }

  private count(found: Divergences): void {
    for (const map of found.maps) this.mapEntries += Math.max(1, map.missing.length + map.extra.length + map.changed.length);
    this.servers += found.servers.length;
  }
}

/** How `shown` (the worker's `show map`) differs from `map`; undefined when it does not. */
function mapDivergence(map: MapFile, shown: readonly [string, string][], ordered: boolean): MapDivergence | undefined {
  const missing: string[] = [];
  const extra: string[] = [];
  const changed: string[] = [];
  const seen = new Set<string>();
  for (const [key, value] of shown) {
    const wanted = map.entries.get(key);
    // A key twice (a hand-made `add map` of a key the map has) is an extra entry too.
    if (wanted === undefined || seen.has(key)) extra.push(key);
    else if (wanted !== value) changed.push(key);
    seen.add(key);
  }
  for (const key of map.entries.keys()) if (!seen.has(key)) missing.push(key);
  const differs = missing.length + extra.length + changed.length > 0;
  const reordered = !differs && ordered && !sameOrder(map.entries, shown);
  if (!differs && !reordered) return undefined;
  return { file: map.file, missing, extra, changed, reordered };
}

function sameOrder(entries: ReadonlyMap<string, string>, shown: readonly [string, string][]): boolean {
  let i = 0;
  for (const key of entries.keys()) if (shown[i++][0] !== key) return false;
  return true;
}

/**
 * Whether the worker holds `server` where its line says: the address and port of an IP address;
 * for a host name, that name and the port (the address is its resolvers' latest answer).
 */
function serves(state: NamedServerState, server: ConfigServer): boolean {
  if (state.port !== server.port) return false;
  const host = bare(server.host);
  if (isAddress(host)) return state.address === host && state.fqdn === undefined;
  // Without resolvers HAProxy resolved the name once at start and may not keep it as an FQDN.
  if (server.resolvers === undefined && state.fqdn === undefined) return true;
  return state.fqdn === host;
}

/** `[::1]` -> `::1`: the worker shows an IPv6 address without brackets. */
function bare(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** The log fields of what differed: counts, and the first keys and servers. */
function describe(found: Divergences): Record<string, unknown> {
  return {
    maps: found.maps.map((map) => ({
      file: map.file,
      missing: map.missing.length,
      extra: map.extra.length,
      changed: map.changed.length,
      reordered: map.reordered,
      keys: [...map.missing, ...map.extra, ...map.changed].slice(0, LOGGED),
    })),
    servers: found.servers.slice(0, LOGGED).map(({ server, state }) => ({
      server: `${server.backend}/${server.server}`,
      wanted: `${server.host}:${server.port}`,
      found: state ? `${state.fqdn ?? '-'} ${state.address}:${state.port}` : 'missing',
    })),
    serversDiffering: found.servers.length,
  };
}
