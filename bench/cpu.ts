import * as fs from 'fs';
import * as path from 'path';

/**
 * CPU time of the processes a peer runs, read from /proc (Linux): the same user + system time
 * `process.cpuUsage()` (getrusage) gives a Node process about itself, but readable from outside,
 * for any process, and including the children it has waited for (`haproxy -c`, `sh`, `socat`, the
 * old HAProxy workers a master reaped).
 */

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ): 100 on every Linux the project runs on. */
const TICKS_PER_SECOND = 100;

export interface CpuReading {
  /** The process itself (all its threads). */
  readonly selfMs: number;
  /** Children it has waited for since it started. */
  readonly reapedChildrenMs: number;
}

/** utime, stime, cutime, cstime of one process; undefined when it is gone. */
function stat(pid: number): CpuReading | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces; the fields after its closing bracket are fixed.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, so index 11.
  const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number);
  const ms = (ticks: number) => (ticks * 1000) / TICKS_PER_SECOND;
  return { selfMs: ms(utime + stime), reapedChildrenMs: ms(cutime + cstime) };
}

/** The direct children of a process (every thread's list). */
function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const children = new Set<number>();
  for (const task of tasks) {
    try {
      for (const child of fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ')) if (child.trim()) children.add(Number(child));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return [...children];
}

/** One process's own CPU and its reaped children's, in ms; zeros when it is gone. */
export function cpuOf(pid: number): CpuReading {
  return stat(pid) ?? { selfMs: 0, reapedChildrenMs: 0 };
}

/**
 * An HAProxy master-worker tree: the master, the workers it has reaped (old ones after reloads)
 * and the workers still running, in ms.
 */
export function haproxyTreeMs(masterPid: number): number {
  const master = stat(masterPid);
  if (!master) return 0;
  const workers = childrenOf(masterPid).map((pid) => stat(pid)?.selfMs ?? 0);
  return master.selfMs + master.reapedChildrenMs + workers.reduce((sum, ms) => sum + ms, 0);
}

/** The command line of a process, argument by argument; [] when it is gone. */
function argsOf(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** The child of `parentPid` whose command line contains `needle` (e.g. the sidecar's check shell). */
export function childWith(parentPid: number, needle: string): number | undefined {
  return childrenOf(parentPid).find((pid) => argsOf(pid).join(' ').includes(needle));
}

/**
 * The child of `parentPid` that runs `program` (e.g. `haproxy`: the sidecar's HAProxy master, not
 * its check shell, whose command line names HAProxy's binary too).
 */
export function childRunning(parentPid: number, program: string): number | undefined {
  return childrenOf(parentPid).find((pid) => path.basename(argsOf(pid)[0] ?? '') === program);
}
