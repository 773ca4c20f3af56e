import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { Applier } from './applier';
import { createHttpApp } from './api/http-app';
import { PeerDirectory } from './api/peers';
import type { HealthReport } from './api/ports';
import { ReplicaClient } from './api/replicas';
import { RouteChanges } from './api/route-changes';
import { checkConfig } from './haproxy/check';
import { createHaproxyControl } from './haproxy';
import { createLogger, Logger } from './logger';
import { Metrics } from './metrics';
import { loadTemplates, Templates, watchTemplates } from './render';
import { parseRoute, parseServiceName } from './route';
import type { RouteParams } from './route/route';
import type { Settings } from './settings';
import { createStore } from './store';
import type { RouteStore, StoreSnapshot } from './store/route-store';
import { parseEntries } from './apply/parse-entries';

/** The long-running sidecar, wired from Settings: the composition root (DESIGN.md). */
export class Sidecar {
  private constructor(
    private readonly logger: Logger,
    private readonly store: RouteStore,
    private readonly applier: Applier,
    private readonly server: http.Server,
    private readonly stopWatches: () => Promise<void>,
  ) {}

  static async start(settings: Settings, logger: Logger): Promise<Sidecar> {
    fs.mkdirSync(settings.stateDir, { recursive: true });
    const templates = loadTemplates(settings.templatesDir);
    const store = createStore(settings, logger);
    // HAProxy restarts a dead master from the last-known-good config, which the applier owns.
    const restoreLastKnownGood = async () => applier.restoreLastKnownGood();
    const haproxy = createHaproxyControl(settings, logger, restoreLastKnownGood);
    let metrics: Metrics | undefined;
    const applier: Applier = new Applier({
      settings,
      haproxy,
      logger,
      parse: parseRoute,
      render: (routes) => templates.renderWithProblems(routes, settings),
      onReport: (report) => metrics?.observe(report),
    });
    metrics = new Metrics({ storeHealth: () => store.health(), applied: () => applier.state() });
    await applier.start();
    let latest: StoreSnapshot | undefined;
    const storeWatch = store.watch(
      (snapshot) => {
        latest = snapshot;
        applier.submit(snapshot);
      },
      (error) => logger.warn({ err: error.message }, 'store watch failed; retrying'),
      (index) => {
        // A write that changed nothing (the same route again) still moves the index that its
        // writer waits for; the applier publishes it without a reload (the config is identical).
        if (!latest || index <= latest.index) return;
        latest = { ...latest, index };
        applier.submit(latest);
      },
    );
    const templateWatch = watchTemplates(
      settings.templatesDir,
      (next) => {
        logger.info({ dir: settings.templatesDir }, 'templates changed');
        applier.setRender((routes) => next.renderWithProblems(routes, settings));
      },
      (error) => logger.error({ err: error.message }, 'templates are broken; keeping the last good ones'),
    );
    const changes = new RouteChanges({ store, applier, parse: parseRoute, parseServiceName, liveTimeoutMs: settings.distributeTimeoutMs });
    const health = (): HealthReport => healthOf(store, haproxy.running(), applier);
    const app = createHttpApp({
      settings,
      changes,
      applier,
      store,
      peers: new PeerDirectory(settings.serviceName, settings.dnsServer, settings.requestTimeoutMs),
      replicas: new ReplicaClient({ port: settings.listen.port, auth: settings.apiAuth, requestTimeoutMs: settings.requestTimeoutMs }),
      metrics,
      health,
      logger,
    });
    const server = await listen(app, settings);
    const address = server.address() as AddressInfo;
    logger.info({ api: `${address.address}:${address.port}`, store: settings.consulAddresses.length > 0 ? settings.consulAddresses : 'file', stateDir: settings.stateDir }, 'sidecar started');
    const stopWatches = async () => {
      storeWatch.stop();
      await templateWatch.close();
    };
    return new Sidecar(logger, store, applier, server, stopWatches);
  }

  async stop(): Promise<void> {
    this.logger.info('stopping');
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await this.stopWatches();
    await this.applier.stop();
    await this.store.close();
    this.logger.info('stopped');
  }
}

