import express, { NextFunction, Request, Response } from 'express';
import type { CertChanges } from '../changes/cert-changes';
import type { ChangeResult, RouteChanges } from '../changes/route-changes';
import { StoreUnavailable } from '../errors';
import type { HealthReport } from '../health';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { redactConfig } from '../render/redact';
import { ignoredParameters } from '../route/ignored';
import { redactParams } from '../route/redact';
import { flagParam, optionalServiceName, wholeNumberParam } from '../route/flags';
import type { Settings } from '../settings';
import type { RouteStore } from '../store/route-store';
import { basicAuth } from './basic-auth';
import { addDashboardRoutes, DashboardOptions } from './dashboard-routes';
import { API_BASE as BASE, Distributed, Distributor } from './distribute';
import { publicMessage, statusFor } from './error-status';
import type { ApplierPort } from './ports';

export interface ApiOptions {
  readonly settings: Settings;
  readonly changes: RouteChanges;
  readonly certs: CertChanges;
  readonly distributor: Distributor;
  readonly applier: ApplierPort;
  readonly store: RouteStore;
  readonly metrics: Metrics;
  /** Liveness (/healthz) and readiness (/readyz). */
  readonly health: () => Promise<HealthReport>;
  readonly ready: () => HealthReport;
  readonly logger: Logger;
  readonly dashboard: DashboardOptions;
  /** HAProxy's statistics CSV of this replica (the Runtime API's `show stat`). */
  readonly haproxyStats: () => Promise<string>;
}

type Params = Readonly<Record<string, unknown>>;

/** Query string and (for PUT/POST) body parameters; the body wins. */
function requestParams(req: Request): Params {
  const body: unknown = req.body;
  const fromBody = body && typeof body === 'object' && !Array.isArray(body) ? (body as Params) : {};
  return { ...(req.query as Params), ...fromBody };
}

function reply(res: Response, status: number, message: string, extra: Record<string, unknown> = {}): void {
  res.status(status).json({ status: status === 200 ? 'OK' : 'NOK', message, ...extra });
}

function replyDistributed(res: Response, done: Distributed, more: Record<string, unknown> = {}): void {
  const extra = { [done.key ?? 'serviceName']: done.serviceName, index: done.index, replicas: done.replicas, ...more };
  if (done.lagging === '') return reply(res, 200, `${done.what}: served by all ${done.replicas.length} replicas`, extra);
  reply(res, 500, `${done.what}: not served by every replica; lagging: ${done.lagging}`, extra);
}

function replyChange(res: Response, message: string, result: ChangeResult, more: Record<string, unknown> = {}): void {
  reply(res, 200, message, { ...result, params: result.params && redactParams(result.params), ...more });
}

/** DFP changes state on GET; PUT and POST carry a body. Anything else must change nothing. */
const CHANGING_METHODS = ['GET', 'PUT', 'POST'];
const CHANGING_ENDPOINTS = [`${BASE}/reconfigure`, `${BASE}/remove`, `${BASE}/reload`];

