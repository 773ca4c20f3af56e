import * as net from 'net';
import { setTimeout as sleep } from 'timers/promises';
import { HaproxyError } from '../errors';

/** What `show proc` on the master CLI says, reduced to what a reload check needs. */
export interface ProcList {
  readonly masterPid: number;
  readonly reloads: number;
  /** Reloads the master could not complete (2.6 prints `[failed: N]`). */
  readonly failed: number;
  readonly workers: readonly number[];
}

const COMMAND_TIMEOUT_MS = 2000;
// The master's socket is a cheap local round trip; a short poll confirms reloads sooner.
const POLL_MS = 5;
/**
 * A reload of a big config takes the master 100 ms or more, and each poll meanwhile (a refused
 * connect, or a `show proc` without the new worker) costs the sidecar CPU: after each poll the
 * pause grows by 1 ms up to this, so a quick reload is still seen within a few ms.
 */
const MAX_POLL_MS = 20;
/** The first poll after a reload comes after this share of the last reload's time... */
const FIRST_POLL_SHARE = 0.7;
/** ...but never later than this after the command. */
const MAX_FIRST_POLL_MS = 500;

/**
 * How long a reload (or a start) may take before it counts as failed. A big config on a busy
 * machine takes HAProxy seconds to re-execute and parse (3 MB, 10,000 routes: 3-8 s here), and
 * its master socket refuses connections all that time: that is progress, not failure. Giving up
 * too early would roll back underneath a reload that is about to succeed.
 */
export const RELOAD_TIMEOUT_MS = 120000;

/**
 * Parse `show proc`. The master line reads `<pid> master <reloads> [failed: N] <uptime> <version>`;
 * worker lines `<pid> worker <reloads> <uptime> <version>` (old workers still draining included).
 */
export function parseShowProc(text: string): ProcList {
  let master: { pid: number; reloads: number; failed: number } | undefined;
  const workers: number[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const pid = Number(fields[0]);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    if (fields[1] === 'master') {
      const failed = /\[failed:\s*(\d+)\]/.exec(line);
      master = { pid, reloads: Number(fields[2]), failed: failed ? Number(failed[1]) : 0 };
    } else if (fields[1] === 'worker') {
      workers.push(pid);
    }
  }
  if (!master) throw new HaproxyError(`unexpected answer to show proc: ${JSON.stringify(text.slice(0, 200))}`);
  return { masterPid: master.pid, reloads: master.reloads, failed: master.failed, workers };
}

