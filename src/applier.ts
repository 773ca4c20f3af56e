import * as fs from 'fs';
import * as path from 'path';
import type { AppliedState, ApplyReport, InvalidRoute, ReloadOutcome } from './applied-state';
import { findBreakingRoutes } from './apply/breaking-routes';
import { CandidateChecks } from './apply/candidate-checks';
import { CheckedConfigs } from './apply/checked-configs';
import { Coalescer } from './apply/coalescer';
import { readIfExists, siblingTemp, writeAtomic } from './apply/config-files';
import { IndexWaiters } from './apply/index-waiters';
import { ParseRoute, parseEntries } from './apply/parse-entries';
import { ConfigRejected, NotLive } from './errors';
import { checkConfig } from './haproxy/check';
import type { HaproxyControl } from './haproxy/control';
import { Logger, silentLogger } from './logger';
import type { Route } from './route/route';
import type { Settings } from './settings';
import type { StoreSnapshot } from './store/route-store';

export type { ParseRoute } from './apply/parse-entries';

/** A render that also names routes it had to leave out (render/'s RenderResult fits). */
export interface RenderedConfig {
  readonly config: string;
  readonly problems: readonly InvalidRoute[];
}

export type RenderRoutes = (routes: readonly Route[]) => string | RenderedConfig;

export type ApplierSettings = Pick<Settings, 'haproxyBin' | 'haproxyConfig' | 'stateDir' | 'reloadQuietMs' | 'reloadMaxDelayMs'>;

export interface ApplierOptions {
  readonly settings: ApplierSettings;
  readonly haproxy: HaproxyControl;
  readonly parse: ParseRoute;
  readonly render: RenderRoutes;
  readonly logger?: Logger;
  /** Told about every attempt (metrics, health). */
  readonly onReport?: (report: ApplyReport) => void;
  /** After a failed reload, try the same snapshot again this much later. Default 1000. */
  readonly retryMs?: number;
}

/** A config ready to go live, and what it leaves out. */
interface Plan {
  readonly config: string;
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
 * marks the config last-known-good and publishes the applied index. One apply at a time.
 */
export class Applier {
  private render: RenderRoutes;
  private live: AppliedState = EMPTY;
  private latest: StoreSnapshot = { index: 0, entries: [] };
  private pendingSince: number | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly coalescer: Coalescer;
  private readonly waiters = new IndexWaiters<AppliedState>();
  private readonly logger: Logger;
  private readonly lastKnownGoodPath: string;
  private readonly checkedConfigs = new CheckedConfigs();
  private readonly candidates = new CandidateChecks((routes) => this.checkCandidate(routes), () => this.live.routes);
  private applying = 0;

  constructor(private readonly options: ApplierOptions) {
    this.render = options.render;
    this.logger = options.logger ?? silentLogger();
    this.lastKnownGoodPath = path.join(options.settings.stateDir, 'last-known-good.cfg');
    this.coalescer = new Coalescer(options.settings.reloadQuietMs, options.settings.reloadMaxDelayMs, () => void this.applyPending(), () => this.applying === 0);
  }

  state(): AppliedState {
    return this.live;
  }

  /**
   * Start HAProxy at once: from the last-known-good config when there is one (a store outage at
   * start still serves yesterday's routes), else from a render without routes.
   */
  async start(): Promise<void> {
    await fs.promises.mkdir(this.options.settings.stateDir, { recursive: true });
    const saved = await readIfExists(this.lastKnownGoodPath);
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
    await writeAtomic(this.lastKnownGoodPath, this.live.config);
    this.logger.info('haproxy started without routes');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.coalescer.cancel();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.chain;
    this.waiters.rejectAll(new NotLive('the applier is stopping'));
    await this.options.haproxy.stop();
  }

  /** A new store snapshot (from the watch); applied after the quiescence window. */
  submit(snapshot: StoreSnapshot): void {
    if (this.stopped) return;
    this.latest = snapshot;
    this.pendingSince = this.pendingSince ?? Date.now();
    this.coalescer.touch();
  }

  /** Resolves once the live config covers store index `index`; NotLive after `timeoutMs`. */
  waitForIndex(index: number, timeoutMs: number): Promise<AppliedState> {
    if (this.live.index >= index) return Promise.resolve(this.live);
    return this.waiters.wait(index, timeoutMs);
  }