function onlyChangingMethods(req: Request, res: Response, next: NextFunction): void {
  if (CHANGING_METHODS.includes(req.method)) return next();
  res.set('Allow', CHANGING_METHODS.join(', '));
  reply(res, 405, `${req.method} is not allowed on ${req.path}; use ${CHANGING_METHODS.join(', ')}`);
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
  const { settings, changes, certs, distributor, applier, store, metrics, health, ready, logger, dashboard, haproxyStats } = options;
  const madeHere = (serviceName: string, index: number) => dashboard.changeLog.attribute(serviceName, index, 'API');
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // A certificate's body is the PEM itself, whatever Content-Type the client sent (curl
  // --data-binary says form-urlencoded): read it as text before the form parser could.
  app.use(`${BASE}/cert`, express.text({ type: () => true, limit: '1mb' }));
  app.use(express.json({ limit: '1mb' }));
  app.use(express.urlencoded({ extended: false, limit: '1mb' }));

  const answerHealth = (res: Response, report: HealthReport) =>
    res.status(report.ok ? 200 : 503).json({ status: report.ok ? 'OK' : 'NOK', message: report.message, ...report.details });
  app.get('/healthz', async (_req, res) => answerHealth(res, await health()));
  app.get('/readyz', (_req, res) => answerHealth(res, ready()));
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.text());
  });

  if (settings.apiAuth) app.use('/v1', basicAuth(settings.apiAuth));
  app.all(`${BASE}/ping`, (_req, res) => reply(res, 200, 'pong'));
  app.all(CHANGING_ENDPOINTS, onlyChangingMethods);

  /** A distributed change with a shared store was made here (index 0: each replica stored its own, and noted it). */
  const noted = (done: Distributed): Distributed => {
    if (done.index > 0) madeHere(done.serviceName, done.index);
    return done;
  };

  /** serviceCert: validate it and the route, then store the certificate before the route. */
  const storeServiceCert = async (params: Params, distribute: boolean) => {
    const cert = certs.prepareServiceCert(params.serviceName, params.serviceCert);
    await changes.prepare(params);
    if (distribute) await distributor.putCert(cert.name, cert.pem);
    else await certs.store(cert);
  };

  /** Each ignored parameter name is logged once per process: the listener repeats its labels. */
  const loggedIgnored = new Set<string>();
  const ignoredOf = (params: Params) => {
    const ignored = ignoredParameters(params);
    for (const { parameter, reason } of ignored) {
      if (loggedIgnored.has(parameter)) continue;
      loggedIgnored.add(parameter);
      logger.info({ parameter, reason }, 'reconfigure parameter ignored');
    }
    return ignored;
  };

  app.all(`${BASE}/reconfigure`, async (req, res) => {
    const params = requestParams(req);
    const distribute = flagParam(params, 'distribute');
    if (params.serviceCert !== undefined) await storeServiceCert(params, distribute);
    if (distribute) return replyDistributed(res, noted(await distributor.reconfigure(params)), { ignored: ignoredOf(params) });
    const result = await changes.reconfigure(params);
    madeHere(result.serviceName, result.index);
    replyChange(res, result.params ? `${result.serviceName} is live` : `${result.serviceName} is removed`, result, { ignored: ignoredOf(params) });
  });

  app.all(`${BASE}/remove`, async (req, res) => {
    const params = requestParams(req);
    if (flagParam(params, 'distribute')) return replyDistributed(res, noted(await distributor.remove(params)));
    const result = await changes.remove(params.serviceName);
    madeHere(result.serviceName, result.index);
    replyChange(res, `${result.serviceName} is removed`, result);
  });

  app.put(`${BASE}/cert`, (req, res) => putCert(req, res));
  app.post(`${BASE}/cert`, (req, res) => putCert(req, res));
  const putCert = async (req: Request, res: Response) => {
    const params = req.query as Params;
    if (flagParam(params, 'distribute')) return replyDistributed(res, await distributor.putCert(params.certName, req.body));
    const result = await certs.put(params.certName, req.body);
    reply(res, 200, `certificate ${result.certName} is live`, { ...result });
  };

  app.delete(`${BASE}/cert`, async (req, res) => {
    const params = req.query as Params;
    if (flagParam(params, 'distribute')) return replyDistributed(res, await distributor.removeCert(params.certName));
    const result = await certs.remove(params.certName);
    reply(res, 200, `certificate ${result.certName} is removed`, { ...result });
  });
  app.all(`${BASE}/cert`, (_req, res) => {
    res.set('Allow', 'PUT, POST, DELETE');
    reply(res, 405, 'use PUT or POST (the PEM as body) to store a certificate, DELETE to remove it');
  });

  app.get(`${BASE}/certs`, async (_req, res) => {
    const stored = await certs.list();
    const served = applier.state().certs ?? [];
    reply(res, 200, `${stored.certs.length} certificates`, {
      certs: stored.certs,
      invalid: stored.invalid,
      default: served.length > 0 ? served[0].name : null,
    });
  });

  app.all(`${BASE}/reload`, async (_req, res) => {
    await applier.applyNow(await store.list());
    const state = applier.state();
    reply(res, 200, `reloaded with ${state.routes.length} routes`, { index: state.index, invalid: state.invalid });
  });

  app.get(`${BASE}/config`, (req, res) => {
    const state = applier.state();
    if (req.query.type === 'json')
      return reply(res, 200, `${state.routes.length} routes`, {
        index: state.index,
        routes: state.routes.map((r) => redactParams(r.params)),
        invalid: state.invalid,
      });
    res.type('text/plain').send(redactConfig(state.config));
  });

  // DFP's metrics: HAProxy's statistics CSV; distribute=true gathers every replica's lines.
  app.get(`${BASE}/metrics`, async (req, res) => {
    const csv = flagParam(requestParams(req), 'distribute') ? await distributor.metrics() : await haproxyStats();
    res.type('text/csv').send(csv);
  });

  // Asked by the replica that took a distribute=true change: "do you serve store index N yet?"
  app.get(`${BASE}/applied`, async (req, res) => {
    const params = requestParams(req);
    const index = wholeNumberParam(params, 'index', 0, Number.MAX_SAFE_INTEGER);
    const waitMs = wholeNumberParam(params, 'waitMs', 0, 30000);
    const serviceName = optionalServiceName(params);
    const state = await applier.waitForIndex(index, waitMs).catch(() => applier.state());
    const invalid = state.invalid.find((entry) => entry.serviceName === serviceName);
    reply(res, 200, `applied index ${state.index}`, { index: state.index, applied: state.index >= index, reason: invalid?.reason });
  });

  addDashboardRoutes(app, dashboard, settings.apiAuth);

  app.use((_req, res) => reply(res, 404, 'no such endpoint'));
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { status, message } = bodyParserError(error) ?? { status: statusFor(error), message: publicMessage(error) };
    if (status >= 500) logger.error({ err: error, path: req.path }, 'request failed');
    else logger.info({ path: req.path, status, reason: message }, 'request refused');
    // A write Consul could not confirm says whether it may still take effect (README).
    reply(res, status, message, error instanceof StoreUnavailable && error.outcome ? { outcome: error.outcome } : {});
  });
  return app;
}