/** The master CLI socket (`haproxy -W -S <socket>`): one connection per command. */
export class MasterCli {
  /** How long the last confirmed reload took, from the command to the new worker. */
  private lastReloadMs = 0;

  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = COMMAND_TIMEOUT_MS,
  ) {}

  /**
   * Send one command and read the whole answer. The write is half-closed: the master CLI only
   * ends a non-interactive session once it has seen the end of the input.
   */
  command(command: string, timeoutMs = this.timeoutMs): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.socketPath);
      let answer = '';
      socket.setTimeout(timeoutMs, () => socket.destroy(new HaproxyError(`${command}: no answer from ${this.socketPath}`)));
      socket.on('connect', () => socket.end(`${command}\n`));
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      socket.on('end', () => resolve(answer));
      socket.on('error', (error) => reject(error instanceof HaproxyError ? error : new HaproxyError(`${this.socketPath}: ${error.message}`)));
    });
  }

  /**
   * Send several commands on one connection and read one answer each, in order. The master runs
   * the lines one after another (a payload command's lines included), and its non-interactive
   * session ends every answer with an empty line; so this is for commands whose answers hold no
   * empty line of their own (map commands). One connection instead of one per command: each costs
   * a connect and a session on the master and on the worker. Throws when the answers cannot be
   * matched to the commands (the master closed early).
   */
  async commands(commands: readonly string[], timeoutMs = this.timeoutMs): Promise<string[]> {
    const answer = await this.command(commands.join('\n'), timeoutMs);
    const answers = splitAnswers(answer);
    if (answers.length !== commands.length) {
      throw new HaproxyError(`${commands.length} commands got ${answers.length} answers from ${this.socketPath}: ${JSON.stringify(answer.slice(0, 200))}`);
    }
    return answers;
  }

  async showProc(timeoutMs = this.timeoutMs): Promise<ProcList> {
    return parseShowProc(await this.command('show proc', timeoutMs));
  }

  /**
   * Whether the master is alive, within `timeoutMs`: `answered` (with at least one worker),
   * `refused` (no one listens: re-executing for a reload, or gone) or `silent` (connected, no
   * answer in time: a master that hangs or is stopped, whose old workers may still serve but which
   * can no longer reload or restart them).
   */
  async liveness(timeoutMs: number): Promise<'answered' | 'refused' | 'silent'> {
    try {
      return (await this.showProc(timeoutMs)).workers.length > 0 ? 'answered' : 'refused';
    } catch (error) {
      return /no answer/.test((error as Error).message) ? 'silent' : 'refused';
    }
  }

  /** `show proc`, waiting while the master is busy re-executing (its socket refuses meanwhile). */
  private async answered(deadline: number, signal?: AbortSignal): Promise<ProcList> {
    for (;;) {
      signal?.throwIfAborted();
      try {
        return await this.showProc();
      } catch (error) {
        if (Date.now() >= deadline) throw new HaproxyError(`the HAProxy master does not answer on ${this.socketPath}: ${(error as Error).message}`);
        await sleep(POLL_MS * 4);
      }
    }
  }

  /**
   * Reload and confirm. 2.6's master answers nothing to `reload` and re-executes itself (its
   * socket refuses connections meanwhile), so success is read from `show proc` afterwards:
   * the same master, a worker that was not there before, and no new failure. Aborting `signal`
   * (the master is known to be dead) ends the wait at once with the signal's reason.
   */
  async reload(timeoutMs: number = RELOAD_TIMEOUT_MS, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const before = await this.answered(deadline, signal);
    const started = Date.now();
    await this.command('reload').catch(() => '');
    // The master parses the same config again: a reload takes about as long as the last one did,
    // and each poll before then (a refused connect, two errors) costs CPU for nothing.
    let wait = Math.max(POLL_MS, Math.min(this.lastReloadMs * FIRST_POLL_SHARE, MAX_FIRST_POLL_MS));
    for (let pause = POLL_MS; Date.now() < deadline; wait = pause = Math.min(pause + 1, MAX_POLL_MS)) {
      await sleep(wait);
      signal?.throwIfAborted();
      const after = await this.showProc().catch(() => undefined);
      if (after && reloadDone(before, after)) {
        this.lastReloadMs = Date.now() - started;
        return;
      }
    }
    throw new HaproxyError(`no new HAProxy worker within ${timeoutMs} ms of the reload`);
  }
}

/** The answers of a non-interactive session, each ended by an empty line (an empty answer is that line alone). */
export function splitAnswers(text: string): string[] {
  const lines = text.split('\n');
  // The text ends with a newline: the last "line" is what follows it, nothing.
  if (lines[lines.length - 1] === '') lines.pop();
  const answers: string[] = [];
  let current: string[] = [];
  for (const line of lines) {
    if (line !== '') {
      current.push(line);
      continue;
    }
    answers.push(current.map((l) => `${l}\n`).join(''));
    current = [];
  }
  // Lines after the last empty one are an answer cut short: not counted, so the count tells.
  return answers;
}

/** True when the reload is confirmed; throws when it is known to have failed. */
function reloadDone(before: ProcList, after: ProcList): boolean {
  if (after.masterPid !== before.masterPid) throw new HaproxyError('the HAProxy master was replaced during the reload');
  if (after.failed > before.failed) throw new HaproxyError('HAProxy could not load the new configuration; the previous workers keep serving');
  return after.workers.some((pid) => !before.workers.includes(pid));
}
