import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { AcmeManager, createAcmeManager, createChallengeMap } from './acme';
import { answerClientErrorsWithJson } from './api/client-errors';
import { createHttpApp } from './api/http-app';
import { Distributor } from './api/distribute';
import { FleetGatherer } from './api/fleet';
import { PeerDirectory } from './api/peers';
import { ReplicaClient } from './api/replicas';
import { Applier } from './applier';
import { applierCerts } from './applier/certificates';
import { CertChanges, RouteChanges } from './changes';
import { importCertsDir } from './changes/certs-dir';
import { BackendStatsProbe } from './fleet/backend-stats';
import { ChangeLog } from './fleet/change-log';
import { ReloadHistory } from './fleet/reload-history';
import { ReplicaReporter } from './fleet/replica-report';
import { createHaproxyControl } from './haproxy';
import { HAPROXY_ANSWER_MS, HealthSources, livenessOf, readinessOf } from './health';
import { RuntimeApi } from './haproxy/runtime-api';
import { createLogger, Logger } from './logger';
import { Metrics } from './metrics';
import { loadTemplates, watchTemplates } from './render';
import type { EnvRoute } from './env-routes';
import { InvalidSetting, NotLive, SidecarError, StoreUnavailable } from './errors';
import { checkProxySettings } from './proxy-settings-check';
import { checkServeSettings, Settings } from './settings';
import { createStore } from './store';
import type { RouteStore } from './store/route-store';

/** A worker that does not answer `show stat` this fast is shown as not serving (hung, or stopped). */
const STATS_TIMEOUT_MS = 1000;
/** The dashboard polls every few seconds: the fleet answers by then, listing the replicas that did not. */
const FLEET_TIMEOUT_MS = 3000;

/** The long-running sidecar, wired from Settings: the composition root, and nothing else. */
export class Sidecar {
  private constructor(
    private readonly logger: Logger,
    private readonly store: RouteStore,
    private readonly applier: Applier,
    private readonly server: http.Server,
    private readonly stopWatches: () => Promise<void>,
    private readonly acme?: AcmeManager,
  ) {}

  static async start(settings: Settings, logger: Logger): Promise<Sidecar> {
    fs.mkdirSync(settings.stateDir, { recursive: true });
    const templates = loadTemplates(settings.templatesDir);
    await checkProxySettings(settings, templates);
    const store = createStore(settings, logger, 'API');
    const haproxy = createHaproxyControl(settings, logger);
    const certs = applierCerts(settings.stateDir, haproxy.masterSocket, logger, settings.tls.defaultCert);
    const challenges = settings.acme ? createChallengeMap(settings.stateDir, haproxy.masterSocket, logger) : undefined;
    const applier = new Applier({
      settings,
      haproxy,
      logger,
      certs,
      challenges,
      render: (routes, tls) => templates.renderWithProblems(routes, settings, tls),
    });
    applier.onReport(sslPortsNotice(settings, applier, logger));
    const applied = () => applier.state();
    const history = new ReloadHistory();
    applier.onReport(history.onReport);
    haproxy.onExit?.(history.onExit);
    const changeLog = new ChangeLog();
    const metrics = new Metrics({
      storeHealth: () => store.health(),
      applied,
      checkCache: () => applier.checkCacheCounts(),
      acme: () => acme?.status(),
      reconcile: () => applier.reconcileStatus(),
    });
    applier.onReport((report) => metrics.observe(report));
    await applier.start();
    if (settings.tls.certsDir) await importCertsDir(settings.tls.certsDir, new CertChanges({ store, liveTimeoutMs: settings.distributeTimeoutMs }), logger);
    const storeWatch = store.watch(
      (snapshot) => {
        changeLog.observe(snapshot);
        applier.submit(snapshot);
      },
      (error) => logger.warn({ err: error.message }, 'store watch failed; retrying'),
      (index) => applier.submitIndex(index),
    );
    const templateWatch = watchTemplates(
      settings.templatesDir,
      (next) => {
        logger.info({ dir: settings.templatesDir }, 'templates changed');
        void applier.setRender((routes, tls) => next.renderWithProblems(routes, settings, tls));
      },
      (error) => logger.error({ err: error.message }, 'templates are broken; keeping the last good ones'),
    );
    const changes = new RouteChanges({
      store,
      checker: applier,
      served: applier,
      liveTimeoutMs: settings.distributeTimeoutMs,
      users: settings.users,
      defaults: { reqMode: settings.proxy.defaultReqMode },
    });
    const certChanges = new CertChanges({ store, served: applier, liveTimeoutMs: settings.distributeTimeoutMs });
    const stopEnvRoutes = await storeEnvRoutes(settings.envRoutes, changes, logger);
    const peers = new PeerDirectory(settings.serviceName, settings.dnsServer, settings.requestTimeoutMs);
    const replicas = new ReplicaClient({ port: settings.listen.port, auth: settings.apiAuth, requestTimeoutMs: settings.requestTimeoutMs });
    const distributor = new Distributor({ settings, changes, certs: certChanges, peers, replicas });
    const acme = settings.acme
      ? createAcmeManager({
          settings: settings.acme,
          store,
          listen: settings.listen,
          logger,
          awaitServed: async (index) => {
            await applier.waitForIndex(index, settings.distributeTimeoutMs).catch(() => undefined);
            try {
              const behind = (await distributor.awaitServed(index)).filter((replica) => replica.status === 'NOK');
              if (behind.length > 0) logger.warn({ replicas: behind }, 'ACME challenge not served by every replica yet; asking the CA anyway');
            } catch (error) {
              logger.warn({ err: (error as Error).message }, 'cannot tell whether the other replicas serve the ACME challenge; asking the CA anyway');
            }
          },
        })
      : undefined;
    if (acme) applier.onReport(() => acme.update(applier.state().routes, applier.state().certs ?? []));
    const healthSources: HealthSources = {
      haproxyAlive: () => haproxy.responsive(HAPROXY_ANSWER_MS),
      store: () => store.health(),
      applied,
      progress: () => applier.progress(),
      acme: acme && (() => acme.status()),
    };
    const runtimeApi = new RuntimeApi(haproxy.masterSocket, STATS_TIMEOUT_MS);
    const reporter = new ReplicaReporter({
      applied,
      haproxyRunning: () => haproxy.running(),
      stats: new BackendStatsProbe(() => runtimeApi.stats()),
      history,
      changes: changeLog,
      bindAddress: settings.bindAddress,
      stateDir: settings.stateDir,
    });
    const gatherer = new FleetGatherer({ peers, replicas, reporter, timeoutMs: Math.min(FLEET_TIMEOUT_MS, settings.requestTimeoutMs) });
    const dashboard = { gatherer, reporter, changeLog, uiDir: path.join(__dirname, 'ui') };
    const app = createHttpApp({
      settings,
      changes,
      certs: certChanges,
      distributor,
      applier,
      store,
      metrics,
      health: () => livenessOf(healthSources),
      ready: () => readinessOf(healthSources),
      logger,
      dashboard,
      haproxyStats: () => runtimeApi.allStats(),
    });
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
      stopEnvRoutes();
      storeWatch.stop();
      await templateWatch.close();
    };
    return new Sidecar(logger, store, applier, server, stopWatches, acme);
  }

  async stop(): Promise<void> {
    this.logger.info('stopping');
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await this.stopWatches();
    this.acme?.stop();
    await this.applier.stop();
    await this.store.close();
    this.logger.info('stopped');
  }
}

