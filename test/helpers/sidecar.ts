import { spawn, ChildProcess } from 'child_process';
import * as path from 'path';
import { request, HttpAnswer } from './backends';
import { supervise } from './child';
import { haproxyPids } from './haproxy-procs';
import { freePort, waitFor } from './ports';
import { tempDir } from './tmp';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

export interface SidecarOptions {
  /** Loopback address for the API and HAProxy's frontends, e.g. 127.0.0.2. */
  readonly host?: string;
  /** API port; several instances on different hosts share one port, as replicas do. */
  readonly apiPort?: number;
  readonly httpPort?: number;
  readonly stateDir?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Node's flags before the CLI; the shipped ones (src/cli.ts's first line) by default. */
  readonly nodeFlags?: readonly string[];
}

/** The flags src/cli.ts, scripts/run.sh and the Docker image run Node with. */
export const SHIPPED_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--heap-growing-percent=50'];

/** The environment they set too (src/cli.ts's first line). */
const SHIPPED_NODE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };

export interface RunningSidecar {
  /** The Node process of the sidecar (its HAProxy master is a child of it). */
  readonly pid: number;
  readonly host: string;
  readonly apiPort: number;
  readonly httpPort: number;
  readonly stateDir: string;
  readonly api: string;
  readonly proxy: string;
  readonly logs: () => string;
  /** A request to the sidecar's API, e.g. call('/v1/docker-flow-proxy/reconfigure?...'). */
  call(pathAndQuery: string, options?: Parameters<typeof request>[1]): Promise<HttpAnswer>;
  /** A request through this instance's HAProxy. */
  through(pathAndQuery: string, headers?: Record<string, string>): Promise<HttpAnswer>;
  stop(): Promise<void>;
  /** SIGKILL the sidecar (not its HAProxy): a crash, as the OOM killer would do it. */
  crash(): void;
}

/**
 * Run the built CLI (`node dist/cli.js serve`) as a user would, with its own HAProxy, on
 * loopback. Resolves once the API answers ping and HAProxy accepts connections.
 */
export async function startSidecar(options: SidecarOptions = {}): Promise<RunningSidecar> {
  const host = options.host ?? '127.0.0.1';
  const apiPort = options.apiPort ?? (await freePort(host));
  const httpPort = options.httpPort ?? (await freePort(host));
  const stateDir = options.stateDir ?? tempDir('sidecar-state-');
  const env = {
    ...process.env,
    ...SHIPPED_NODE_ENV,
    LISTEN_ADDRESS: `${host}:${apiPort}`,
    BIND_ADDRESS: host,
    DEFAULT_PORTS: String(httpPort),
    STATE_DIR: stateDir,
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeFlags ?? SHIPPED_NODE_FLAGS), CLI, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const supervised = supervise(child);
  // SIGTERM first: a SIGKILLed sidecar leaves the HAProxy it started running, which would then
  // hold its ports and files for the rest of the suite; that HAProxy goes too. One the test
  // started itself and the sidecar adopted (HAPROXY_MASTER_SOCKET) is the test's to stop.
  const stopSidecar = async (graceMs: number): Promise<void> => {
    await supervised.stop(graceMs);
    if (!supervised.killedOnStop() || options.env?.HAPROXY_MASTER_SOCKET) return;
    output += `\n[test helper] the sidecar did not stop within ${graceMs} ms: SIGKILLed, its HAProxy too\n`;
    for (const pid of haproxyPids(stateDir)) killQuietly(pid);
  };
  const api = `http://${host}:${apiPort}`;
  const proxy = `http://${host}:${httpPort}`;
  const call = (pathAndQuery: string, requestOptions?: Parameters<typeof request>[1]) => request(`${api}${pathAndQuery}`, requestOptions);
  try {
    await waitFor(
      'the sidecar API and its HAProxy',
      async () => {
        if (supervised.exited()) throw new Error('the sidecar exited');
        const ping = await call('/v1/docker-flow-proxy/ping', { timeoutMs: 1000, headers: authHeader(options.env) });
        if (ping.status !== 200) return false;
        const answer = await request(`${proxy}/`, { timeoutMs: 1000 });
        return answer.status > 0;
      },
      20000,
      50,
    );
  } catch (error) {
    await stopSidecar(3000);
    throw new Error(`${(error as Error).message}\n--- sidecar output ---\n${output}`, { cause: error });
  }
  return {
    pid: child.pid ?? 0,
    host,
    apiPort,
    httpPort,
    stateDir,
    api,
    proxy,
    logs: () => output,
    call,
    through: (pathAndQuery, headers) => request(`${proxy}${pathAndQuery}`, { headers }),
    stop: () => stopSidecar(8000),
    crash: () => supervised.kill(),
  };
}

function authHeader(env: Readonly<Record<string, string>> | undefined): Record<string, string> {
  if (!env?.API_USER || !env.API_PASS) return {};
  return { Authorization: `Basic ${Buffer.from(`${env.API_USER}:${env.API_PASS}`).toString('base64')}` };
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
