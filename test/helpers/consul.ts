import { spawn, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { freePorts, waitFor } from './ports';
import { tempDir } from './tmp';

/**
 * Real Consul for tests, on loopback with ports the test chose: a dev agent, or a three-server
 * cluster whose servers can be killed and restarted. Every process is killed and every data dir
 * removed by stop(), and after the test file's last test (or at process exit) if a test forgot.
 * A Consul that cannot start fails the test with its own output; nothing is skipped.
 */

export const CONSUL_BIN = process.env.CONSUL_BIN ?? path.resolve(__dirname, '..', '..', '.cache', 'bin', 'consul');

const COMMON_HCL = ['disable_update_check = true', 'ports { grpc_tls = -1 }'];

const running = new Set<ChildProcess>();
const agentRoots = new Set<string>();

function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
  for (const root of agentRoots) fs.rmSync(root, { recursive: true, force: true });
  agentRoots.clear();
}

/** killAll, but remove the dirs only once the agents are gone, so none writes into them again. */
async function killAllAndWait(): Promise<void> {
  const exits = [...running].map((child) => new Promise((resolve) => child.once('exit', resolve)));
  for (const child of running) child.kill('SIGKILL');
  await Promise.all(exits);
  killAll();
}

// Jest's sandboxed `process` does not reliably deliver 'exit' to test code, so the test file that
// imports this helper also cleans up after its last test.
if (typeof afterAll === 'function') afterAll(killAllAndWait);
// Ctrl-C reaches the agents directly: they are in the terminal's process group.
process.on('exit', killAll);

/**
 * One consul process. Its output goes to a log file (kept for error messages) rather than a pipe,
 * and the child is unref'd: an agent a test forgot to stop must not keep Jest from exiting.
 */
class ConsulProcess {
  private child?: ChildProcess;

  constructor(
    readonly name: string,
    private readonly args: readonly string[],
    private readonly logFile: string,
  ) {}

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    if (!fs.existsSync(CONSUL_BIN)) throw new Error(`Consul binary not found at ${CONSUL_BIN} (build it with scripts/setup.sh or set CONSUL_BIN)`);
    const log = fs.openSync(this.logFile, 'a');
    const child = spawn(CONSUL_BIN, this.args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    child.on('exit', () => running.delete(child));
    child.unref();
    running.add(child);
    this.child = child;
  }

  private output(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').slice(-4000);
    } catch {
      return '(no output)';
    }
  }

  /** Throws with the agent's own output when it has exited. */
  assertRunning(): void {
    if (!this.alive) throw new Error(`consul ${this.name} exited:\n${this.output()}`);
  }

  /** SIGSTOP / SIGCONT: a server that hangs (accepts TCP, answers nothing) and comes back. */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    if (!this.child || !this.alive) throw new Error(`consul ${this.name} is not running`);
    this.child.kill(signal);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const escalate = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.kill(signal);
    await exited;
    clearTimeout(escalate);
  }
}

async function getJson(url: string, timeoutMs = 1000): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  return { status: response.status, body };
}

/** The leader's server address (`127.0.0.1:port`) as `address` sees it; '' when there is none. */
export async function leaderOf(address: string): Promise<string> {
  const { status, body } = await getJson(`${address}/v1/status/leader`);
  return status === 200 && typeof body === 'string' ? body : '';
}

/** True when `address` knows a leader and its KV answers a read that needs that leader. */
async function kvAnswers(address: string): Promise<boolean> {
  if ((await leaderOf(address)) === '') return false;
  const { status } = await getJson(`${address}/v1/kv/test-readiness-probe`);
  return status === 200 || status === 404;
}

/** A temporary home for one agent: its data dir and its log. */
function agentHome(prefix: string): { root: string; dataDir: string; logFile: string } {
  const root = tempDir(prefix);
  agentRoots.add(root);
  const dataDir = path.join(root, 'data');
  fs.mkdirSync(dataDir);
  return { root, dataDir, logFile: path.join(root, 'consul.log') };
}

function hclArgs(lines: readonly string[]): string[] {
  return lines.flatMap((line) => ['-hcl', line]);
}

export interface ConsulAgent {
  /** `http://127.0.0.1:<port>` */
  readonly address: string;
  /** Its data dir and log; gone after stop(). */
  readonly dataDir: string;
  stop(): Promise<void>;
}

/**
 * A single dev-mode agent (in-memory server), ready when it has elected itself and KV answers.
 * `extraHcl` adds configuration lines, e.g. `limits { http_max_conns_per_client = 10 }`.
 */
