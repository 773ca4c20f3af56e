import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { SETTING_DEFINITIONS } from '../src/settings';
import { request } from './helpers/backends';
import { ConsulAgent, startConsulAgent } from './helpers/consul';
import { checkConfig } from './helpers/haproxy';
import { CLI } from './helpers/sidecar';
import { removeTempDirs, tempDir } from './helpers/tmp';

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): CliResult {
  const result = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30000 });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

describe('the haproxy-sidecar CLI, run as a user would', () => {
  let stateDir: string;
  let env: Record<string, string>;

  beforeAll(() => {
    stateDir = tempDir('cli-');
    env = { STATE_DIR: stateDir, CONSUL_ADDRESS: '' };
  });

  afterAll(removeTempDirs);

  it('documents every setting and its environment variable in --help', () => {
    const help = cli(['serve', '--help']);
    expect(help.code).toBe(0);
    for (const definition of SETTING_DEFINITIONS) {
      expect(help.stdout).toContain(`--${definition.flag}`);
      expect(help.stdout).toContain(definition.env);
    }
  });

  it('adds a route that routes list then shows', () => {
    const add = cli(['routes', 'add', 'serviceName=go-demo', 'servicePath=/demo', 'port=8080'], env);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const list = cli(['routes', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^go-demo\b.*servicePath=\/demo.*port=8080/)]);
  });

  it('names the parameters that change nothing, and removes the route on replicas=0', () => {
    const add = cli(['routes', 'add', 'serviceName=labels', 'servicePath=/l', 'port=80', 'notify=true', 'templateFePath=/t'], env);
    expect(add.code).toBe(0);
    expect(add.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^stored labels /),
      'ignored notify: not a parameter of haproxy-sidecar or Docker Flow Proxy',
      expect.stringMatching(/^ignored templateFePath: per-service template files/),
    ]);
    const scaledToZero = cli(['routes', 'add', 'serviceName=labels', 'servicePath=/l', 'port=80', 'replicas=0'], env);
    expect(scaledToZero.stdout).toMatch(/^removed labels /);
    expect(cli(['routes', 'list'], env).stdout).not.toContain('labels');
  });

  it('hides passwords in routes list', () => {
    expect(cli(['routes', 'add', 'serviceName=secret', 'servicePath=/s', 'port=80', 'users=admin:hunter2'], env).code).toBe(0);
    const list = cli(['routes', 'list'], env);
    expect(list.stdout).toContain('secret');
    expect(list.stdout).not.toContain('hunter2');
    expect(cli(['routes', 'remove', 'secret'], env).code).toBe(0);
  });

  it('renders a config that validate accepts and haproxy -c agrees with', () => {
    const render = cli(['render'], env);
    expect(render.code).toBe(0);
    expect(render.stdout).toContain('go-demo-be8080');
    expect(checkConfig(render.stdout).ok).toBe(true);
    const validate = cli(['validate'], env);
    expect(validate.code).toBe(0);
  });

  it('reports a template that HAProxy rejects from validate with a non-zero exit and the reason', () => {
    const templates = tempDir('templates-');
    for (const file of fs.readdirSync(path.join(__dirname, '..', 'templates')))
      fs.copyFileSync(path.join(__dirname, '..', 'templates', file), path.join(templates, file));
    fs.appendFileSync(path.join(templates, 'haproxy.cfg.hbs'), '\nfrontend broken\n    bind :notaport\n');
    const validate = cli(['validate', '--templates-dir', templates], env);
    expect(validate.code).toBe(1);
    expect(validate.stderr).toMatch(/notaport|bind/);
  });

  it('refuses a bad route parameter with exit code 2 naming it, and stores nothing', () => {
    const add = cli(['routes', 'add', 'serviceName=bad', 'servicePath=/bad', 'port=http'], env);
    expect(add.code).toBe(2);
    expect(add.stderr).toContain('port');
    expect(cli(['routes', 'list'], env).stdout).not.toContain('bad');
  });

  it('gives a helpful error and exit code 2 for an unknown flag', () => {
    const result = cli(['render', '--no-such-flag', 'x'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no-such-flag/);
    expect(result.stderr).toMatch(/--help/);
  });

  it('gives exit code 2 for an invalid setting, naming the variable', () => {
    const result = cli(['render'], { ...env, TIMEOUT_CONNECT: 'soon' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('TIMEOUT_CONNECT');
  });

  it('removes a route, and removing it again still succeeds', () => {
    expect(cli(['routes', 'remove', 'go-demo'], env).code).toBe(0);
    expect(cli(['routes', 'remove', 'go-demo'], env).code).toBe(0);
    expect(cli(['routes', 'list'], env).stdout.trim()).toBe('');
  });
});

describe('the routes commands on Consul', () => {
  let consul: ConsulAgent;

  beforeAll(async () => {
    consul = await startConsulAgent();
  });

  afterAll(async () => {
    await consul?.stop();
  });

  it('add, list and remove routes in Consul KV, readable by hand as one JSON key per route', async () => {
    const env = { STATE_DIR: tempDir('cli-consul-'), CONSUL_ADDRESS: consul.address };
    expect(cli(['routes', 'add', 'serviceName=go-demo', 'servicePath=/demo', 'port=8080'], env).code).toBe(0);
    const key = await request(`${consul.address}/v1/kv/docker-flow/services/go-demo?raw`);
    expect(JSON.parse(key.body)).toEqual({ serviceName: 'go-demo', servicePath: '/demo', port: '8080' });
    expect(cli(['routes', 'list'], env).stdout).toMatch(/^go-demo servicePath=\/demo port=8080$/m);
    expect(cli(['routes', 'remove', 'go-demo'], env).code).toBe(0);
    expect((await request(`${consul.address}/v1/kv/docker-flow/services/go-demo`)).status).toBe(404);
  });

  it('fails with exit code 1 and a clear message when Consul does not answer', async () => {
    const result = cli(['routes', 'list'], { STATE_DIR: tempDir('cli-down-'), CONSUL_ADDRESS: '127.0.0.1:1', REQUEST_TIMEOUT_MS: '500' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Consul/);
  });
});
