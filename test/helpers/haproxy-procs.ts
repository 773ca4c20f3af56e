import * as fs from 'fs';
import * as path from 'path';

/** A process and its parent's pid. */
interface Proc {
  readonly pid: number;
  readonly parent: number;
}

function commandLine(pid: number | string): string[] {
  return fs.readFileSync(path.join('/proc', String(pid), 'cmdline'), 'utf8').split('\0');
}

/** Whether a command line names a path in `stateDir` (HAProxy's config, sockets, pid file). */
function usesStateDir(cmdline: readonly string[], stateDir: string): boolean {
  return cmdline.some((arg) => arg.startsWith(stateDir));
}

/** Every haproxy process whose command line names a path in `stateDir` (a worker has its master's). */
function haproxyProcs(stateDir: string): Proc[] {
  const procs: Proc[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = commandLine(entry);
      if (path.basename(cmdline[0]) !== 'haproxy' || !usesStateDir(cmdline, stateDir)) continue;
      const stat = fs.readFileSync(path.join('/proc', entry, 'stat'), 'utf8');
      procs.push({ pid: Number(entry), parent: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) });
    } catch {
      // The process ended while we looked.
    }
  }
  return procs;
}

/**
 * The pids of HAProxy masters started on `stateDir`'s files: haproxy processes whose command line
 * names a path in it and whose parent is not such a process (that would be a worker).
 */
export function masterPids(stateDir: string): number[] {
  return haproxyProcs(stateDir)
    .filter((proc) => {
      try {
        return !usesStateDir(commandLine(proc.parent), stateDir);
      } catch {
        return false;
      }
    })
    .map((proc) => proc.pid);
}

/** The pids of every HAProxy process (master and workers) started on `stateDir`'s files. */
export function haproxyPids(stateDir: string): number[] {
  return haproxyProcs(stateDir).map((proc) => proc.pid);
}
