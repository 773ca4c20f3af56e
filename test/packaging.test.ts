import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { startBackend } from './helpers/backends';
import { startDnsmasq } from './helpers/dnsmasq';
import { freePorts, settleWithin, waitFor } from './helpers/ports';
import { CLI, REPO_ROOT, startSidecar } from './helpers/sidecar';
import { removeTempDirs, tempDir } from './helpers/tmp';

const DNSMASQ = fs.existsSync('/usr/sbin/dnsmasq') ? '/usr/sbin/dnsmasq' : 'dnsmasq';

function run(command: string, args: string[], env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(command, args, {
    env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}`, ...env },
    encoding: 'utf8',
    timeout: 30000,
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

const flagsOf = (help: string) => new Set([...help.matchAll(/^\s+(--[a-z-]+)/gm)].map((m) => m[1]));

/** Settings the store needs, and settings that shape the rendered haproxy.cfg. */
const STORE_FLAGS = ['--consul-address', '--consul-token', '--proxy-instance-name', '--state-dir', '--request-timeout-ms'];
const CONFIG_FLAGS = [
  '--bind-address',
  '--default-ports',
  '--templates-dir',
  '--haproxy-bin',
  '--haproxy-resolvers',
  '--timeout-connect',
  '--timeout-http-keep-alive',
  '--hard-stop-after',
  '--stats-user',
  '--stats-pass',
  '--stats-uri',
  '--stats-port',
];
const SERVE_ONLY_FLAGS = [
  '--listen-address',
  '--api-user',
  '--api-pass',
  '--service-name',
  '--dns-server',
  '--reload-quiet-ms',
  '--reload-max-delay-ms',
  '--reconcile-interval',
  '--distribute-timeout-ms',
  '--haproxy-master-socket',
];

describe('the package as installed', () => {
  afterAll(removeTempDirs);

  it('builds dist/cli.js as an executable that runs on its own', () => {
    expect(fs.statSync(CLI).mode & 0o111).toBe(0o111);
    const version = run(CLI, ['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('lists only the store settings in routes --help', () => {
    for (const command of [
      ['routes', '--help'],
      ['routes', 'add', '--help'],
      ['routes', 'list', '--help'],
    ]) {
      const flags = flagsOf(run(process.execPath, [CLI, ...command]).stdout);
      for (const flag of STORE_FLAGS) expect({ command, flag, listed: flags.has(flag) }).toEqual({ command, flag, listed: true });
      for (const flag of [...CONFIG_FLAGS, ...SERVE_ONLY_FLAGS]) expect({ command, flag, listed: flags.has(flag) }).toEqual({ command, flag, listed: false });
    }
  });

  it.each(['render', 'validate'])('lists the store and config settings in %s --help, not serve-only ones', (command) => {
    const flags = flagsOf(run(process.execPath, [CLI, command, '--help']).stdout);
    for (const flag of [...STORE_FLAGS, ...CONFIG_FLAGS]) expect({ flag, listed: flags.has(flag) }).toEqual({ flag, listed: true });
    for (const flag of SERVE_ONLY_FLAGS) expect({ flag, listed: flags.has(flag) }).toEqual({ flag, listed: false });
  });

  it('renders and validates with the flags that shape the config, as serve would', () => {
    const stateDir = tempDir('render-flags-');
    const flags = [
      '--state-dir',
      stateDir,
      '--bind-address',
      '127.0.0.9',
      '--default-ports',
      '8111',
      '--timeout-connect',
      '7',
      '--stats-user',
      'ops',
      '--stats-pass',
      'x',
    ];
    const rendered = run(process.execPath, [CLI, 'render', ...flags]);
    expect(rendered.code).toBe(0);
    expect(rendered.stdout).toContain('bind 127.0.0.9:8111');
    expect(rendered.stdout).toContain('timeout connect 7s');
    expect(run(process.execPath, [CLI, 'validate', ...flags]).code).toBe(0);
    expect(run(process.execPath, [CLI, 'render', ...flags, '--listen-address', '127.0.0.1:1']).code).toBe(2);
  });
});

describe('the quick-start route (a server name only Docker DNS knows)', () => {
  let dnsmasq: ChildProcess | undefined;

  afterAll(async () => {
    if (dnsmasq && dnsmasq.exitCode === null) {
      const gone = new Promise((resolve) => dnsmasq?.once('exit', resolve));
      dnsmasq.kill('SIGTERM');
      await settleWithin(gone, 5000);
    }
    removeTempDirs();
  });

  it('is checked by haproxy -c without asking the system resolver', async () => {
    // The system resolver of `validate` is a dnsmasq that logs every query, through a private
    // mount namespace whose /etc/resolv.conf points at it (resolv.conf cannot name a port: 53).
    const dir = tempDir('quick-start-dns-');
    // Port 53 on an address of our own: parallel runs pick different ones.
    const address = `127.83.${1 + Math.floor(Math.random() * 250)}.53`;
    const log = path.join(dir, 'dnsmasq.log');
    fs.writeFileSync(path.join(dir, 'resolv.conf'), `nameserver ${address}\n`);
    const out = fs.openSync(log, 'a');
    dnsmasq = spawn(
      DNSMASQ,
      [
        '--no-daemon',
        '--no-resolv',
        '--no-hosts',
        '--conf-file=/dev/null',
        `--listen-address=${address}`,
        '--bind-interfaces',
        '--port=53',
        '--local=/#/',
        '--log-queries',
        '--log-facility=-',
      ],
      { stdio: ['ignore', out, out] },
    );
    fs.closeSync(out);
    await waitFor(
      'dnsmasq to start',
      async () => {
        if (dnsmasq?.exitCode !== null) throw new Error(`dnsmasq exited: ${fs.readFileSync(log, 'utf8')}`);
        return fs.readFileSync(log, 'utf8').includes('started');
      },
      10000,
      50,
    );
    // A state dir that does not exist yet, as on a first run.
    const stateDir = path.join(dir, 'state');
    const env = { STATE_DIR: stateDir, CONSUL_ADDRESS: '', DEFAULT_PORTS: '8111', BIND_ADDRESS: '127.0.0.1' };
    const node = process.execPath;
    const add = `${node} ${CLI} routes add serviceName=go-demo servicePath=/demo port=8080`;
    const script = `mount --bind ${dir}/resolv.conf /etc/resolv.conf && ${add} && ${node} ${CLI} validate`;
    const result = run('unshare', ['-m', 'sh', '-c', script], env);
    expect(result.stderr + result.stdout).toContain('configuration is valid');
    expect(result.code).toBe(0);
    // A positive control that the namespace trick works: a lookup from inside it reaches dnsmasq.
    run('unshare', ['-m', 'sh', '-c', `mount --bind ${dir}/resolv.conf /etc/resolv.conf && getent hosts control-probe`]);
    await waitFor('the control lookup to reach dnsmasq', async () => fs.readFileSync(log, 'utf8').includes('control-probe'), 5000, 50);
    expect(fs.readFileSync(log, 'utf8')).not.toMatch(/query\[\w+\] go-demo/);
  }, 60000);

  it('reaches the server once HAProxy resolves its name through HAPROXY_RESOLVERS', async () => {
    const backend = await startBackend('go-demo');
    const dns = await startDnsmasq({ 'go-demo': ['127.0.0.1'] });
    const [httpPort] = await freePorts(1);
    const sidecar = await startSidecar({ httpPort, env: { HAPROXY_RESOLVERS: dns.address } });
    try {
      expect((await sidecar.call(`/v1/docker-flow-proxy/reconfigure?serviceName=go-demo&servicePath=/demo&port=${backend.port}`)).status).toBe(200);
      await waitFor('HAProxy to resolve go-demo and reach it', async () => (await sidecar.through('/demo/hello')).backend === 'go-demo', 20000, 200);
    } finally {
      await sidecar.stop();
      await dns.stop();
      await backend.close();
    }
  }, 60000);
});

describe('the Docker recipes', () => {
  const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');

  /** The lines of one service of docker-stack.yml (two-space indented under `services:`). */
  function service(name: string): string {
    const lines = read('docker-stack.yml').split('\n');
    const start = lines.indexOf(`  ${name}:`);
    expect(start).toBeGreaterThan(0);
    const end = lines.findIndex((line, i) => i > start && /^ {0,2}\S/.test(line));
    return lines.slice(start, end < 0 ? undefined : end).join('\n');
  }

  it('does not publish an API without basic auth in docker-stack.yml', () => {
    const proxy = service('proxy');
    const publishesApi = /^\s+- "?(\d+:)?8080(:8080)?"?$/m.test(proxy);
    const hasAuth = /^\s+API_USER: \S/m.test(proxy) && /^\s+API_PASS: \S/m.test(proxy);
    expect(publishesApi && !hasAuth).toBe(false);
  });

  it('checks liveness (/healthz), never readiness, in the stack and the image: a Consul outage must not replace proxies', () => {
    const check = /healthcheck:\n(( {6}.*\n)+)/.exec(`${service('proxy')}\n`)?.[1] ?? '';
    expect(check).toContain('/healthz');
    expect(check).not.toContain('/readyz');
    expect(read('Dockerfile')).toMatch(/HEALTHCHECK[^\n]*\\\n[^\n]*\/healthz/);
  });

  it('runs the adopted HAProxy on a user-defined network (Docker DNS) with a volume user node can write', () => {
    const recipe = read('haproxy/README.md');
    const runs = recipe.split('\n').filter((line) => line.startsWith('docker run'));
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(recipe).toMatch(/docker network create (\S+)/);
    const network = /docker network create (\S+)/.exec(recipe)?.[1];
    for (const line of runs) expect(line).toContain(`--network ${network}`);
    // Docker fills an empty named volume from the image's directory, ownership included.
    expect(read('Dockerfile')).toMatch(/mkdir -p[^\n]*\/shared[\s\S]*chown[^\n]*node:node[^\n]*\/shared/);
  });
});
