import { spawn, spawnSync, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { MasterCli } from '../../src/haproxy/master-cli';
import { supervise } from './child';
import { waitFor } from './ports';
import { tempDir } from './tmp';

export const HAPROXY_BIN = process.env.HAPROXY_BIN ?? 'haproxy';

/** The `defaults` section of the small HTTP configs tests give HAProxy directly. */
export const HTTP_DEFAULTS: readonly string[] = ['defaults', '  mode http', '  timeout connect 2s', '  timeout client 10s', '  timeout server 10s'];

export interface CheckResult {
  readonly ok: boolean;
  readonly output: string;
}

/** `haproxy -c` on a config text. */
export function checkConfig(config: string): CheckResult {
  const dir = tempDir('haproxy-check-');
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(file, config);
  const result = spawnSync(HAPROXY_BIN, ['-c', '-q', '-f', file], { encoding: 'utf8' });
  if (result.error) throw new Error(`cannot run ${HAPROXY_BIN}: ${result.error.message}`);
  fs.rmSync(dir, { recursive: true, force: true });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}`.trim() };
}

export interface RunningHaproxy {
  readonly dir: string;
  readonly configPath: string;
  readonly masterSocket: string;
  readonly pid: number;
  /** Replace the config and reload through the master CLI; resolves when a new worker runs it. */
  reload(config: string): Promise<void>;
  stop(): Promise<void>;
}

/** The sidecar's own master CLI client, on a test HAProxy's socket. */
function masterCli(socketPath: string): MasterCli {
  return new MasterCli(socketPath, 5000);
}

async function workerPids(socketPath: string): Promise<readonly number[]> {
  return (await masterCli(socketPath).showProc()).workers;
}

/**
 * Start a real HAProxy in master-worker mode with `config`, with `env` added to its environment
 * (what `%[env(NAME)]` reads). It fails (rejects) when HAProxy cannot start; the caller must call
 * stop(). The process is killed at exit if a test forgets.
 */
export async function startHaproxy(config: string, env: Readonly<Record<string, string>> = {}): Promise<RunningHaproxy> {
  const check = checkConfig(config);
  if (!check.ok) throw new Error(`haproxy -c rejected the test config:\n${check.output}\n---\n${config}`);
  const dir = tempDir('haproxy-run-');
  const configPath = path.join(dir, 'haproxy.cfg');
  const masterSocket = path.join(dir, 'master.sock');
  fs.writeFileSync(configPath, config);
  const child: ChildProcess = spawn(HAPROXY_BIN, ['-W', '-db', '-S', masterSocket, '-f', configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const supervised = supervise(child);
  try {
    await waitFor(
      'HAProxy master socket and first worker',
      async () => {
        if (supervised.exited()) throw new Error(`haproxy exited: ${stderr}`);
        if (!fs.existsSync(masterSocket)) return false;
        return (await workerPids(masterSocket)).length > 0;
      },
      10000,
    );
    if (supervised.exited()) throw new Error(`haproxy exited: ${stderr}`);
  } catch (error) {
    // A half-started HAProxy (and its stderr pipe) would keep the test run alive forever.
    supervised.kill();
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    configPath,
    masterSocket,
    pid: child.pid ?? 0,
    async reload(next: string) {
      fs.writeFileSync(configPath, next);
      await masterCli(masterSocket).reload(10000);
    },
    async stop() {
      await supervised.stop(5000);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
