import express, { NextFunction, Request, Response } from 'express';
import { InvalidParameter } from '../errors';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { Settings } from '../settings';
import type { RouteStore } from '../store/route-store';
import { basicAuth } from './basic-auth';
import { publicMessage, statusFor } from './error-status';
import type { PeerDirectory } from './peers';
import type { ApplierPort, HealthReport } from './ports';
import { laggingSummary, ReplicaClient, ReplicaResult } from './replicas';
import type { ChangeResult, RouteChanges } from './route-changes';

export interface ApiOptions {
  readonly settings: Settings;
  readonly changes: RouteChanges;
  readonly applier: ApplierPort;
  readonly store: RouteStore;
  readonly peers: PeerDirectory;
  readonly replicas: ReplicaClient;
  readonly metrics: Metrics;
  readonly health: () => HealthReport;
  readonly logger: Logger;
}

type Params = Readonly<Record<string, unknown>>;

const BASE = '/v1/docker-flow-proxy';

/** Query string and (for PUT/POST) body parameters; the body wins. */
function requestParams(req: Request): Params {
  const body: unknown = req.body;
  const fromBody = body && typeof body === 'object' && !Array.isArray(body) ? (body as Params) : {};
  return { ...(req.query as Params), ...fromBody };
}

function booleanParam(params: Params, name: string): boolean {
  const value = params[name];
  if (value === undefined || value === '') return false;
  if (value === 'true' || value === true) return true;
  if (value === 'false' || value === false) return false;
  throw new InvalidParameter(name, 'must be true or false');
}

function integerParam(params: Params, name: string, fallback: number, max: number): number {
  const value = params[name];
  if (value === undefined || value === '') return fallback;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value) || Number(value) > max) throw new InvalidParameter(name, `must be a whole number up to ${max}`);
  return Number(value);
}

function reply(res: Response, status: number, message: string, extra: Record<string, unknown> = {}): void {
  res.status(status).json({ status: status === 200 ? 'OK' : 'NOK', message, ...extra });
}

function replyReplicas(res: Response, what: string, result: Omit<ChangeResult, 'params'> | undefined, replicas: readonly ReplicaResult[]): void {
  const lagging = laggingSummary(replicas);
  const extra = { ...result, replicas };
  if (lagging === '') return reply(res, 200, `${what}: served by all ${replicas.length} replicas`, extra);
  reply(res, 500, `${what}: not served by every replica; lagging: ${lagging}`, extra);
}

/** Errors of express's body parsers (malformed JSON, too large) carry a 4xx status of their own. */
function bodyParserError(error: unknown): { status: number; message: string } | undefined {
  if (!(error instanceof Error) || !('type' in error) || !('status' in error)) return undefined;
  const status = Number(error.status);
  if (!(status >= 400 && status < 500)) return undefined;
  return { status, message: `request body: ${error.message}` };
}

/** The express application: Docker Flow Proxy's endpoints, /metrics and /healthz. */
export function createHttpApp(options: ApiOptions): express.Express {
  const { settings, changes, applier, store, peers, replicas, metrics, health, logger } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(express.json({ limit: '1mb' }));
  app.use(express.urlencoded({ extended: false, limit: '1mb' }));

  app.get('/healthz', (_req, res) => {
    const report = health();
    res.status(report.healthy ? 200 : 503).json({ status: report.healthy ? 'OK' : 'NOK', message: report.message, ...report.details });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.text());
  });

  if (settings.apiAuth) app.use('/v1', basicAuth(settings.apiAuth));
  const usesConsul = settings.consulAddresses.length > 0;
  const forward = async (path: string, query: Record<string, string>): Promise<ReplicaResult[]> => {
    const addresses = await peers.lookup();
    return Promise.all(addresses.map((address) => replicas.forward(address, path, { ...query, distribute: 'false' }, settings.distributeTimeoutMs)));
  };
  const awaitAll = async (addresses: readonly string[], index: number, serviceName?: string): Promise<ReplicaResult[]> => {
    const deadline = Date.now() + settings.distributeTimeoutMs;
    return Promise.all(addresses.map((address) => replicas.awaitApplied(address, index, serviceName, deadline)));
  };

  app.all(`${BASE}/ping`, (_req, res) => reply(res, 200, 'pong'));

  app.all(`${BASE}/reconfigure`, async (req, res) => {
    const params = requestParams(req);
    if (!booleanParam(params, 'distribute')) {
      const result = await changes.reconfigure(params);
      return reply(res, 200, `${result.serviceName} is live`, { ...result });
    }
    const route = await changes.prepare(params);
    if (!usesConsul) return replyReplicas(res, route.serviceName, { serviceName: route.serviceName, index: 0 }, await forward(`${BASE}/reconfigure`, { ...route.params }));
    const addresses = await peers.lookup();
    const result = await changes.store(route);
    replyReplicas(res, route.serviceName, { serviceName: result.serviceName, index: result.index }, await awaitAll(addresses, result.index, route.serviceName));
  });

  app.all(`${BASE}/remove`, async (req, res) => {
    const params = requestParams(req);
    if (!booleanParam(params, 'distribute')) {
      const result = await changes.remove(params.serviceName);
      return reply(res, 200, `${result.serviceName} is removed`, { ...result });
    }
    if (!usesConsul) {
      const serviceName = changes.validServiceName(params.serviceName);
      return replyReplicas(res, `${serviceName} removed`, { serviceName, index: 0 }, await forward(`${BASE}/remove`, { serviceName }));
    }
    const addresses = await peers.lookup();
    const result = await changes.remove(params.serviceName);
    replyReplicas(res, `${result.serviceName} removed`, result, await awaitAll(addresses, result.index));
  });

  app.all(`${BASE}/reload`, async (_req, res) => {
    await applier.applyNow(await store.list());
    const state = applier.state();
    reply(res, 200, `reloaded with ${state.routes.length} routes`, { index: state.index, invalid: state.invalid });
  });

  app.get(`${BASE}/config`, (req, res) => {
    const state = applier.state();
    if (req.query.type === 'json') return reply(res, 200, `${state.routes.length} routes`, { index: state.index, routes: state.routes.map((r) => r.params), invalid: state.invalid });
    res.type('text/plain').send(state.config);
  });

  // Asked by the replica that took a distribute=true change: "do you serve store index N yet?"
  app.get(`${BASE}/applied`, async (req, res) => {
    const params = requestParams(req);
    const index = integerParam(params, 'index', 0, Number.MAX_SAFE_INTEGER);
    const waitMs = integerParam(params, 'waitMs', 0, 30000);
    const serviceName = typeof params.serviceName === 'string' ? params.serviceName : undefined;
    const state = await applier.waitForIndex(index, waitMs).catch(() => applier.state());
    const invalid = state.invalid.find((entry) => entry.serviceName === serviceName);
    reply(res, 200, `applied index ${state.index}`, { index: state.index, applied: state.index >= index, reason: invalid?.reason });
  });

  app.use((_req, res) => reply(res, 404, 'no such endpoint'));
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { status, message } = bodyParserError(error) ?? { status: statusFor(error), message: publicMessage(error) };
    if (status >= 500) logger.error({ err: error, path: req.path }, 'request failed');
    else logger.info({ path: req.path, status, reason: message }, 'request refused');
    reply(res, status, message);
  });
  return app;
}
