import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AcmeStatus } from './acme/acme-manager';
import type { AppliedState, ApplyReport } from './applier/applied-state';
import { secondsToExpiry } from './certs/certificate';
import type { CheckCacheCounts } from './applier/checked-configs';
import { RECONCILE_OUTCOMES, ReconcileStatus } from './applier/reconciler';
import type { StoreHealth } from './store/route-store';

/** Where the metrics read current state from at scrape time. */
export interface MetricsSources {
  readonly storeHealth: () => StoreHealth;
  readonly applied: () => AppliedState;
  readonly checkCache: () => CheckCacheCounts;
  /** Automatic certificates; undefined (or returning undefined) when ACME is off. */
  readonly acme?: () => AcmeStatus | undefined;
  /** The periodic reconciliation of HAProxy's worker with the files. */
  readonly reconcile: () => ReconcileStatus;
}

const PREFIX = 'haproxy_sidecar_';

/**
 * Prometheus metrics of one sidecar. Events (reloads) are counted as they happen; state (store
 * reachability, routes served) is read from its owners at scrape time so it can never go stale.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly reloads: Counter<'outcome'>;
  private readonly reloadDuration: Histogram<string>;
  private readonly changeToLive: Histogram<string>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    this.reloads = new Counter({
      name: `${PREFIX}reloads_total`,
      help:
        'Apply attempts by outcome (success: reloaded; runtime: route maps, server addresses, certificates or ACME challenges changed through the ' +
        'Runtime API; skipped when nothing changed; rejected by haproxy -c; failed reload).',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['success', 'runtime', 'skipped', 'rejected', 'failed']) this.reloads.inc({ outcome }, 0);
    this.reloadDuration = new Histogram({
      name: `${PREFIX}reload_duration_seconds`,
      help: 'Render, check and reload of HAProxy, per apply.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.changeToLive = new Histogram({
      name: `${PREFIX}change_to_live_seconds`,
      help: 'From a store change reaching this replica to HAProxy serving it.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.stateGauges(sources, registers);
    this.acmeMetrics(sources, registers);
    this.reconcileMetrics(sources.reconcile, registers);
  }

  private reconcileMetrics(status: () => ReconcileStatus, registers: Registry[]): void {
    new Counter({
      name: `${PREFIX}reconciles_total`,
      help:
        "Comparisons of HAProxy's worker with the files, by outcome (in_step: nothing differed; runtime: restored through the Runtime API; " +
        'reload: restored by a reload; failed: the worker could not be read or the reload failed).',
      labelNames: ['outcome'],
      registers,
      collect() {
        const runs = status().runs;
        this.reset();
        for (const outcome of RECONCILE_OUTCOMES) this.inc({ outcome }, runs[outcome]);
      },
    });
    new Counter({
      name: `${PREFIX}reconcile_divergences_total`,
      help:
        "What reconciliations found differing in HAProxy's worker from the files: route map entries (missing, extra, another value, out of order) " +
        'and servers (another address, port or name).',
      labelNames: ['kind'],
      registers,
      collect() {
        const found = status();
        this.reset();
        this.inc({ kind: 'map_entry' }, found.mapEntries);
        this.inc({ kind: 'server' }, found.servers);
      },
    });
    new Gauge({
      name: `${PREFIX}reconcile_last_timestamp_seconds`,
      help: 'Unix time of the last reconciliation (0: none yet).',
      registers,
      collect() {
        this.set((status().lastAt ?? 0) / 1000);
      },
    });
    new Gauge({
      name: `${PREFIX}reconcile_last_outcome`,
      help: 'The outcome of the last reconciliation: 1 for it, 0 for the others.',
      labelNames: ['outcome'],
      registers,
      collect() {
        const last = status().lastOutcome;
        this.reset();
        for (const outcome of RECONCILE_OUTCOMES) this.set({ outcome }, outcome === last ? 1 : 0);
      },
    });
  }

  private acmeMetrics(sources: MetricsSources, registers: Registry[]): void {
    new Counter({
      name: `${PREFIX}acme_orders_total`,
      help: 'ACME orders this replica completed (issued) or that failed (failed), since start.',
      labelNames: ['outcome'],
      registers,
      collect() {
        const status = sources.acme?.();
        this.reset();
        this.inc({ outcome: 'issued' }, status?.issued ?? 0);
        this.inc({ outcome: 'failed' }, status?.failed ?? 0);
      },
    });
    new Gauge({
      name: `${PREFIX}acme_cert_failures`,
      help: 'Failed ACME attempts since the last success, per automatic certificate (0: fine).',
      labelNames: ['cert'],
      registers,
      collect() {
        this.reset();
        for (const cert of sources.acme?.()?.certs ?? []) this.set({ cert: cert.certName }, cert.failures);
      },
    });
  }

  private stateGauges(sources: MetricsSources, registers: Registry[]): void {
    new Gauge({
      name: `${PREFIX}routes_served`,
      help: 'Routes in the live HAProxy config.',
      registers,
      collect() {
        this.set(sources.applied().routes.length);
      },
    });
    new Gauge({
      name: `${PREFIX}routes_invalid`,
      help: 'Stored routes left out of the config as invalid.',
      registers,
      collect() {
        this.set(sources.applied().invalid.length);
      },
    });
    new Gauge({
      name: `${PREFIX}applied_index`,
      help: 'Store index whose routes are live.',
      registers,
      collect() {
        this.set(sources.applied().index);
      },
    });
    new Gauge({
      name: `${PREFIX}store_reachable`,
      help: 'Whether the last request to each store address succeeded (1) or not (0).',
      labelNames: ['address'],
      registers,
      collect() {
        this.reset();
        for (const address of sources.storeHealth().addresses) this.set({ address: address.address }, address.reachable ? 1 : 0);
      },
    });
    new Gauge({
      name: `${PREFIX}cert_expiry_seconds`,
      help: 'Seconds until each served certificate expires (negative once it has).',
      labelNames: ['cert'],
      registers,
      collect() {
        this.reset();
        for (const cert of sources.applied().certs ?? []) this.set({ cert: cert.name }, secondsToExpiry(cert));
      },
    });
    new Gauge({
      name: `${PREFIX}certs_invalid`,
      help: 'Stored certificates left out as invalid.',
      registers,
      collect() {
        this.set((sources.applied().invalidCerts ?? []).length);
      },
    });
    new Gauge({
      name: `${PREFIX}store_last_contact_timestamp_seconds`,
      help: 'Unix time of the last successful store request.',
      registers,
      collect() {
        this.set(sources.storeHealth().lastContact / 1000);
      },
    });
    new Gauge({
      name: `${PREFIX}watch_restarts`,
      help: 'Times the store watch restarted (error, failover or index reset) since start.',
      registers,
      collect() {
        this.set(sources.storeHealth().watchRestarts);
      },
    });
    new Counter({
      name: `${PREFIX}check_cache_total`,
      help: 'Configs about to go live whose haproxy -c verdict was already known (hit: the API had checked that very text) or not (miss: checked now).',
      labelNames: ['result'],
      registers,
      collect() {
        const counts = sources.checkCache();
        this.reset();
        this.inc({ result: 'hit' }, counts.hits);
        this.inc({ result: 'miss' }, counts.misses);
      },
    });
  }

  observe(report: ApplyReport): void {
    this.reloads.inc({ outcome: report.outcome });
    if (report.outcome === 'skipped') return;
    this.reloadDuration.observe(report.durationMs / 1000);
    if ((report.outcome === 'success' || report.outcome === 'runtime') && report.changeToLiveMs !== undefined)
      this.changeToLive.observe(report.changeToLiveMs / 1000);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