  /** Re-render and reload now, even when the config did not change (the /reload endpoint). */
  applyNow(snapshot?: StoreSnapshot): Promise<ApplyReport> {
    if (snapshot) this.latest = snapshot;
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
  checkRoute(route: Route): Promise<void> {
    return this.candidates.submit(route);
  }

  /** Throws ConfigRejected (HAProxy's message) when these routes would not pass `haproxy -c`. */
  async checkCandidate(routes: readonly Route[]): Promise<void> {
    const file = siblingTemp(this.options.settings.haproxyConfig, 'check');
    try {
      const config = this.renderConfig(routes).config;
      await fs.promises.writeFile(file, config);
      await checkConfig(this.options.settings.haproxyBin, file);
      this.checkedConfigs.add(config);
    } finally {
      await fs.promises.rm(file, { force: true });
    }
  }

  /** Put the last-known-good config back on the live path (before HAProxy is restarted). */
  async restoreLastKnownGood(): Promise<void> {
    const saved = await readIfExists(this.lastKnownGoodPath);
    if (saved !== undefined) await writeAtomic(this.options.settings.haproxyConfig, saved);
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
    return report;
  }

  private async apply(snapshot: StoreSnapshot, force: boolean, firstAt: number | undefined): Promise<ApplyReport> {
    const started = Date.now();
    const parsed = parseEntries(snapshot.entries, this.options.parse);
    let plan: Plan;
    try {
      plan = await this.plan(parsed.routes, parsed.invalid);
    } catch (error) {
      const outcome = error instanceof ConfigRejected ? 'rejected' : 'failed';
      return this.finish(outcome, started, snapshot.index, parsed.routes.length, parsed.invalid, error as Error);
    }
    if (!force && plan.config === this.live.config) {
      if (plan.candidate) await fs.promises.rm(plan.candidate, { force: true });
      this.publish({ index: snapshot.index, routes: plan.routes, invalid: plan.invalid, config: plan.config });
      return this.finish('skipped', started, snapshot.index, plan.routes.length, plan.invalid);
    }
    try {
      await this.install(plan);
    } catch (error) {
      return this.finish('failed', started, snapshot.index, plan.routes.length, plan.invalid, error as Error);
    }
    this.publish({ index: snapshot.index, routes: plan.routes, invalid: plan.invalid, config: plan.config });
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
    if (rendered.config === this.live.config) return { config: rendered.config, routes, invalid: withProblems };
    try {
      return { ...(await this.checked(rendered.config)), routes, invalid: withProblems };
    } catch (error) {
      if (!(error instanceof ConfigRejected) || routes.length === 0) throw error;
      return this.planWithout(routes, invalid, error);
    }
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
    this.logger.warn({ routes: left.map((r) => r.serviceName) }, 'routes left out: HAProxy rejects them');
    const all = [...invalid, ...rendered.problems, ...left];
    if (rendered.config === this.live.config) return { config: rendered.config, routes: kept, invalid: all };
    return { ...(await this.checked(rendered.config)), routes: kept, invalid: all };
  }

  /** Write the config next to the live one and run `haproxy -c` on it. */
  private async checked(config: string): Promise<{ config: string; candidate: string }> {
    const candidate = siblingTemp(this.options.settings.haproxyConfig, 'candidate');
    await fs.promises.writeFile(candidate, config);
    if (this.checkedConfigs.has(config)) return { config, candidate };
    try {
      await checkConfig(this.options.settings.haproxyBin, candidate);
      this.checkedConfigs.add(config);
    } catch (error) {
      await fs.promises.rm(candidate, { force: true });
      throw error;
    }
    return { config, candidate };
  }

  /** Atomic swap, reload, and last-known-good; on a failed reload, the last good config returns. */
  private async install(plan: Plan): Promise<void> {
    const live = this.options.settings.haproxyConfig;
    if (plan.candidate) await fs.promises.rename(plan.candidate, live);
    else await writeAtomic(live, plan.config);
    try {
      await this.options.haproxy.reload();
    } catch (error) {
      await this.rollBack();
      throw error;
    }
    await writeAtomic(this.lastKnownGoodPath, plan.config);
  }

  private async rollBack(): Promise<void> {
    await this.restoreLastKnownGood();
    try {
      await this.options.haproxy.reload();
    } catch (error) {
      // The old workers keep serving the old config; the next apply or restart tries again.
      this.logger.error({ err: (error as Error).message }, 'reload after restoring the last-known-good config failed');
    }
  }

  private async startWith(config: string): Promise<void> {
    const live = this.options.settings.haproxyConfig;
    await writeAtomic(live, config);
    await this.options.haproxy.start(live);
    this.live = { ...EMPTY, config };
  }

  private async checkedEmptyConfig(): Promise<string> {
    const { config, candidate } = await this.checked(this.renderConfig([]).config);
    await fs.promises.rm(candidate, { force: true });
    return config;
  }

  private renderConfig(routes: readonly Route[]): RenderedConfig {
    const rendered = this.render(routes);
    return typeof rendered === 'string' ? { config: rendered, problems: [] } : rendered;
  }

  private publish(state: AppliedState): void {
    this.live = state;
    this.waiters.release(state.index, state);
  }

  private retryLater(snapshot: StoreSnapshot, firstAt: number | undefined): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.latest !== snapshot) return;
      this.pendingSince = this.pendingSince ?? firstAt ?? Date.now();
      void this.applyPending();
    }, this.options.retryMs ?? 1000);
    this.retryTimer.unref();
  }

  private finish(outcome: ReloadOutcome, started: number, index: number, routes: number, invalid: readonly InvalidRoute[], error?: Error, changeToLiveMs?: number): ApplyReport {
    const report: ApplyReport = { outcome, durationMs: Date.now() - started, routes, invalid, index, changeToLiveMs, error: error?.message };
    const line = { outcome, durationMs: report.durationMs, routes, invalid: invalid.length, index, changeToLiveMs, error: report.error };
    if (outcome === 'skipped') this.logger.debug(line, 'haproxy config unchanged');
    else if (outcome === 'success') this.logger.info(line, 'haproxy reloaded');
    else this.logger.error(line, 'haproxy config not applied');
    this.options.onReport?.(report);
    return report;
  }
}
