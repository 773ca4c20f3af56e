import * as fs from 'fs';
import type { ChallengeMap } from '../acme/challenge-map';
import { ConfigRejected, InvalidParameter, NotLive } from '../errors';
import { Backoff } from '../files/backoff';
import { moveInto, siblingTemp, writeAtomic } from '../files/atomic-write';
import { checkConfigText } from '../haproxy/check';
import { RuntimeApi } from '../haproxy/runtime-api';
import type { HaproxyControl, HaproxyExit } from '../haproxy/control';
import { Logger, silentLogger } from '../logger';
import { portClash } from '../render/port-clash';
import { MapFile, sameMaps } from '../render/route-maps';
import type { InvalidRoute, RenderResult, TlsFiles } from '../render/types';
import { EntryParser, ParseRoute, withRoutes } from '../route/entries';
import { parseRoute } from '../route/params';
import type { Route } from '../route/route';
import type { Settings } from '../settings';
import type { StoreSnapshot } from '../store/route-store';
import type { AppliedState, ApplyProgress, ApplyReport, ReloadOutcome } from './applied-state';
import { ApplierCerts, NO_CERTS, PreparedCerts, prepareCerts } from './certificates';
import { bindProblem, newBinds, routesOnPort, unboundPorts } from './bind-probe';
import { findBreakingRoutes } from './breaking-routes';
import { CandidateChecks } from './candidate-checks';
import { CheckCacheCounts, CheckedConfigs } from './checked-configs';
import { Coalescer } from './coalescer';
import { IndexWaiters } from './index-waiters';
import { LastKnownGood } from './last-known-good';
import { LastRender } from './last-render';
import { ReconcileOutcome, Reconciler, ReconcileStatus } from './reconciler';
import { diffFields, diffRoutes } from './route-diff';
import { RouteLog } from './route-log';
import { RouteMapFiles } from './route-map-files';
import { applyServerChanges } from './server-addresses';
import { ServerChange, serverChanges } from './server-diff';

export type { ParseRoute } from '../route/entries';

/** `tls`: the certificate files the `:ssl` binds use, or false while there is no certificate. */
export type RenderRoutes = (routes: readonly Route[], tls: TlsFiles | false) => string | RenderResult;

export type ApplierSettings = Pick<Settings, 'haproxyBin' | 'haproxyConfig' | 'stateDir' | 'reloadQuietMs' | 'reloadMaxDelayMs' | 'reconcileIntervalMs'>;

export interface ApplierOptions {
  readonly settings: ApplierSettings;
  readonly haproxy: HaproxyControl;
  /** Store parameters -> Route; route/'s parseRoute unless a test lets something through. */
  readonly parse?: ParseRoute;
  readonly render: RenderRoutes;
  readonly logger?: Logger;
  /** Told about every attempt (metrics, health). */
  readonly onReport?: (report: ApplyReport) => void;
  /** After a failed reload, try the same snapshot again this much later. Default: capped backoff from 1 s to 60 s. */
  readonly retryMs?: number;
  /** Serve the stored certificates (files + Runtime API); without it, certificates are ignored. */
  readonly certs?: ApplierCerts;
  /** Serve the stored ACME challenges (map file + Runtime API); only when ACME is on, since the config then names the map. */
  readonly challenges?: ChallengeMap;
}

/** Restarts of a master that keeps dying: the first is immediate, then capped backoff. */
const RESTART_BACKOFF = { minMs: 100, maxMs: 5000 };
/**
 * Retries of a snapshot whose reload failed. Each failed reload pauses HAProxy's listeners while
 * the new process gives up (about 2 s of refused connections): never a tight loop.
 */
const RELOAD_RETRY_BACKOFF = { minMs: 1000, maxMs: 60000 };
/** A master that lived this long is not crash-looping: the next restart is immediate again. */
const STABLE_AFTER_MS = 10000;

/** A config ready to go live, and what it leaves out. */
interface Plan {
  readonly config: string;
  /** The route maps the config names, written with it. */
  readonly maps: readonly MapFile[];
  readonly routes: readonly Route[];
  readonly invalid: readonly InvalidRoute[];
  /** The checked candidate file, renamed onto the live path if it goes live. */
  readonly candidate?: string;
}

const EMPTY: AppliedState = { index: 0, routes: [], invalid: [], config: '' };

