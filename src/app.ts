import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { createHttpApp } from './api/http-app';
import { Distributor } from './api/distribute';
import { PeerDirectory } from './api/peers';
import { ReplicaClient } from './api/replicas';
import { Applier } from './applier';
import { RouteChanges } from './changes';
import { createHaproxyControl } from './haproxy';
import { healthOf } from './health';
import { createLogger, Logger } from './logger';
import { Metrics } from './metrics';
import { loadTemplates, watchTemplates } from './render';
import type { Settings } from './settings';
import { createStore } from './store';
import type { RouteStore } from './store/route-store';

/** The long-running sidecar, wired from Settings: the composition root, and nothing else. */
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
    const haproxy = createHaproxyControl(settings, logger);
    const applier = new Applier({ settings, haproxy, logger, render: (routes) => templates.renderWithProblems(routes, settings) });
    const applied = () => applier.state();
    const metrics = new Metrics({ storeHealth: () => store.health(), applied });
    applier.onReport((report) => metrics.observe(report));
    await applier.start();
    const storeWatch = store.watch(
      (snapshot) => applier.submit(snapshot),
      (error) => logger.warn({ err: error.message }, 'store watch failed; retrying'),
      (index) => applier.submitIndex(index),
    );
    const templateWatch = watchTemplates(
      settings.templatesDir,
      (next) => {
        logger.info({ dir: settings.templatesDir }, 'templates changed');
        void applier.setRender((routes) => next.renderWithProblems(routes, settings));
      },
      (error) => logger.error({ err: error.message }, 'templates are broken; keeping the last good ones'),
    );
    const changes = new RouteChanges({ store, checker: applier, served: applier, liveTimeoutMs: settings.distributeTimeoutMs });
    const distributor = new Distributor({
      settings,
      changes,
      peers: new PeerDirectory(settings.serviceName, settings.dnsServer, settings.requestTimeoutMs),
      replicas: new ReplicaClient({ port: settings.listen.port, auth: settings.apiAuth, requestTimeoutMs: settings.requestTimeoutMs }),
    });
    const health = () => healthOf({ haproxyRunning: () => haproxy.running(), store: () => store.health(), applied });
    const app = createHttpApp({ settings, changes, distributor, applier, store, metrics, health, logger });
    const server = await listen(app, settings);
    const address = server.address() as AddressInfo;
    logger.info(
      {
        api: `${address.address}:${address.port}`,
        store: settings.consulAddresses.length > 0 ? settings.consulAddresses : 'file',
        stateDir: settings.stateDir,
      },
      'sidecar started',
    );
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
