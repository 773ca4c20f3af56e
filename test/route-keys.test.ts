import { Backend, startBackend } from './helpers/backends';
import { waitFor } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';
import { removeTempDirs, tempDir } from './helpers/tmp';

const BASE = '/v1/docker-flow-proxy';

/**
 * Service names that are also the names of Object.prototype's members: a store, decoder or view
 * keyed by a plain object would swallow them (`routes.__proto__ = ...` sets the prototype, not
 * a key) and acknowledge a write it never kept.
 */
const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'hasOwnProperty', 'toString', 'valueOf'];

describe('service names that are Object.prototype members (file store)', () => {
  let backend: Backend;
  let sidecar: RunningSidecar;
  let stateDir: string;

  const route = (name: string, path: string) => `serviceName=${name}&servicePath=${path}&port=${backend.port}&outboundHostname=127.0.0.1`;
  const listed = async () => JSON.parse((await sidecar.call(`${BASE}/config?type=json`)).body).routes.map((r: { serviceName: string }) => r.serviceName);

  beforeAll(async () => {
    backend = await startBackend('proto');
    stateDir = tempDir('route-keys-');
    sidecar = await startSidecar({ stateDir });
  }, 60000);

  afterAll(async () => {
    await sidecar?.stop();
    await backend?.close();
    removeTempDirs();
  });

  it.each(PROTOTYPE_NAMES.map((name, i) => [name, `/p${i}`]))('stores and serves a route named %s once reconfigure answers 200', async (name, path) => {
    const answer = await sidecar.call(`${BASE}/reconfigure?${route(name, path)}`);
    expect(answer.status).toBe(200);
    expect((await sidecar.through(`${path}/x`)).backend).toBe('proto');
    expect(await listed()).toContain(name);
  });

  it('still serves every one of them after a restart (they were stored, not only acknowledged)', async () => {
    await sidecar.stop();
    sidecar = await startSidecar({ stateDir, apiPort: sidecar.apiPort, httpPort: sidecar.httpPort });
    // A restarted replica serves its last-known-good config first, then applies the store.
    const expected = JSON.stringify([...PROTOTYPE_NAMES].sort());
    await waitFor('the restarted sidecar to apply the stored routes', async () => JSON.stringify((await listed()).sort()) === expected, 15000, 100);
    for (let i = 0; i < PROTOTYPE_NAMES.length; i++) expect((await sidecar.through(`/p${i}/x`)).backend).toBe('proto');
  }, 60000);

  it('removes a route named __proto__ and leaves the others', async () => {
    expect((await sidecar.call(`${BASE}/remove?serviceName=__proto__`)).status).toBe(200);
    expect((await sidecar.through('/p0/x')).status).toBe(503);
    expect(await listed()).not.toContain('__proto__');
    expect((await sidecar.through('/p1/x')).backend).toBe('proto');
  });
});
