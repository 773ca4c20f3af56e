import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Backend, request, startBackend } from './helpers/backends';
import { ConsulAgent, startConsulAgent } from './helpers/consul';
import { waitFor } from './helpers/ports';
import { CLI, RunningSidecar, startSidecar } from './helpers/sidecar';
import { removeTempDirs } from './helpers/tmp';

const BASE = '/v1/docker-flow-proxy';
const API = { user: 'apiuser', pass: 'ApiPass-7f3a' };
const STATS = { user: 'statsuser', pass: 'StatsPass-91c2' };
const ROUTE_PASS = 'RoutePass-5d8e';
const BAD_PASS = 'BadPass-0b4f';
const HAND_PASS = 'HandPass-c6a1';
const TOKEN = 'ConsulToken-3e9d';
const SECRETS = [API.pass, STATS.pass, ROUTE_PASS, BAD_PASS, HAND_PASS, TOKEN];

const auth = { Authorization: `Basic ${Buffer.from(`${API.user}:${API.pass}`).toString('base64')}` };

function expectNoSecret(where: string, text: string): void {
  const found = SECRETS.filter((secret) => text.includes(secret));
  expect({ where, found }).toEqual({ where, found: [] });
}

function cli(args: string[], env: Record<string, string>): { code: number; output: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30000 });
  return { code: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}

/** Add a route to routes.json by hand, as an operator editing the file would (atomic rename). */
function handEdit(stateDir: string, serviceName: string, params: Record<string, string>): void {
  const file = path.join(stateDir, 'routes.json');
  const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
  stored.routes[serviceName] = params;
  stored.index += 1;
  fs.writeFileSync(`${file}.hand`, JSON.stringify(stored));
  fs.renameSync(`${file}.hand`, file);
}

describe('secrets never leave the process (file store)', () => {
  let backend: Backend;
  let sidecar: RunningSidecar;
  const env = { API_USER: API.user, API_PASS: API.pass, STATS_USER: STATS.user, STATS_PASS: STATS.pass };
  const call = (pathAndQuery: string, method = 'GET') => sidecar.call(pathAndQuery, { method, headers: auth });
  const replies: string[] = [];

  beforeAll(async () => {
    backend = await startBackend('private');
    sidecar = await startSidecar({ env });
  }, 60000);

  afterAll(async () => {
    await sidecar?.stop();
    await backend?.close();
    removeTempDirs();
  });

  it('keeps the users of a stored route out of the reconfigure reply, and basic auth works', async () => {
    const answer = await call(
      `${BASE}/reconfigure?serviceName=private&servicePath=/private&port=${backend.port}&outboundHostname=127.0.0.1&users=alice:${ROUTE_PASS}`,
    );
    expect(answer.status).toBe(200);
    replies.push(answer.body);
    expectNoSecret('reconfigure reply', answer.body);
    const basic = `Basic ${Buffer.from(`alice:${ROUTE_PASS}`).toString('base64')}`;
    expect((await sidecar.through('/private/x')).status).toBe(401);
    expect((await sidecar.through('/private/x', { Authorization: basic })).backend).toBe('private');
  });

  it('names the users parameter but not the password it refuses', async () => {
    const answer = await call(`${BASE}/reconfigure?serviceName=bad&servicePath=/bad&port=${backend.port}&users=bob:${BAD_PASS}%01`);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).message).toContain('users');
    replies.push(answer.body);
  });

  it('reports a hand-edited route with a bad password by name and reason, without the password', async () => {
    handEdit(sidecar.stateDir, 'hand', { serviceName: 'hand', servicePath: '/hand', port: String(backend.port), users: `carol:${HAND_PASS}\u0001` });
    const invalid = await waitFor(
      'the hand edit to be reported invalid',
      async () => {
        const body = JSON.parse((await call(`${BASE}/config?type=json`)).body);
        return body.invalid.find((entry: { serviceName: string }) => entry.serviceName === 'hand');
      },
      10000,
      100,
    );
    expect(invalid.reason).toContain('users');
  });

  it('keeps every secret out of config (text and JSON), healthz, metrics, reload and remove replies', async () => {
    const json = await call(`${BASE}/config?type=json`);
    expect(JSON.parse(json.body).routes.find((r: { serviceName: string }) => r.serviceName === 'private').users).toBe('alice:***');
    replies.push(json.body);
    replies.push((await call(`${BASE}/config`)).body);
    replies.push((await sidecar.call('/healthz')).body);
    replies.push((await sidecar.call('/metrics')).body);
    replies.push((await call(`${BASE}/reload`)).body);
    replies.push((await call(`${BASE}/remove?serviceName=hand`)).body);
    replies.push((await request(`${sidecar.api}${BASE}/ping`)).body);
    replies.forEach((reply, i) => expectNoSecret(`reply ${i}`, reply));
  });

  it('keeps every secret out of the CLI output (routes list, a refused routes add)', () => {
    handEdit(sidecar.stateDir, 'hand2', { serviceName: 'hand2', servicePath: '/hand2', port: '80', users: `dave:${HAND_PASS}\u0001` });
    const cliEnv = { STATE_DIR: sidecar.stateDir, CONSUL_ADDRESS: '', ...env };
    const list = cli(['routes', 'list'], cliEnv);
    expect(list.code).toBe(0);
    expect(list.output).toContain('hand2');
    expectNoSecret('routes list', list.output);
    const add = cli(['routes', 'add', 'serviceName=cli', 'servicePath=/cli', 'port=80', `users=erin:${BAD_PASS}\u0001`], cliEnv);
    expect(add.code).toBe(2);
    expect(add.output).toContain('users');
    expectNoSecret('routes add', add.output);
  });

  it('never wrote a secret into its log', () => {
    expectNoSecret('the sidecar log', sidecar.logs());
  });
});

describe('secrets never leave the process (Consul with a token)', () => {
  let consul: ConsulAgent;
  let sidecar: RunningSidecar;

  beforeAll(async () => {
    consul = await startConsulAgent();
    sidecar = await startSidecar({ env: { CONSUL_ADDRESS: consul.address, CONSUL_TOKEN: TOKEN, LOG_LEVEL: 'debug' } });
  }, 60000);

  afterAll(async () => {
    await sidecar?.stop();
    await consul?.stop();
    removeTempDirs();
  });

  it('keeps the token and route passwords out of replies and logs, also when Consul fails', async () => {
    const answer = await sidecar.call(`${BASE}/reconfigure?serviceName=tok&servicePath=/tok&port=80&users=frank:${ROUTE_PASS}`);
    expect(answer.status).toBe(200);
    const kv = await request(`${consul.address}/v1/kv/docker-flow/services/tok?raw`);
    expect(JSON.parse(kv.body).users).toBe(`frank:${ROUTE_PASS}`);
    await consul.stop();
    const failed = await sidecar.call(`${BASE}/reconfigure?serviceName=tok2&servicePath=/tok2&port=80&users=gina:${ROUTE_PASS}`, { timeoutMs: 20000 });
    expect(failed.status).toBe(503);
    for (const reply of [answer.body, failed.body, (await sidecar.call('/healthz')).body, (await sidecar.call(`${BASE}/config?type=json`)).body])
      expectNoSecret('reply', reply);
    expectNoSecret('the sidecar log', sidecar.logs());
  }, 60000);
});