const ENV_ROUTE_RETRY_MS = 5000;

/**
 * DFP_SERVICE_* routes go through the API's write path before the API answers: a route HAProxy or
 * the users check refuses stops the start naming its variables (exit 2). A store that cannot take
 * them yet is retried in the background: a store outage never stops the sidecar. Returns what
 * ends the retries.
 */
async function storeEnvRoutes(routes: readonly EnvRoute[], changes: RouteChanges, logger: Logger): Promise<() => void> {
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const store = async (route: EnvRoute): Promise<void> => {
    try {
      await changes.reconfigure(route.params);
      logger.info({ serviceName: route.params.serviceName, variables: `${route.variable}_*` }, 'route from the environment stored');
    } catch (error) {
      if (error instanceof NotLive) {
        logger.warn({ serviceName: route.params.serviceName, err: error.message }, 'route from the environment stored, not served yet');
        return;
      }
      if (error instanceof StoreUnavailable) {
        logger.warn({ serviceName: route.params.serviceName, err: error.message }, 'route from the environment not stored yet; retrying');
        if (stopped) return;
        const timer = setTimeout(() => {
          timers.delete(timer);
          void store(route);
        }, ENV_ROUTE_RETRY_MS);
        timers.add(timer);
        return;
      }
      if (error instanceof SidecarError) throw new InvalidSetting(`${route.variable}_*`, error.message);
      throw error;
    }
  };
  for (const route of routes) await store(route);
  return () => {
    stopped = true;
    for (const timer of timers) clearTimeout(timer);
  };
}

/** Say in the log when `:ssl` ports of DEFAULT_PORTS stay unbound for want of a certificate, and when they are bound. */
function sslPortsNotice(settings: Settings, applier: Applier, logger: Logger): () => void {
  const sslPorts = settings.defaultPorts.filter((p) => p.ssl).map((p) => p.port);
  let bound: boolean | undefined;
  return () => {
    const now = (applier.state().certs ?? []).length > 0;
    if (sslPorts.length === 0 || now === bound) return;
    bound = now;
    if (now) logger.info({ ports: sslPorts }, 'the :ssl ports of DEFAULT_PORTS are bound');
    else logger.info({ ports: sslPorts }, 'the :ssl ports of DEFAULT_PORTS are not bound: no certificate is stored');
  };
}

async function listen(app: http.RequestListener, settings: Settings): Promise<http.Server> {
  const server = http.createServer(app);
  answerClientErrorsWithJson(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.listen.port, settings.listen.host, () => resolve());
  });
  return server;
}

/** `serve`: run until SIGTERM or SIGINT, then stop HAProxy and everything else cleanly. */
export async function serve(settings: Settings): Promise<number> {
  checkServeSettings(settings);
  const logger = createLogger(settings.logLevel);
  const sidecar = await Sidecar.start(settings, logger);
  // `on`, not `once`: the handlers stay while the stop runs, so a second signal cannot end the
  // process half-way (with no handler left, Node would die of it).
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.on('SIGTERM', () => resolve('SIGTERM'));
    process.on('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'signal received');
  await sidecar.stop();
  logger.flush();
  return 0;
}