export async function startConsulDev(extraHcl: readonly string[] = []): Promise<ConsulAgent> {
  const [http, serfLan, serfWan, server] = await freePorts(4);
  const home = agentHome('consul-dev-');
  const args = [
    'agent',
    '-dev',
    '-node',
    'dev',
    '-bind',
    '127.0.0.1',
    '-client',
    '127.0.0.1',
    '-data-dir',
    home.dataDir,
    '-http-port',
    String(http),
    '-dns-port',
    '-1',
    '-grpc-port',
    '-1',
    '-serf-lan-port',
    String(serfLan),
    '-serf-wan-port',
    String(serfWan),
    '-server-port',
    String(server),
    '-log-level',
    'warn',
    ...hclArgs([...COMMON_HCL, ...extraHcl]),
  ];
  const agent = new ConsulProcess('dev', args, home.logFile);
  const address = `http://127.0.0.1:${http}`;
  const stop = async () => {
    await agent.kill('SIGKILL');
    fs.rmSync(home.root, { recursive: true, force: true });
  };
  agent.start();
  try {
    await waitFor(
      'the Consul dev agent to answer KV',
      async () => {
        agent.assertRunning();
        return kvAnswers(address);
      },
      30000,
      100,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { address, dataDir: home.root, stop };
}

/** The same dev agent, under the name other tests use. */
export const startConsulAgent = startConsulDev;

interface ServerPorts {
  readonly http: number;
  readonly serfLan: number;
  readonly server: number;
}

export interface ConsulCluster {
  /** HTTP base URLs of the servers, in order. */
  readonly addresses: readonly string[];
  /** The index of the current leader; waits until there is one. */
  leader(timeoutMs?: number): Promise<number>;
  /** SIGKILL server i (no graceful leave: a crash). */
  kill(i: number): Promise<void>;
  /** Start server i again with its data dir and ports; resolves when its KV answers. */
  restart(i: number, timeoutMs?: number): Promise<void>;
  isRunning(i: number): boolean;
  /** SIGSTOP server i: it hangs, its sockets stay open and accept connections, nothing answers. */
  pause(i: number): void;
  /** SIGCONT server i after pause(i). */
  resume(i: number): void;
  stop(): Promise<void>;
}

function serverArgs(i: number, ports: readonly ServerPorts[], dataDir: string): string[] {
  const own = ports[i];
  const joins = ports.filter((_, j) => j !== i).flatMap((p) => ['-retry-join', `127.0.0.1:${p.serfLan}`]);
  return [
    'agent',
    '-server',
    '-bootstrap-expect',
    String(ports.length),
    '-node',
    `server-${i}`,
    '-bind',
    '127.0.0.1',
    '-advertise',
    '127.0.0.1',
    '-client',
    '127.0.0.1',
    '-data-dir',
    dataDir,
    '-http-port',
    String(own.http),
    '-dns-port',
    '-1',
    '-grpc-port',
    '-1',
    '-serf-lan-port',
    String(own.serfLan),
    '-serf-wan-port',
    '-1',
    '-server-port',
    String(own.server),
    ...joins,
    '-retry-interval',
    '500ms',
    '-log-level',
    'warn',
    ...hclArgs([
      ...COMMON_HCL,
      'performance { raft_multiplier = 1 }',
      // Keep a killed server a member, so restart(i) rejoins the same three-voter configuration.
      'autopilot { cleanup_dead_servers = false, last_contact_threshold = "500ms", server_stabilization_time = "1s" }',
      'leave_on_terminate = false',
      'skip_leave_on_interrupt = true',
    ]),
  ];
}

/**
 * Three (or `size`) servers with `-bootstrap-expect`, joined to each other over loopback with
 * distinct ports; ready when a leader is elected and every server's KV answers.
 */
export async function startConsulCluster(size = 3): Promise<ConsulCluster> {
  const free = await freePorts(size * 3);
  const ports: ServerPorts[] = Array.from({ length: size }, (_, i) => ({ http: free[i * 3], serfLan: free[i * 3 + 1], server: free[i * 3 + 2] }));
  const homes = ports.map((_, i) => agentHome(`consul-server-${i}-`));
  const servers = ports.map((_, i) => new ConsulProcess(`server-${i}`, serverArgs(i, ports, homes[i].dataDir), homes[i].logFile));
  const addresses = ports.map((p) => `http://127.0.0.1:${p.http}`);

  const leader = async (timeoutMs = 30000): Promise<number> =>
    waitFor(
      'a Consul leader',
      async () => {
        for (let i = 0; i < size; i++) {
          if (!servers[i].alive) continue;
          const found = await leaderOf(addresses[i]).catch(() => '');
          const index = ports.findIndex((p) => found === `127.0.0.1:${p.server}`);
          // A survivor names a dead leader until it notices: only a live one counts.
          if (index >= 0 && servers[index].alive) return { index };
        }
        return false;
      },
      timeoutMs,
      100,
    ).then((found) => found.index);

  const ready = async (i: number, timeoutMs: number) =>
    waitFor(
      `Consul server ${i} to answer KV`,
      async () => {
        servers[i].assertRunning();
        return kvAnswers(addresses[i]);
      },
      timeoutMs,
      100,
    );

  const stop = async () => {
    await Promise.all(servers.map((s) => s.kill('SIGKILL')));
    for (const home of homes) fs.rmSync(home.root, { recursive: true, force: true });
  };

  for (const server of servers) server.start();
  try {
    await Promise.all(servers.map((_, i) => ready(i, 60000)));
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    addresses,
    leader,
    kill: (i) => servers[i].kill('SIGKILL'),
    async restart(i, timeoutMs = 30000) {
      if (servers[i].alive) throw new Error(`Consul server ${i} is still running`);
      servers[i].start();
      await ready(i, timeoutMs);
    },
    isRunning: (i) => servers[i].alive,
    pause: (i) => servers[i].signal('SIGSTOP'),
    resume: (i) => servers[i].signal('SIGCONT'),
    stop,
  };
}