/**
 * The only writer of HAProxy's live config. Store snapshots come in through submit(); bursts are
 * coalesced; each apply renders, skips when nothing changed, checks with `haproxy -c` (leaving
 * out routes that break the check), swaps the file atomically, reloads, confirms, and only then
 * marks the config last-known-good and publishes the applied index. When our HAProxy master dies,
 * it is started again from the last-known-good config. One apply or restart at a time.
 */
export class Applier {
  private render: RenderRoutes;
  private live: AppliedState = EMPTY;
  /** The certificate files of the snapshot being applied (on disk already): what renders use. */
  private tls: TlsFiles | false = false;
  private latest: StoreSnapshot = { index: 0, entries: [] };
  private pendingSince: number | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly restarts = new Backoff(RESTART_BACKOFF);
  private readonly reloadRetries = new Backoff(RELOAD_RETRY_BACKOFF);
  private restartedBefore = false;
  private stopped = false;
  private readonly coalescer: Coalescer;
  private readonly waiters = new IndexWaiters<AppliedState>();
  private readonly logger: Logger;
  private readonly lastKnownGood: LastKnownGood;
  private readonly routeMaps: RouteMapFiles;
  /** The worker's Runtime API (through the master CLI, for our child and an adopted HAProxy alike). */
  private readonly runtime: RuntimeApi;
  private readonly routeLog: RouteLog;
  private readonly reconciler: Reconciler;
  private readonly checkedConfigs = new CheckedConfigs();
  private readonly lastRender = new LastRender();
  private readonly entryParser: EntryParser;
  private readonly candidates = new CandidateChecks(
    (routes) => this.checkCandidate(routes),
    () => this.live.routes,
  );
  private applying = 0;
  /** Set once a store snapshot is live (not just the last-known-good config HAProxy started from). */
  private appliedOnce = false;
  private readonly reportListeners: ((report: ApplyReport) => void)[] = [];
  private lastServerChanges: { readonly live: string; readonly next: string; readonly changes: readonly ServerChange[] | undefined } | undefined;

  constructor(private readonly options: ApplierOptions) {
    this.render = options.render;
    this.entryParser = new EntryParser(options.parse ?? parseRoute);
    this.logger = options.logger ?? silentLogger();
    this.routeLog = new RouteLog(this.logger);
    this.lastKnownGood = new LastKnownGood(options.settings.stateDir);
    this.routeMaps = new RouteMapFiles(options.settings.stateDir);
    this.runtime = new RuntimeApi(options.haproxy.masterSocket);
    this.coalescer = new Coalescer(
      options.settings.reloadQuietMs,
      options.settings.reloadMaxDelayMs,
      () => void this.applyPending(),
      () => this.applying === 0,
    );
    this.reconciler = new Reconciler({
      intervalMs: options.settings.reconcileIntervalMs,
      runtime: this.runtime,
      routeMaps: this.routeMaps,
      config: () => this.live.config,
      exclusive: (task) => this.exclusive(task),
      reload: () => this.reloadLive(),
      logger: this.logger,
    });
    options.haproxy.onExit?.((exit) => this.haproxyExited(exit));
    if (options.onReport) this.reportListeners.push(options.onReport);
  }

  /** Be told about every attempt (metrics, health), like options.onReport. */
  onReport(listener: (report: ApplyReport) => void): void {
    this.reportListeners.push(listener);
  }

  state(): AppliedState {
    return this.live;
  }

  /** For /readyz: whether a store snapshot is live yet, and the newest store index submitted. */
  progress(): ApplyProgress {
    return { appliedOnce: this.appliedOnce, storeIndex: this.latest.index };
  }

  /** How often a config about to go live had already passed `haproxy -c` (hit) or not (miss). */
  checkCacheCounts(): CheckCacheCounts {
    return this.checkedConfigs.counts();
  }

  /** Compare the worker with the files now and restore them where they differ (one periodic reconciliation, at once). */
  reconcile(): Promise<ReconcileOutcome | undefined> {
    return this.reconciler.reconcile();
  }

  /** What the periodic reconciliations of the worker with the files found and did (metrics). */
  reconcileStatus(): ReconcileStatus {
    return this.reconciler.status();
  }

