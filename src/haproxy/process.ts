import execa from 'execa';
import * as fs from 'fs';
import * as path from 'path';
import { setTimeout as sleep } from 'timers/promises';
import { HaproxyError } from '../errors';
import type { Logger } from '../logger';
import { processAlive } from '../files/process-alive';
import type { HaproxyControl, HaproxyExit } from './control';
import { MasterCli, RELOAD_TIMEOUT_MS } from './master-cli';
import { OutputTail } from './output-tail';
import { MASTER_SOCKET_NAME } from '../settings';

export interface ChildHaproxyOptions {
  readonly bin: string;
  /** The master socket is `<stateDir>/master.sock`. */
  readonly stateDir: string;
  readonly logger: Logger;
  /** SIGUSR1 lets workers finish their connections; after this, SIGTERM. Default 5000. */
  readonly stopGraceMs?: number;
  /** How long start() and reload() wait for a worker. Default RELOAD_TIMEOUT_MS. */
  readonly readyTimeoutMs?: number;
  /** Where HAProxy's stdout lines go: its access log (`log stdout`) when DEBUG is on. */
  readonly accessLog?: (line: string) => void;
}

const KILL_AFTER_TERM_MS = 2000;

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/**
 * HAProxy as our child in master-worker mode: `-W` (master-worker), `-db` (stay in the
 * foreground, so the master is the process we spawned and we see it exit), `-S` (master CLI).
 * A reload re-executes the master in place (same pid, same argv), so the config path never
 * changes. If the master dies on its own, listeners of onExit() are told; this class never
 * restarts it by itself (the applier does, from the last-known-good config).
 */
export class ChildHaproxy implements HaproxyControl {
  readonly cli: MasterCli;
  private child: execa.ExecaChildProcess | undefined;
  /** Only a master that once served is restarted when it dies; a failed start is reported. */
  private ready = false;
  private configPath = '';
  private stopping = false;
  private startedAt = 0;
  private reloading = 0;
  /** Aborted when the master we spawned exits: a reload waiting on it ends at once. */
  private exit = new AbortController();
  private readonly exitListeners: ((exit: HaproxyExit) => void)[] = [];
  private readonly tail: OutputTail;

  constructor(private readonly options: ChildHaproxyOptions) {
    this.cli = new MasterCli(path.join(options.stateDir, MASTER_SOCKET_NAME));
    this.tail = new OutputTail(options.logger);
  }

  /** The master's pid (the process we spawned), or undefined when it is not running. */
  pid(): number | undefined {
    return this.running() ? this.child?.pid : undefined;
  }

  get masterSocket(): string {
    return this.cli.socketPath;
  }

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(configPath: string): Promise<void> {
    this.configPath = configPath;
    this.stopping = false;
    await this.spawn();
  }

  async reload(): Promise<void> {
    if (!this.running()) throw new HaproxyError('HAProxy is not running');
    this.reloading++;
    const mark = this.tail.mark();
    try {
      await this.cli.reload(this.options.readyTimeoutMs ?? RELOAD_TIMEOUT_MS, this.exit.signal);
    } catch (error) {
      // HAProxy's own reason (e.g. a port it cannot bind) is on its stderr, not on the socket.
      const alerts = this.tail.linesSince(mark).filter((line) => line.includes('[ALERT]'));
      if (alerts.length === 0) throw error;
      throw new HaproxyError(`${(error as Error).message}: ${alerts.join('\n')}`);
    } finally {
      this.reloading--;
    }
  }

  async responsive(timeoutMs: number): Promise<boolean> {
    if (!this.running() || !this.ready) return false;
    const liveness = await this.cli.liveness(timeoutMs);
    return liveness === 'answered' || (liveness === 'refused' && this.reloading > 0);
  }

  onExit(listener: (exit: HaproxyExit) => void): void {
    this.exitListeners.push(listener);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || !this.running()) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGUSR1');
    if (await settles(exited, this.options.stopGraceMs ?? 5000)) return;
    child.kill('SIGTERM');
    if (await settles(exited, KILL_AFTER_TERM_MS)) return;
    child.kill('SIGKILL');
    await exited;
  }

  /**
   * A master still answering on our socket was left by an earlier sidecar that was killed
   * outright (SIGKILL leaves no chance to stop the child). Two HAProxy masters would share the
   * ports (SO_REUSEPORT) with different configs, so the orphan is stopped before ours starts.
   */
  private async stopOrphan(): Promise<void> {
    const orphan = await this.cli.showProc().catch(() => undefined);
    if (!orphan) return;
    this.options.logger.warn({ pid: orphan.masterPid }, 'stopping an HAProxy master left by an earlier sidecar');
    signal(orphan.masterPid, 'SIGTERM');
    const deadline = Date.now() + KILL_AFTER_TERM_MS;
    while (processAlive(orphan.masterPid) && Date.now() < deadline) await sleep(20);
    if (processAlive(orphan.masterPid)) signal(orphan.masterPid, 'SIGKILL');
  }

  private async spawn(): Promise<void> {
    const socket = this.cli.socketPath;
    await this.stopOrphan();
    fs.rmSync(socket, { force: true });
    const child = execa(this.options.bin, ['-W', '-db', '-S', `${socket},mode,600`, '-f', this.configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
      buffer: false,
      reject: false,
      // Not execa's `cleanup`: its signal-exit hook re-registers after each restart of the
      // master, behind serve's SIGTERM handler, then re-raises SIGTERM and kills the sidecar in
      // the middle of its graceful stop. The exit hook below keeps the "no orphaned HAProxy".
      cleanup: false,
    });
    killAtExit(child);
    this.child = child;
    this.ready = false;
    this.startedAt = Date.now();
    this.exit = new AbortController();
    this.tail.follow(child.stdout, this.options.accessLog);
    this.tail.follow(child.stderr);
    child.on('exit', (code, signal) => this.exited(child, code, signal));
    child.catch(() => undefined);
    await this.waitForWorker(child);
    this.ready = true;
  }

  private async waitForWorker(child: execa.ExecaChildProcess): Promise<void> {
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? RELOAD_TIMEOUT_MS);
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      const proc = await this.cli.showProc().catch(() => undefined);
      if (proc && proc.workers.length > 0) return;
      await sleep(20);
    }
    const why = this.tail.text();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw new HaproxyError(`HAProxy did not start: ${why || 'no worker appeared'}`);
  }

  /** Only a master that once served and was not stopped by us is reported. */
  private exited(child: execa.ExecaChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    this.exit.abort(new HaproxyError(`the HAProxy master exited (code ${code}, signal ${signal})`));
    if (this.stopping || !this.ready) return;
    const exit: HaproxyExit = { code, signal, uptimeMs: Date.now() - this.startedAt };
    for (const listener of this.exitListeners) listener(exit);
  }
}

/** If Node exits without stop() (an uncaught error), the master does not outlive it. */
function killAtExit(child: execa.ExecaChildProcess): void {
  const kill = () => child.kill('SIGTERM');
  process.on('exit', kill);
  child.once('exit', () => process.removeListener('exit', kill));
}

async function settles(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const done = await Promise.race([promise.then(() => true), timeout]);
  clearTimeout(timer);
  return done;
}
