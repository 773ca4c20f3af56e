import type { Logger } from '../logger';
import type { InvalidRoute } from '../render/types';
import { redactParams } from '../route/redact';
import { Route, RouteParams } from '../route/route';
import { EntryIndex } from '../store/entry-index';
import type { StoreEntry } from '../store/route-store';

/** A parameter's value before and after a change; null on one side: added or removed. */
type ParamChange = readonly [before: string | null, after: string | null];

/** Which parameters differ between two versions of a route, passwords hidden. */
function paramChanges(before: RouteParams | null, after: RouteParams | null): Record<string, ParamChange> {
  const shownBefore = before ? redactParams(before) : {};
  const shownAfter = after ? redactParams(after) : {};
  const changes: Record<string, ParamChange> = Object.create(null);
  for (const name of new Set([...Object.keys(shownBefore), ...Object.keys(shownAfter)])) {
    if (shownBefore[name] !== shownAfter[name]) changes[name] = [shownBefore[name] ?? null, shownAfter[name] ?? null];
  }
  return changes;
}

/**
 * The log lines about single routes, whoever changed them (API, CLI, a hand edit of the store):
 * one line per stored or removed route as the store watch reports it, one error line when a route
 * becomes invalid (left out, with the reason) and one when it is served again. Every replica
 * logs what its store reports, so a change is told where it takes effect.
 */
export class RouteLog {
  private readonly entries = new EntryIndex();
  private invalid = new Map<string, string>();

  constructor(private readonly logger: Logger) {}

  /**
   * A store snapshot at `index`. The first is summed up in one line (at start, 10,000 routes must
   * not make 10,000 lines); from then on each added, changed or removed route gets its own line.
   */
  snapshot(index: number, entries: readonly StoreEntry[]): void {
    if (!this.entries.started) {
      this.entries.update(entries);
      this.logger.info({ index, routes: entries.length }, 'routes read from the store');
      return;
    }
    // A value that is not a route (bad JSON) is stored all the same; the apply reports why it is left out.
    const stored = (entry: StoreEntry, what: Record<string, unknown>) =>
      this.logger.info({ serviceName: entry.serviceName, index, ...what, ...(entry.error ? { error: entry.error } : {}) }, 'route stored');
    this.entries.update(entries, {
      added: (entry) => stored(entry, { change: 'added', params: entry.params && redactParams(entry.params) }),
      changed: (before, after) => stored(after, { change: 'changed', changed: paramChanges(before.params, after.params) }),
      removed: (serviceName) => this.logger.info({ serviceName, index, change: 'removed' }, 'route removed'),
    });
  }

  /**
   * An apply went live at `index`, serving `routes` and leaving `invalid` out. Only what changed
   * since the last apply is logged: a route left out is named once, not on every reload.
   */
  applied(index: number, routes: readonly Route[], invalid: readonly InvalidRoute[]): void {
    if (invalid.length === 0 && this.invalid.size === 0) return;
    const now = new Map(invalid.map((entry) => [entry.serviceName, entry.reason]));
    for (const [serviceName, reason] of now) {
      if (this.invalid.get(serviceName) !== reason) this.logger.error({ serviceName, index, reason }, 'route left out: invalid');
    }
    const served = new Set(routes.map((route) => route.serviceName));
    for (const serviceName of this.invalid.keys()) {
      if (!now.has(serviceName) && served.has(serviceName)) this.logger.info({ serviceName, index }, 'route served again');
    }
    this.invalid = now;
  }
}
