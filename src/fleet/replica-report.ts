import { createHash } from 'crypto';
import type { AppliedState } from '../applier/applied-state';
import { secondsToExpiry } from '../certs/certificate';
import { backendNames } from '../render';
import type { Route } from '../route/route';
import { BackendStatsProbe, routeStats, StatsProbe } from './backend-stats';
import type { ChangeLog } from './change-log';
import type { ReloadHistory } from './reload-history';
import type { CertRow, ReplicaReport, RouteRow } from './report-types';

export interface ReplicaSources {
  readonly applied: () => AppliedState;
  readonly haproxyRunning: () => boolean;
  readonly stats: BackendStatsProbe;
  readonly history: ReloadHistory;
  readonly changes: ChangeLog;
  /** BIND_ADDRESS: each replica binds its own, so it is no difference worth flagging. */
  readonly bindAddress: string;
  /** STATE_DIR: the config names the route maps (and the ACME map) in it; another folder is no difference either. */
  readonly stateDir?: string;
}

/** The hash of a config, computed once per config text (the fleet page asks every few seconds). */
class ConfigHash {
  private config?: string;
  private hash = '';

  constructor(
    private readonly bindAddress: string,
    private readonly stateDir?: string,
  ) {}

  of(config: string): string {
    if (config === this.config) return this.hash;
    const own = `bind ${this.bindAddress}:`;
    let comparable = this.bindAddress === '*' ? config : config.split(own).join('bind *:');
    if (this.stateDir) comparable = comparable.split(`${this.stateDir}/`).join('<STATE_DIR>/');
    this.config = config;
    this.hash = createHash('sha256').update(comparable).digest('hex').slice(0, 16);
    return this.hash;
  }
}

function routeRows(routes: readonly Route[], probe: StatsProbe): RouteRow[] {
  const names = backendNames(routes);
  const backends = probe.ok ? probe.backends : undefined;
  return [...routes]
    .sort((a, b) => (a.serviceName < b.serviceName ? -1 : a.serviceName > b.serviceName ? 1 : 0))
    .map((route) => ({
      serviceName: route.serviceName,
      destinations: route.destinations.map((d) => ({
        hosts: d.serviceDomain,
        paths: d.servicePath,
        port: d.port,
        ...(d.srcPort === undefined ? {} : { srcPort: d.srcPort }),
        mode: d.reqMode,
      })),
      ...routeStats(names.get(route.serviceName) ?? [], backends),
    }));
}

function certRows(state: AppliedState): CertRow[] {
  return (state.certs ?? []).map((cert) => ({
    name: cert.name,
    sans: cert.sans,
    notAfter: cert.notAfter,
    daysLeft: Math.floor(secondsToExpiry(cert) / 86400),
  }));
}

/** Builds this replica's report: what it serves, whether its HAProxy answers, what changed lately. */
export class ReplicaReporter {
  private readonly hash: ConfigHash;

  constructor(private readonly sources: ReplicaSources) {
    this.hash = new ConfigHash(sources.bindAddress, sources.stateDir);
  }

  async report(address: string): Promise<ReplicaReport> {
    const { applied, haproxyRunning, stats, history, changes } = this.sources;
    const state = applied();
    const running = haproxyRunning();
    const probe: StatsProbe = running ? await stats.probe() : { ok: false, reason: 'HAProxy is not running' };
    const lastReload = history.lastReload();
    return {
      address,
      index: state.index,
      configHash: this.hash.of(state.config),
      haproxy: { up: probe.ok, restarts: history.restarts(), ...(probe.ok ? {} : { reason: probe.reason }) },
      ...(lastReload ? { lastReload } : {}),
      routes: routeRows(state.routes, probe),
      invalid: state.invalid.map((entry) => ({ serviceName: entry.serviceName, reason: entry.reason })),
      certs: certRows(state),
      changes: changes.recent(),
    };
  }
}
