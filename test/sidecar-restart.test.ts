import * as fs from 'fs';
import * as path from 'path';
import { Backend, startBackend } from './helpers/backends';
import { waitFor } from './helpers/ports';
import { RunningSidecar, startSidecar } from './helpers/sidecar';
import { tempDir } from './helpers/tmp';

function masterPids(stateDir: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(path.join('/proc', entry, 'cmdline'), 'utf8').split('\0');
      const stat = fs.readFileSync(path.join('/proc', entry, 'stat'), 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const isHaproxy = path.basename(cmdline[0]) === 'haproxy' && cmdline.some((arg) => arg.startsWith(stateDir));
      const parentIsHaproxy = fs
        .readFileSync(path.join('/proc', String(parent), 'cmdline'), 'utf8')
        .split('\0')
        .some((arg) => arg.startsWith(stateDir));
      if (isHaproxy && !parentIsHaproxy) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

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
