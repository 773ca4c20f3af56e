import { spawnSync } from 'child_process';
import { Backend, request, startBackend } from './helpers/backends';
import { ConsulAgent, startConsulAgent } from './helpers/consul';
import { waitFor } from './helpers/ports';
import { CLI, RunningSidecar, startSidecar } from './helpers/sidecar';
import { removeTempDirs } from './helpers/tmp';

const BASE = '/v1/docker-flow-proxy';
const SECRET = 'LogPass-4e1b';

interface LogLine {
  readonly msg: string;
  readonly level: string;
  readonly serviceName?: string;
  readonly index?: number;
  readonly change?: string;
  readonly reason?: string;
  readonly params?: Record<string, string>;
  readonly changed?: Record<string, [string | null, string | null]>;
}

/**
 * What the sidecar writes on stdout about single routes: one line per stored or removed route,
 * whoever changed it (API, CLI, a hand edit in Consul KV), one error line when a route becomes
 * invalid and one when it is served again. Read from the real process's output.
 */
describe('route changes in the log', () => {
  let backend: Backend;
  let consul: ConsulAgent;
  let sidecar: RunningSidecar;

  const lines = (): LogLine[] =>
    sidecar
      .logs()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
  const about = (serviceName: string, msg: string) => lines().filter((line) => line.serviceName === serviceName && line.msg === msg);
  const logged = (serviceName: string, msg: string, count = 1) =>
    waitFor(`${count} "${msg}" line(s) for ${serviceName}`, async () => about(serviceName, msg).length >= count && about(serviceName, msg), 15000);
  const params = (name: string, port = backend.port) => ({ serviceName: name, servicePath: `/${name}`, port: String(port), outboundHostname: '127.0.0.1' });
  const query = (values: Record<string, string>) => new URLSearchParams(values).toString();
  const kvPut = async (name: string, value: unknown) => {
    const answer = await request(`${consul.address}/v1/kv/docker-flow/services/${name}`, { method: 'PUT', body: JSON.stringify(value) });
    expect(answer.status).toBe(200);
  };
  const reconfigure = async (values: Record<string, string>) => {
    const answer = await sidecar.call(`${BASE}/reconfigure?${query(values)}`);
    expect(answer.status).toBe(200);
    return JSON.parse(answer.body) as { index: number };
  };

  beforeAll(async () => {
    backend = await startBackend('logged');
    consul = await startConsulAgent();
    sidecar = await startSidecar({ env: { CONSUL_ADDRESS: consul.address } });
  }, 60000);

  afterAll(async () => {
    await sidecar?.stop();
    await consul?.stop();
    await backend?.close();
    removeTempDirs();
  });

  it('logs a route stored through the API with its service, store index and parameters (passwords hidden)', async () => {
    const { index } = await reconfigure({ ...params('by-api'), users: `alice:${SECRET}` });
    const [line] = await logged('by-api', 'route stored');
    expect(line).toMatchObject({ level: 'info', change: 'added', index });
    expect(line.params).toMatchObject({ serviceName: 'by-api', port: String(backend.port) });
    expect(sidecar.logs()).not.toContain(SECRET);
  });

  it('logs a route stored by the CLI on the same store', async () => {
    const args = Object.entries(params('by-cli')).map(([name, value]) => `${name}=${value}`);
    const cli = spawnSync(process.execPath, [CLI, 'routes', 'add', ...args], {
      env: { ...process.env, CONSUL_ADDRESS: consul.address },
      encoding: 'utf8',
      timeout: 30000,
    });
    expect(cli.status).toBe(0);
    const [line] = await logged('by-cli', 'route stored');
    expect(line).toMatchObject({ change: 'added', index: expect.any(Number) });
  });

  it('logs a hand edit in Consul KV: added, then changed with the parameters that changed', async () => {
    await kvPut('by-hand', params('by-hand'));
    await logged('by-hand', 'route stored');
    await kvPut('by-hand', params('by-hand', backend.port + 1));
    const [, changed] = await logged('by-hand', 'route stored', 2);
    expect(changed).toMatchObject({ change: 'changed', changed: { port: [String(backend.port), String(backend.port + 1)] } });
    expect(Object.keys(changed.changed ?? {})).toEqual(['port']);
  });

  it('logs a removed route with its index', async () => {
    const answer = JSON.parse((await sidecar.call(`${BASE}/remove?serviceName=by-hand`)).body) as { index: number };
    const [line] = await logged('by-hand', 'route removed');
    expect(line).toMatchObject({ change: 'removed', index: answer.index });
  });

  it('names an invalid route once at error level with the reason, not again on later reloads, and says when it is served again', async () => {
    await kvPut('broken', { ...params('broken'), port: '99999' });
    const [left] = await logged('broken', 'route left out: invalid');
    expect(left).toMatchObject({ level: 'error', reason: expect.stringContaining('port') });
    for (const name of ['later-1', 'later-2', 'later-3']) await reconfigure(params(name));
    expect(about('broken', 'route left out: invalid')).toHaveLength(1);
    expect(lines().filter((line) => /routes left out/.test(line.msg))).toEqual([]);
    await kvPut('broken', params('broken'));
    await logged('broken', 'route served again');
    expect((await sidecar.through('/broken/x')).backend).toBe('logged');
  });
});