  /** Start HAProxy, then the periodic reconciliation of its worker with the files. */
  async start(): Promise<void> {
    await this.startHaproxy();
    this.reconciler.start();
  }

  /**
   * Start HAProxy at once: from the last-known-good config when there is one (a store outage at
   * start still serves yesterday's routes), else from a render without routes.
   */
  private async startHaproxy(): Promise<void> {
    await fs.promises.mkdir(this.options.settings.stateDir, { recursive: true });
    await this.options.challenges?.prepare();
    const saved = await this.lastKnownGood.read();
    if (saved !== undefined) {
      try {
        await this.startWith(saved);
        this.logger.info('haproxy started from the last-known-good config');
        return;
      } catch (error) {
        // E.g. an HAProxy upgrade refuses yesterday's file: serving no routes beats not serving.
        this.logger.error({ err: (error as Error).message }, 'the last-known-good config does not start; starting without routes');
      }
    }
    await this.startWith(await this.checkedEmptyConfig());
    await this.lastKnownGood.save(this.live.config);
    this.logger.info('haproxy started without routes');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.coalescer.cancel();
    this.reconciler.stop();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.chain;
    this.waiters.rejectAll(new NotLive('the applier is stopping'));
    await this.options.haproxy.stop();
  }

  /** A new store snapshot (from the watch); applied after the quiescence window. */
  submit(snapshot: StoreSnapshot): void {
    if (this.stopped) return;
    this.take(snapshot);
    this.pendingSince = this.pendingSince ?? Date.now();
    this.coalescer.touch();
  }

  /**
   * The store moved to `index` without a change of routes (a write of the same route again):
   * its writer still waits for that index, so it is published, without a reload (the config is
   * identical).
   */
  submitIndex(index: number): void {
    if (index <= this.latest.index) return;
    this.submit({ ...this.latest, index });
  }

  /** Resolves once the live config covers store index `index`; NotLive after `timeoutMs`. */
  waitForIndex(index: number, timeoutMs: number): Promise<AppliedState> {
    if (this.live.index >= index) return Promise.resolve(this.live);
    return this.waiters.wait(index, timeoutMs);
  }

  /** Re-render and reload now, even when the config did not change (the /reload endpoint). */
  applyNow(snapshot?: StoreSnapshot): Promise<ApplyReport> {
    if (snapshot) this.take(snapshot);
    return this.exclusive(() => this.applyLatest(true));
  }

  /** New templates: re-apply with them. A render that throws keeps the last good config. */
  setRender(render: RenderRoutes): Promise<ApplyReport> {
    this.render = render;
    return this.exclusive(() => this.applyLatest(false));
  }

  /**
   * Throws ConfigRejected (HAProxy's message) when `route`, added to (or replacing its service
   * in) the live routes, would not pass `haproxy -c`. Concurrent calls share one check.
   */
  async checkRoute(route: Route): Promise<void> {
    await this.checkPorts(route);
    return this.candidates.submit(route);
  }

  /**
   * InvalidParameter naming the srcPort when `route`'s port is held by the API, the HTTP or stats
   * frontend or another route that cannot share it (the render's rules), or when something else
   * on this host listens on it (HAProxy could not bind it on the reload).
   */
  private async checkPorts(route: Route): Promise<void> {
    if (!route.destinations.some((d) => d.srcPort !== undefined)) return;
    const rendered = this.renderConfig(withRoutes(this.live.routes, [route]));
    const clash = portClash(route, rendered.problems, new Set(this.live.invalid.map((entry) => entry.serviceName)));
    if (clash) throw clash;
    for (const bind of newBinds(rendered.config, this.live.config)) {
      const destination = route.destinations.find((d) => d.srcPort === bind.port);
      if (!destination) continue;
      const problem = await bindProblem(bind);
      const name = destination.index === 0 ? 'srcPort' : `srcPort.${destination.index}`;
      if (problem) throw new InvalidParameter(name, `port ${bind.port} is in use on this host: ${problem}`);
    }
  }

  /** Throws ConfigRejected (HAProxy's message) when these routes would not pass `haproxy -c`. */
  async checkCandidate(routes: readonly Route[]): Promise<void> {
    const config = this.renderConfig(routes).config;
    // The config HAProxy runs passes: a change of route map entries or of server addresses alone
    // (nothing `haproxy -c` can refuse) need not wait seconds for a check at 10,000 routes.
    if (this.runtimeChangeable(config)) return;
    await checkConfigText(this.options.settings.haproxyBin, config);
    this.checkedConfigs.add(config);
  }

