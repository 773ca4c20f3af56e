import type { ChangeEntry, FleetInvalid, FleetReport, FleetRoute, ReplicaReport, ReplicaSummary, RouteStats } from './report-types';
import { CHANGES_KEPT } from './change-log';

/** One replica's report, or why it did not give one by the deadline. */
export type Gathered = { readonly address: string; readonly self: boolean } & ({ readonly report: ReplicaReport } | { readonly error: string });

function answered(gathered: Gathered): gathered is Gathered & { report: ReplicaReport } {
  return 'report' in gathered;
}

/** The config hash most replicas at the highest index have (ties: the smallest, so every replica picks the same). */
function majorityHash(reports: readonly ReplicaReport[], top: number): string | undefined {
  const counts = new Map<string, number>();
  for (const report of reports) if (report.index === top) counts.set(report.configHash, (counts.get(report.configHash) ?? 0) + 1);
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return ranked[0]?.[0];
}

function summaries(gathered: readonly Gathered[]): ReplicaSummary[] {
  const reports = gathered.filter(answered).map((g) => g.report);
  const top = Math.max(0, ...reports.map((r) => r.index));
  const majority = majorityHash(reports, top);
  return gathered.map((g): ReplicaSummary => {
    if (!('report' in g)) return { address: g.address, self: g.self, answered: false, error: g.error, serving: false, lagging: false, differs: false };
    const r = g.report;
    return {
      address: g.address,
      self: g.self,
      answered: true,
      index: r.index,
      configHash: r.configHash,
      haproxy: r.haproxy,
      ...(r.lastReload ? { lastReload: r.lastReload } : {}),
      routes: r.routes.length,
      invalid: r.invalid.length,
      serving: r.haproxy.up,
      lagging: r.index < top,
      differs: r.index === top && r.configHash !== majority,
    };
  });
}

function routes(gathered: readonly Gathered[]): FleetRoute[] {
  const rows = new Map<string, { destinations: FleetRoute['destinations']; perReplica: (RouteStats | null)[] }>();
  gathered.forEach((g, i) => {
    if (!answered(g)) return;
    for (const route of g.report.routes) {
      const row = rows.get(route.serviceName) ?? { destinations: route.destinations, perReplica: gathered.map(() => null) };
      const { status, servers, serversUp, requests, errors } = route;
      row.perReplica[i] = { status, servers, serversUp, requests, errors };
      rows.set(route.serviceName, row);
    }
  });
  return [...rows]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([serviceName, row]) => ({
      serviceName,
      destinations: row.destinations,
      perReplica: row.perReplica,
      requests: row.perReplica.reduce((sum, cell) => sum + (cell?.requests ?? 0), 0),
      errors: row.perReplica.reduce((sum, cell) => sum + (cell?.errors ?? 0), 0),
    }));
}

function invalid(gathered: readonly Gathered[]): FleetInvalid[] {
  const rows = new Map<string, { reason: string; replicas: string[] }>();
  for (const g of gathered.filter(answered)) {
    for (const entry of g.report.invalid) {
      const row = rows.get(entry.serviceName) ?? { reason: entry.reason, replicas: [] };
      row.replicas.push(g.address);
      rows.set(entry.serviceName, row);
    }
  }
  return [...rows].map(([serviceName, row]) => ({ serviceName, ...row }));
}

/** Every replica logs the same store changes: one line each, from the replica that knows who made it. */
function changes(gathered: readonly Gathered[]): ChangeEntry[] {
  const merged = new Map<string, ChangeEntry>();
  for (const g of gathered.filter(answered)) {
    for (const change of g.report.changes) {
      const key = `${change.index}\u0000${change.serviceName}\u0000${change.what}`;
      const known = merged.get(key);
      if (!known) merged.set(key, change);
      else if (known.source === 'KV edit' && change.source !== 'KV edit') merged.set(key, { ...change, at: known.at < change.at ? known.at : change.at });
      else if (change.at < known.at) merged.set(key, { ...known, at: change.at });
    }
  }
  return [...merged.values()].sort((a, b) => b.index - a.index || (a.at < b.at ? 1 : -1)).slice(0, CHANGES_KEPT);
}

/** The fleet from each replica's report (in `gathered`'s order): who lags, who differs, every route on every replica. */
export function fleetReport(gathered: readonly Gathered[], peers: FleetReport['peers'], now: Date = new Date()): FleetReport {
  const first = gathered.find((g) => g.self && answered(g)) ?? gathered.find(answered);
  return {
    generatedAt: now.toISOString(),
    peers,
    replicas: summaries(gathered),
    routes: routes(gathered),
    invalid: invalid(gathered),
    certs: first && answered(first) ? first.report.certs : [],
    changes: changes(gathered),
  };
}
