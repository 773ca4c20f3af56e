import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as os from 'os';
import type { Readable, Writable } from 'stream';

/** How a `haproxy -c` run ended: its exit code (null when killed) and its stderr. */
export interface CheckRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** The shell could not run the check (it died, or HAProxy could not be started): run it another way. */
export class ShellUnavailable extends Error {}

/**
 * For each config path read from stdin: `haproxy -c -f <path>` with its stderr (stdout is only
 * "Configuration file is valid") into the shell's stdout, then a line with the end marker and the
 * exit status. $1 is HAProxy's binary, $2 the marker.
 */
const SCRIPT = 'while IFS= read -r file; do "$1" -c -f "$file" 2>&1 >/dev/null </dev/null; printf \'\\n%s %s\\n\' "$2" "$?"; done';

/** The shell's $0: its name in `ps` (and what the benchmark looks for to count its CPU). */
export const CHECK_SHELL_NAME = 'haproxy-sidecar-check';

/** sh's statuses for a command it could not run (not executable, not found). */
const NOT_RUN = new Set([126, 127]);

interface Pending {
  readonly resolve: (run: CheckRun) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * One `sh` that runs `haproxy -c` for us, started once and kept. Node starts a child by forking
 * itself: at 1,000 routes (about 100 MB resident) that fork and the start-up around it were about
 * 15% of the sidecar's CPU per KV edit in a profile, as every edit that renders a new config runs
 * a check. The shell is a megabyte and forks for next to nothing. One check at a time: a second one at once, or any
 * trouble with the shell, is for the caller to run directly (check.ts). No npm package keeps a
 * shell to run commands through with their status; this is a dozen lines of protocol.
 */
export class CheckShell {
  private readonly child: ChildProcess;
  private readonly stdin: Writable;
  private readonly stdout: Readable & { ref(): void; unref(): void };
  private readonly marker = `${CHECK_SHELL_NAME}-done-${randomBytes(8).toString('hex')}`;
  private output = '';
  private pending: Pending | undefined;
  private gone = false;
  private finished = 0;

  constructor(readonly bin: string) {
    // Its own process group: a check that outlives its deadline is killed with the shell.
    this.child = spawn('/bin/sh', ['-c', SCRIPT, CHECK_SHELL_NAME, bin, this.marker], { stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    this.stdin = this.child.stdin as Writable;
    this.stdout = this.child.stdout as Readable & { ref(): void; unref(): void };
    // Idle, it must not keep Node running; when Node exits, its stdin ends and so does the loop.
    this.child.unref();
    this.stdout.unref();
    this.stdout.setEncoding('utf8');
    this.stdout.on('data', (chunk: string) => this.read(chunk));
    this.stdin.on('error', () => this.end());
    this.child.on('error', () => this.end());
    this.child.on('exit', () => this.end());
  }

  /** Whether a check can be handed to this shell now. */
  get idle(): boolean {
    return !this.gone && this.pending === undefined;
  }

  /** Whether it can take checks (now or once the one it runs is done). */
  get usable(): boolean {
    return !this.gone;
  }

  /** Whether it has finished a check: a shell that never did (no sh, or `bin` cannot run) is not worth starting again. */
  get worked(): boolean {
    return this.finished > 0;
  }

  /** `haproxy -c -f configPath`; ShellUnavailable when the shell cannot tell (run it directly then). */
  check(configPath: string, timeoutMs: number): Promise<CheckRun> {
    if (!this.idle || configPath.includes('\n')) return Promise.reject(new ShellUnavailable('the check shell is busy'));
    return new Promise<CheckRun>((resolve, reject) => {
      const timer = setTimeout(() => this.timedOut(), timeoutMs);
      this.pending = { resolve, reject, timer };
      this.stdout.ref();
      this.stdin.write(`${configPath}\n`);
    });
  }

  /** Stop the shell (and a check it runs). */
  stop(): void {
    this.kill();
    this.end();
  }

  private read(chunk: string): void {
    this.output += chunk;
    const end = this.output.lastIndexOf(`\n${this.marker} `);
    if (end < 0 || !this.output.endsWith('\n')) return;
    const code = Number(this.output.slice(end + this.marker.length + 2, -1));
    const stderr = this.output.slice(0, end);
    this.output = '';
    if (NOT_RUN.has(code)) {
      // The direct run says why in Node's words (ENOENT, EACCES); this binary goes that way from now on.
      this.stop();
      return;
    }
    this.finished++;
    const signal = code > 128 ? signalName(code - 128) : null;
    this.settle((pending) => pending.resolve({ code: signal ? null : code, signal, stderr }));
  }

  /** Past the deadline: the shell and HAProxy go, and the check ends as one killed. */
  private timedOut(): void {
    const stderr = this.output;
    this.kill();
    this.settle((pending) => pending.resolve({ code: null, signal: 'SIGKILL', stderr }));
    this.end();
  }

  private kill(): void {
    if (this.gone || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }

  private end(): void {
    this.gone = true;
    this.settle((pending) => pending.reject(new ShellUnavailable('the check shell ended')));
  }

  private settle(how: (pending: Pending) => void): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    clearTimeout(pending.timer);
    this.stdout.unref();
    how(pending);
  }
}

function signalName(number: number): NodeJS.Signals | null {
  const found = Object.entries(os.constants.signals).find(([, value]) => value === number);
  return found ? (found[0] as NodeJS.Signals) : null;
}
