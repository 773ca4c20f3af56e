import { Backend, startBackend } from './helpers/backends';
import { masterPids } from './helpers/haproxy-procs';
import { waitFor } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';
import { tempDir } from './helpers/tmp';

describe('a sidecar that crashed and is started again on the same state', () => {
  let backend: Backend;
  let sidecar: RunningSidecar | undefined;

  beforeAll(async () => {
    backend = await startBackend('demo');
  });

  afterAll(async () => {
    await sidecar?.stop();
    await backend?.close();
  });

  it('replaces the HAProxy master the crashed sidecar left behind, and serves its routes', async () => {
    const stateDir = tempDir('crash-');
    const first = await startSidecar({ stateDir });
    const answer = await first.call(`/v1/docker-flow-proxy/reconfigure?serviceName=demo&servicePath=/demo&port=${backend.port}&outboundHostname=127.0.0.1`);
    expect(answer.status).toBe(200);
    const orphans = masterPids(stateDir);
    expect(orphans).toHaveLength(1);
    first.crash();
    sidecar = await startSidecar({ stateDir, apiPort: first.apiPort, httpPort: first.httpPort });
    expect((await sidecar.through('/demo/x')).backend).toBe('demo');
    await waitFor(
      'one HAProxy master, not the orphan',
      async () => {
        const masters = masterPids(stateDir);
        return masters.length === 1 && masters[0] !== orphans[0];
      },
      5000,
    );
  });
});
