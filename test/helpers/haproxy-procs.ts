import * as fs from 'fs';
import * as path from 'path';

/**
 * The pids of HAProxy masters started on `stateDir`'s files: haproxy processes whose command line
 * names a path in it and whose parent is not such a process (that would be a worker).
 */
export function masterPids(stateDir: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(path.join('/proc', entry, 'cmdline'), 'utf8').split('\0');
      const stat = fs.readFileSync(path.join('/proc', entry, 'stat'), 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const isHaproxy = path.basename(cmdline[0]) === 'haproxy' && cmdline.some((arg) => arg.startsWith(stateDir));
      const parentIsHaproxy = fs
        .readFileSync(path.join('/proc', String(parent), 'cmdline'), 'utf8')
        .split('\0')
        .some((arg) => arg.startsWith(stateDir));
      if (isHaproxy && !parentIsHaproxy) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}
