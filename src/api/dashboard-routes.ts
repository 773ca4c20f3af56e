import express, { Request } from 'express';
import type { ChangeLog } from '../fleet/change-log';
import type { ReplicaReporter } from '../fleet/replica-report';
import type { Credentials } from '../settings';
import { basicAuth } from './basic-auth';
import { API_BASE } from './distribute';
import { FleetGatherer, plainAddress } from './fleet';

export interface DashboardOptions {
  readonly gatherer: FleetGatherer;
  readonly reporter: ReplicaReporter;
  /** The API tells it which changes it made (see ChangeLog.attribute). */
  readonly changeLog: ChangeLog;
  /** The page's bundled files (dist/ui, made by `npm run build`). */
  readonly uiDir: string;
}

/** The address this request reached us on: what the other replicas call us. */
function localAddress(req: Request): string {
  return plainAddress(req.socket.localAddress ?? '127.0.0.1');
}

/**
 * The fleet dashboard: `/replica` (this replica's report, which the others gather), `/fleet`
 * (every replica's, gathered), and the page under `/ui/` that shows the fleet. The page and `/`
 * are behind API_USER/API_PASS like the API.
 */
export function addDashboardRoutes(app: express.Express, options: DashboardOptions, auth: Credentials | undefined): void {
  app.get(`${API_BASE}/replica`, async (req, res) => {
    const replica = await options.reporter.report(localAddress(req));
    res.json({ status: 'OK', message: `index ${replica.index}, ${replica.routes.length} routes`, replica });
  });
  app.get(`${API_BASE}/fleet`, async (req, res) => {
    const fleet = await options.gatherer.gather(localAddress(req));
    const answered = fleet.replicas.filter((r) => r.answered).length;
    res.json({ status: 'OK', message: `${answered} of ${fleet.replicas.length} replicas answered`, ...fleet });
  });
  if (auth) app.use(['/ui', /^\/$/], basicAuth(auth));
  app.get('/', (_req, res) => res.redirect(302, '/ui/'));
  // The bundle's names do not change between builds: the browser asks again (ETag) on each load.
  app.use('/ui', express.static(options.uiDir, { index: 'index.html', maxAge: 0, redirect: true }));
}
