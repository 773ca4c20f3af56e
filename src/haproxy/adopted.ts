import { HaproxyError } from '../errors';
import type { Logger } from '../logger';
import type { HaproxyControl } from './control';
import { MasterCli, RELOAD_TIMEOUT_MS } from './master-cli';

export interface AdoptedHaproxyOptions {
  /** HAPROXY_MASTER_SOCKET of an HAProxy started elsewhere with `-W -S <socket> -f <HAPROXY_CONFIG>`. */
  readonly masterSocket: string;
  readonly logger: Logger;
  /** How often running() is refreshed from `show proc`. Default 1000. */
  readonly probeMs?: number;
  readonly reloadTimeoutMs?: number;
}

/**
 * An HAProxy someone else runs (e.g. a container sharing a volume). We write its config file
 * (the applier does) and reload it through its master socket; we never start or stop it.
 */
export class AdoptedHaproxy implements HaproxyControl {
  private readonly cli: MasterCli;
  private reachable = false;
  private probe: NodeJS.Timeout | undefined;
  private reloading = 0;

  constructor(private readonly options: AdoptedHaproxyOptions) {
    this.cli = new MasterCli(options.masterSocket);
  }

  get masterSocket(): string {
    return this.options.masterSocket;
  }

  running(): boolean {
    return this.reachable;
  }

  /** The adopted HAProxy already runs `configPath`; reload so it serves what we just wrote. */
  async start(_configPath: string): Promise<void> {
    await this.check();
    if (!this.reachable) throw new HaproxyError(`adopted HAProxy is unreachable on ${this.options.masterSocket}`);
    this.probe = setInterval(() => void this.check(), this.options.probeMs ?? 1000);
    this.probe.unref();
    await this.reload();
  }

  async reload(): Promise<void> {
    // A master that re-executes refuses connections for a while, and so does a dead one; only the
    // probe's view over time tells them apart. Known gone: fail now rather than wait for it.
    if (!this.reachable) throw new HaproxyError(`adopted HAProxy is unreachable on ${this.options.masterSocket}`);
    this.reloading++;
    try {
      await this.cli.reload(this.options.reloadTimeoutMs ?? RELOAD_TIMEOUT_MS);
      this.reachable = true;
    } catch (error) {
      await this.check();
      throw error;
    } finally {
      this.reloading--;
    }
  }

  async responsive(timeoutMs: number): Promise<boolean> {
    const liveness = await this.cli.liveness(timeoutMs);
    return liveness === 'answered' || (liveness === 'refused' && this.reloading > 0);
  }

  async stop(): Promise<void> {
    if (this.probe) clearInterval(this.probe);
    this.probe = undefined;
  }

  private async check(): Promise<void> {
    const was = this.reachable;
    try {
      this.reachable = (await this.cli.showProc()).workers.length > 0;
    } catch (error) {
      this.reachable = false;
      if (was) this.options.logger.error({ socket: this.options.masterSocket, err: (error as Error).message }, 'adopted haproxy unreachable');
    }
  }
}