  /** The newest snapshot; its route changes are logged as the store reports them, before any apply. */
  private take(snapshot: StoreSnapshot): void {
    if (snapshot.entries !== this.latest.entries) this.routeLog.snapshot(snapshot.index, snapshot.entries);
    this.latest = snapshot;
  }

  /** Put the last-known-good config back on the live path (before a rollback or a restart). */
  private async restoreLastKnownGood(): Promise<void> {
    const saved = await this.lastKnownGood.read();
    if (saved !== undefined) await writeAtomic(this.options.settings.haproxyConfig, saved);
  }

  /** Our HAProxy master died: start it again, inside the chain, so no apply runs meanwhile. */
  private haproxyExited(exit: HaproxyExit): void {
    if (this.stopped) return;
    this.logger.error({ code: exit.code, signal: exit.signal }, 'haproxy master exited; restarting it');
    if (exit.uptimeMs > STABLE_AFTER_MS) {
      this.restarts.reset();
      this.restartedBefore = false;
    }
    this.scheduleRestart();
  }

  /** The first restart is immediate; a master that keeps dying is retried with the shared backoff. */
  private scheduleRestart(): void {
    if (this.stopped || this.restartTimer) return;
    const delay = this.restartedBefore ? this.restarts.next() : 0;
    this.restartedBefore = true;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.exclusive(() => this.restartHaproxy());
    }, delay);
  }

  private async restartHaproxy(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.restoreLastKnownGood();
      await this.options.haproxy.start(this.options.settings.haproxyConfig);
      this.logger.info('haproxy restarted from the last-known-good config');
    } catch (error) {
      this.logger.error({ err: (error as Error).message }, 'haproxy restart failed');
      this.scheduleRestart();
    }
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    this.applying++;
    const run = this.chain.then(task, task).finally(() => this.applying--);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private applyPending(): Promise<ApplyReport | undefined> {
    return this.exclusive(async () => {
      if (this.pendingSince === undefined || this.stopped) return undefined;
      return this.applyLatest(false);
    });
  }

  private async applyLatest(force: boolean): Promise<ApplyReport> {
    const firstAt = this.pendingSince;
    this.pendingSince = undefined;
    const snapshot = this.latest;
    const report = await this.apply(snapshot, force, firstAt);
    if (report.outcome === 'failed') this.retryLater(snapshot, firstAt);
    else this.reloadRetries.reset();
    return report;
  }

  private async apply(snapshot: StoreSnapshot, force: boolean, firstAt: number | undefined): Promise<ApplyReport> {
    const started = Date.now();
    const parsed = this.entryParser.entries(snapshot.entries);
    let plan: Plan;
    let certs: PreparedCerts;
    const challenges = snapshot.challenges ?? [];
    try {
      certs = await this.prepareCerts(snapshot);
      await this.options.challenges?.write(challenges);
      plan = await this.plan(parsed.routes, parsed.invalid);
    } catch (error) {
      const outcome = error instanceof ConfigRejected ? 'rejected' : 'failed';
      return this.finish(outcome, started, snapshot.index, parsed.routes.length, parsed.invalid, error as Error);
    }
    let state: AppliedState = {
      index: snapshot.index,
      routes: plan.routes,
      invalid: plan.invalid,
      config: plan.config,
      certs: certs.info,
      invalidCerts: certs.invalid,
    };
    const servers = force ? undefined : this.serverChangesTo(plan.config);
    // Its question is answered: the two config texts it keeps (2 MB each at 10,000 routes) go.
    this.lastServerChanges = undefined;
    if (servers !== undefined) {
      // The config stays but for server addresses; they, route maps, certificates and ACME
      // challenges may still change, through the Runtime API when it can.
      const serverChange = await this.applyServers(plan.config, servers);
      const mapChange = serverChange === 'reload' ? 'reload' : await this.applyMaps(plan.maps);
      const certChange = this.options.certs ? await this.options.certs.sync.apply(certs.files) : 'none';
      const challengeChange = this.options.challenges ? await this.options.challenges.apply(challenges) : 'none';
      if (mapChange !== 'reload' && certChange !== 'reload' && challengeChange !== 'reload') {
        if (plan.candidate) await fs.promises.rm(plan.candidate, { force: true });
        if (serverChange === 'applied') await this.lastKnownGood.save(plan.config);
        this.publish(state);
        const applied = serverChange === 'applied' || mapChange === 'applied' || certChange === 'applied' || challengeChange === 'applied';
        const changeToLiveMs = applied && firstAt !== undefined ? Date.now() - firstAt : undefined;
        return this.finish(applied ? 'runtime' : 'skipped', started, snapshot.index, plan.routes.length, plan.invalid, undefined, changeToLiveMs);
      }
    }
    try {
      plan = await this.installLeavingOutUnbound(plan);
      state = { ...state, routes: plan.routes, invalid: plan.invalid, config: plan.config };
    } catch (error) {
      return this.finish('failed', started, snapshot.index, plan.routes.length, plan.invalid, error as Error);
    }
    this.options.certs?.sync.loaded(certs.files);
    this.options.challenges?.loaded(challenges);
    this.routeMaps.loaded(plan.maps);
    const diff = diffRoutes(this.live.routes, plan.routes);
    this.publish(state);
    this.logger.info({ index: snapshot.index, ...diffFields(diff) }, 'routes applied');
    const changeToLiveMs = firstAt === undefined ? undefined : Date.now() - firstAt;
    return this.finish('success', started, snapshot.index, plan.routes.length, plan.invalid, undefined, changeToLiveMs);
  }

  /**
   * Render and check. When HAProxy rejects the whole, find the routes that break it and leave
   * them out; when it rejects even a config without routes, or every route, the templates are
   * at fault and the rejection stands.
   */
  private async plan(routes: readonly Route[], invalid: readonly InvalidRoute[]): Promise<Plan> {
    const rendered = this.renderConfig(routes);
    const withProblems = [...invalid, ...rendered.problems];
    // A config that differs from the live one in server addresses alone goes live through the
    // Runtime API, or else by a reload that rolls back should HAProxy refuse it.
    if (this.runtimeChangeable(rendered.config)) return { config: rendered.config, maps: rendered.maps, routes, invalid: withProblems };
    let plan: Plan;
    try {
      plan = { ...(await this.checked(rendered.config)), maps: rendered.maps, routes, invalid: withProblems };
    } catch (error) {
      if (!(error instanceof ConfigRejected) || routes.length === 0) throw error;
      plan = await this.planWithout(routes, invalid, error);
    }
    return this.withoutUnbindable(plan);
  }

  /**
   * `haproxy -c` binds nothing: a srcPort that another process holds passes it and then makes
   * every reload fail. The ports the plan binds and HAProxy does not hold yet (the live config's
   * binds, whichever way HAProxy was last started) are tried first; the routes on one that cannot
   * be bound are left out like routes HAProxy rejects, with HAProxy's wording of the failure.
   */
  private async withoutUnbindable(plan: Plan): Promise<Plan> {
    const unbindable: InvalidRoute[] = [];
    for (const bind of newBinds(plan.config, this.live.config)) {
      const onPort = routesOnPort(plan.routes, bind.port);
      if (onPort.length === 0) continue;
      const problem = await bindProblem(bind);
      if (!problem) continue;
      for (const route of onPort) unbindable.push({ serviceName: route.serviceName, reason: `srcPort ${bind.port}: ${problem}`, parameter: 'srcPort' });
    }
    if (unbindable.length === 0) return plan;
    if (plan.candidate) await fs.promises.rm(plan.candidate, { force: true });
    const kept = plan.routes.filter((route) => !unbindable.some((bad) => bad.serviceName === route.serviceName));
    const rendered = this.renderConfig(kept);
    const invalid = [...plan.invalid, ...unbindable];
    if (rendered.config === this.live.config) return { config: rendered.config, maps: rendered.maps, routes: kept, invalid };
    return { ...(await this.checked(rendered.config)), maps: rendered.maps, routes: kept, invalid };
  }

  private async planWithout(routes: readonly Route[], invalid: readonly InvalidRoute[], rejection: ConfigRejected): Promise<Plan> {
    const check = (subset: readonly Route[]) => this.checkCandidate(subset);
    await check([]).catch((error: Error) => {
      throw error instanceof ConfigRejected ? rejection : error;
    });
    const breaking = await findBreakingRoutes(check, [], routes);
    const kept = routes.filter((route) => !breaking.some((bad) => bad.route === route));
    // Every route failing is a template fault (e.g. a broken backend.hbs): serving none would
    // take the whole proxy down, so the live config stays.
    if (kept.length === 0) throw rejection;
    const rendered = this.renderConfig(kept);
    const left = breaking.map((bad) => ({ serviceName: bad.route.serviceName, reason: `rejected by haproxy -c: ${bad.reason}` }));
    const all = [...invalid, ...rendered.problems, ...left];
    if (rendered.config === this.live.config) return { config: rendered.config, maps: rendered.maps, routes: kept, invalid: all };
    return { ...(await this.checked(rendered.config)), maps: rendered.maps, routes: kept, invalid: all };
  }

  /** Write the config next to the live one and run `haproxy -c` on it. */
  private async checked(config: string): Promise<{ config: string; candidate: string }> {
    const candidate = siblingTemp(this.options.settings.haproxyConfig, 'candidate');
    if (this.checkedConfigs.lookUp(config)) {
      await fs.promises.writeFile(candidate, config);
      return { config, candidate };
    }
    try {
      await checkConfigText(this.options.settings.haproxyBin, config, candidate);
      this.checkedConfigs.add(config);
    } catch (error) {
      await fs.promises.rm(candidate, { force: true });
      throw error;
    }
    return { config, candidate };
  }

  /**
   * install(), and when HAProxy says it could not bind a route's srcPort (taken between the probe
   * and the reload), that route is left out with HAProxy's reason and the rest installed: once,
   * not in a loop.
   */
  private async installLeavingOutUnbound(plan: Plan): Promise<Plan> {
    try {
      await this.install(plan);
      return plan;
    } catch (error) {
      const unbound: InvalidRoute[] = [];
      for (const [port, reason] of unboundPorts((error as Error).message)) {
        for (const route of routesOnPort(plan.routes, port))
          unbound.push({ serviceName: route.serviceName, reason: `srcPort ${port}: ${reason}`, parameter: 'srcPort' });
      }
      if (unbound.length === 0) throw error;
      const kept = plan.routes.filter((route) => !unbound.some((bad) => bad.serviceName === route.serviceName));
      const rendered = this.renderConfig(kept);
      const next = { ...(await this.checked(rendered.config)), maps: rendered.maps, routes: kept, invalid: [...plan.invalid, ...unbound] };
      await this.install(next);
      return next;
    }
  }

  /** Atomic swap, reload, and last-known-good; on a failed reload, the last good config returns. */
  private async install(plan: Plan): Promise<void> {
    const live = this.options.settings.haproxyConfig;
    // The maps first: the reload reads them with the config.
    await this.routeMaps.write(plan.maps);
    if (plan.candidate) await moveInto(plan.candidate, live);
    else await writeAtomic(live, plan.config);
    try {
      await this.options.haproxy.reload();
    } catch (error) {
      await this.rollBack();
      throw error;
    }
    await this.lastKnownGood.save(plan.config);
  }

  /**
   * The reconciler's fall-back: the live config and its maps, checked (`haproxy -c`, unless that
   * very text passed before) and reloaded, so the worker serves the files again.
   */
  private async reloadLive(): Promise<boolean> {
    const started = Date.now();
    const { config, routes, invalid, index } = this.live;
    try {
      await this.install({ ...(await this.checked(config)), maps: this.routeMaps.live, routes, invalid });
    } catch (error) {
      this.finish(error instanceof ConfigRejected ? 'rejected' : 'failed', started, index, routes.length, invalid, error as Error);
      return false;
    }
    this.finish('success', started, index, routes.length, invalid);
    return true;
  }

  private async rollBack(): Promise<void> {
    await this.restoreLastKnownGood();
    await this.routeMaps.restore();
    try {
      await this.options.haproxy.reload();
    } catch (error) {
      // The old workers keep serving the old config; the next apply or restart tries again.
      this.logger.error({ err: (error as Error).message }, 'reload after restoring the last-known-good config failed');
    }
  }

  private async startWith(config: string): Promise<void> {
    const live = this.options.settings.haproxyConfig;
    await this.routeMaps.prepare(config);
    await writeAtomic(live, config);
    await this.options.haproxy.start(live);
    this.live = { ...EMPTY, config };
  }

  private async checkedEmptyConfig(): Promise<string> {
    const { config, candidate } = await this.checked(this.renderConfig([]).config);
    await fs.promises.rm(candidate, { force: true });
    return config;
  }

  /**
   * Route maps that changed under an unchanged config: the files first (a reload or restart from
   * now on reads them), then the worker through the Runtime API; `reload` when that cannot be
   * done or failed. Without a route map in the config, nothing to do.
   */
  private async applyMaps(maps: readonly MapFile[]): Promise<'none' | 'applied' | 'reload'> {
    if (sameMaps(maps, this.routeMaps.live)) return 'none';
    await this.routeMaps.write(maps);
    return this.routeMaps.apply(maps, this.runtime, this.logger);
  }

  /** Whether `config` is the live config, or differs from it only in addresses the Runtime API can change. */
  private runtimeChangeable(config: string): boolean {
    return this.serverChangesTo(config) !== undefined;
  }

  /**
   * serverChanges from the live config to `config`. The plan of an apply asks, then the apply asks
   * again about the same two texts: the second answer is the first (at 1,000 routes each is a
   * compare of two 200 KB texts).
   */
  private serverChangesTo(config: string): readonly ServerChange[] | undefined {
    const last = this.lastServerChanges;
    if (last?.live === this.live.config && last.next === config) return last.changes;
    const changes = serverChanges(this.live.config, config);
    this.lastServerChanges = { live: this.live.config, next: config, changes };
    return changes;
  }

  /**
   * Servers whose address alone changed: the config file first (a reload or restart from now on
   * reads it), then the worker through the Runtime API; `reload` when that failed. The
   * last-known-good copy follows once the whole change is live.
   */
  private async applyServers(config: string, changes: readonly ServerChange[] | undefined): Promise<'none' | 'applied' | 'reload'> {
    if (!changes || changes.length === 0) return 'none';
    await writeAtomic(this.options.settings.haproxyConfig, config);
    return applyServerChanges(changes, config, this.runtime, this.logger);
  }

  /** Judge the stored certificates and write their files; the renders that follow bind them. */
  private async prepareCerts(snapshot: StoreSnapshot): Promise<PreparedCerts> {
    if (!this.options.certs) return NO_CERTS;
    const certs = await prepareCerts(this.options.certs, snapshot.certs ?? [], this.logger);
    this.tls = certs.tls;
    return certs;
  }

  private renderConfig(routes: readonly Route[]): RenderResult {
    const known = this.lastRender.get(this.render, this.tls, routes);
    if (known) return known;
    const rendered = this.render(routes, this.tls);
    const result = typeof rendered === 'string' ? { config: rendered, problems: [], maps: [] } : rendered;
    this.lastRender.set(this.render, this.tls, routes, result);
    return result;
  }

  private publish(state: AppliedState): void {
    this.routeLog.applied(state.index, state.routes, state.invalid);
    this.live = state;
    this.appliedOnce = true;
    this.waiters.release(state.index, state);
  }

  private retryLater(snapshot: StoreSnapshot, firstAt: number | undefined): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.latest !== snapshot) return;
      this.pendingSince = this.pendingSince ?? firstAt ?? Date.now();
      void this.applyPending();
    }, this.options.retryMs ?? this.reloadRetries.next());
    this.retryTimer.unref();
  }

  private finish(
    outcome: ReloadOutcome,
    started: number,
    index: number,
    routes: number,
    invalid: readonly InvalidRoute[],
    error?: Error,
    changeToLiveMs?: number,
  ): ApplyReport {
    const report: ApplyReport = { outcome, durationMs: Date.now() - started, routes, invalid, index, changeToLiveMs, error: error?.message };
    const line = { outcome, durationMs: report.durationMs, routes, invalid: invalid.length, index, changeToLiveMs, error: report.error };
    if (outcome === 'skipped') this.logger.debug(line, 'haproxy config unchanged');
    else if (outcome === 'success') this.logger.info(line, 'haproxy reloaded');
    else if (outcome === 'runtime') this.logger.info(line, 'changed through the Runtime API, without a reload');
    else this.logger.error(line, 'haproxy config not applied');
    for (const listener of this.reportListeners) listener(report);
    return report;
  }
}