function healthOf(store: RouteStore, haproxyRunning: boolean, applier: Applier): HealthReport {
  const storeHealth = store.health();
  const state = applier.state();
  const problems: string[] = [];
  if (!haproxyRunning) problems.push('HAProxy is not running');
  if (!storeHealth.reachable) problems.push(`the store does not answer${storeHealth.lastError ? ` (${storeHealth.lastError})` : ''}`);
  const details = {
    haproxy: { running: haproxyRunning },
    store: storeHealth,
    applied: { index: state.index, routes: state.routes.length, invalid: state.invalid },
  };
  if (problems.length > 0) return { healthy: false, message: problems.join('; '), details };
  const invalidNote = state.invalid.length > 0 ? `; ${state.invalid.length} invalid routes left out` : '';
  return { healthy: true, message: `serving ${state.routes.length} routes${invalidNote}`, details };
}

async function listen(app: http.RequestListener, settings: Settings): Promise<http.Server> {
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.listen.port, settings.listen.host, () => resolve());
  });
  return server;
}

/** `serve`: run until SIGTERM or SIGINT, then stop HAProxy and everything else cleanly. */
export async function serve(settings: Settings): Promise<number> {
  const logger = createLogger(settings.logLevel);
  const sidecar = await Sidecar.start(settings, logger);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'signal received');
  await sidecar.stop();
  logger.flush();
  return 0;
}

/** One-shot commands work on the configured store directly, without a running sidecar. */
async function withStore<T>(settings: Settings, action: (store: RouteStore) => Promise<T>): Promise<T> {
  const store = createStore(settings);
  try {
    return await action(store);
  } finally {
    await store.close();
  }
}

function renderSnapshot(settings: Settings, templates: Templates, snapshot: StoreSnapshot): string {
  const { routes, invalid } = parseEntries(snapshot.entries, parseRoute);
  for (const entry of invalid) process.stderr.write(`warning: ${entry.serviceName} is left out: ${entry.reason}\n`);
  return templates.render(routes, settings);
}

export async function renderCurrent(settings: Settings): Promise<string> {
  const templates = loadTemplates(settings.templatesDir);
  return withStore(settings, async (store) => renderSnapshot(settings, templates, await store.list()));
}

/** Check a config text with `haproxy -c` from a temporary file. */
async function checkText(settings: Settings, config: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'haproxy-sidecar-check-'));
  try {
    const file = path.join(dir, 'haproxy.cfg');
    fs.writeFileSync(file, config);
    await checkConfig(settings.haproxyBin, file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function validateCurrent(settings: Settings): Promise<string> {
  const config = await renderCurrent(settings);
  await checkText(settings, config);
  return 'configuration is valid';
}

function describeRoute(params: RouteParams): string {
  const pairs = Object.entries(params)
    .filter(([name]) => name !== 'serviceName')
    .map(([name, value]) => (name.startsWith('users') ? `${name}=${hidePasswords(value)}` : `${name}=${value}`));
  return [params.serviceName, ...pairs].join(' ');
}

function hidePasswords(users: string): string {
  return users
    .split(',')
    .map((user) => `${user.split(':')[0]}:***`)
    .join(',');
}

export async function listRoutes(settings: Settings): Promise<string[]> {
  return withStore(settings, async (store) => {
    const snapshot = await store.list();
    return snapshot.entries.map((entry) => (entry.params ? describeRoute(entry.params) : `${entry.serviceName} (invalid: ${entry.error})`));
  });
}

export async function addRoute(settings: Settings, input: Readonly<Record<string, string>>): Promise<string> {
  const route = parseRoute(input);
  const templates = loadTemplates(settings.templatesDir);
  return withStore(settings, async (store) => {
    const { routes } = parseEntries((await store.list()).entries, parseRoute);
    const candidate = [...routes.filter((r) => r.serviceName !== route.serviceName), route];
    await checkText(settings, templates.render(candidate, settings));
    const index = await store.put(route.params);
    return `stored ${route.serviceName} (index ${index})`;
  });
}

export async function removeRoute(settings: Settings, serviceName: string): Promise<string> {
  const name = parseServiceName(serviceName);
  return withStore(settings, async (store) => {
    const index = await store.remove(name);
    return `removed ${name} (index ${index})`;
  });
}
