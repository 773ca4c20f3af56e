import type { ChildProcess } from 'child_process';
import { settleWithin } from './ports';

/** A child process of a test, killed at exit if a test forgets it. */
export interface Supervised {
  readonly exited: () => boolean;
  /** Whether `stop` had to SIGKILL it. */
  readonly killedOnStop: () => boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone (or given up on). */
  stop(graceMs: number): Promise<void>;
  /** SIGKILL at once, for a start that failed half-way. */
  kill(): void;
}

export function supervise(child: ChildProcess): Supervised {
  let exited = child.exitCode !== null;
  let killedOnStop = false;
  const gone = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const killAtExit = () => child.kill('SIGKILL');
  process.on('exit', killAtExit);
  return {
    exited: () => exited,
    killedOnStop: () => killedOnStop,
    async stop(graceMs: number) {
      process.removeListener('exit', killAtExit);
      if (exited) return;
      child.kill('SIGTERM');
      await settleWithin(gone, graceMs);
      if (exited) return;
      killedOnStop = true;
      child.kill('SIGKILL');
      await settleWithin(gone, 1000);
    },
    kill() {
      process.removeListener('exit', killAtExit);
      child.kill('SIGKILL');
    },
  };
}
