import { Backend, startBackend } from './helpers/backends';
import { RunningSidecar, startSidecar } from './helpers/sidecar';
import { removeTempDirs } from './helpers/tmp';

const BASE = '/v1/docker-flow-proxy';
const REFUSED = ['DELETE', 'PATCH', 'OPTIONS', 'HEAD'];

describe('only GET, PUT and POST change state', () => {
  let backend: Backend;
  let sidecar: RunningSidecar;

  const route = (name: string) => `serviceName=${name}&servicePath=/${name}&port=${backend.port}&outboundHostname=127.0.0.1`;
  const routeNames = async () => JSON.parse((await sidecar.call(`${BASE}/config?type=json`)).body).routes.map((r: { serviceName: string }) => r.serviceName);

  beforeAll(async () => {
    backend = await startBackend('kept');
    sidecar = await startSidecar();
    expect((await sidecar.call(`${BASE}/reconfigure?${route('kept')}`)).status).toBe(200);
  }, 60000);

  afterAll(async () => {
    await sidecar?.stop();
    await backend?.close();
    removeTempDirs();
  });

  it.each(REFUSED)('answers %s on reconfigure with 405 and an Allow header, and stores nothing', async (method) => {
    const answer = await sidecar.call(`${BASE}/reconfigure?${route('sneaky')}`, { method });
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('GET, PUT, POST');
    if (method !== 'HEAD') expect(JSON.parse(answer.body)).toMatchObject({ status: 'NOK', message: expect.stringContaining(method) });
    expect(await routeNames()).toEqual(['kept']);
    expect((await sidecar.through('/sneaky/x')).status).toBe(503);
  });

  it.each(REFUSED)('answers %s on remove with 405, and the route keeps being served', async (method) => {
    const answer = await sidecar.call(`${BASE}/remove?serviceName=kept`, { method });
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('GET, PUT, POST');
    expect((await sidecar.through('/kept/x')).backend).toBe('kept');
  });

  it.each(REFUSED)('answers %s on reload with 405', async (method) => {
    const answer = await sidecar.call(`${BASE}/reload`, { method });
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('GET, PUT, POST');
  });

  it.each(['GET', 'PUT', 'POST'])('still changes state with %s', async (method) => {
    const name = `by${method.toLowerCase()}`;
    expect((await sidecar.call(`${BASE}/reconfigure?${route(name)}`, { method })).status).toBe(200);
    expect((await sidecar.through(`/${name}/x`)).backend).toBe('kept');
  });
});
