import type { ApplyReport } from '../applier/applied-state';
import type { HaproxyExit } from '../haproxy/control';
import type { ReloadRow } from './report-types';

/**
 * What happened to HAProxy lately: how often its master died (the applier starts it again each
 * time) and the last apply that tried to change what it serves. Fed by the applier's reports and
 * HAProxy's exit events.
 */
export class ReloadHistory {
  private exits = 0;
  private last?: ReloadRow;

  constructor(private readonly now: () => Date = () => new Date()) {}

  readonly onReport = (report: ApplyReport): void => {
    // Skipped: nothing to change, nothing reloaded.
    if (report.outcome === 'skipped') return;
    this.last = { at: this.now().toISOString(), outcome: report.outcome, ...(report.error ? { error: report.error } : {}) };
  };

  readonly onExit = (_exit: HaproxyExit): void => {
    this.exits++;
  };

  restarts(): number {
    return this.exits;
  }

  lastReload(): ReloadRow | undefined {
    return this.last;
  }
}
