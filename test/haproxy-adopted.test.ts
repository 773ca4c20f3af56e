import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Applier } from '../src/applier';
import { HaproxyError } from '../src/errors';
import { AdoptedHaproxy } from '../src/haproxy/adopted';
import { silentLogger } from '../src/logger';
import { parseRoute } from '../src/route/params';
import { Backend, request, startBackend } from './helpers/backends';
import { HAPROXY_BIN } from './helpers/haproxy';
import { freePort, waitFor } from './helpers/ports';
import { removeTempDirs, tempDir } from './helpers/tmp';
import { applierSettings, routeTo, shippedRender, snapshotOf } from './fixtures/applier-harness';
import { MasterCli } from '../src/haproxy/master-cli';

/**
 * HAPROXY_MASTER_SOCKET: HAProxy runs elsewhere (here: a process this test starts, standing in for
 * a separate container sharing the state volume); the sidecar writes the config and reloads it
 * through the master socket, and never starts or stops it.
 */

let backend: Backend;
let external: ChildProcess | undefined;
let applier: Applier | undefined;

afterAll(async () => {
  await applier?.stop();
  if (external && external.exitCode === null && external.signalCode === null) {
    const exited = new Promise((resolve) => external?.once('exit', resolve));
    external.kill('SIGTERM');
    await exited;
  }
  await backend?.close();
  removeTempDirs();
});

it('reloads an HAProxy started elsewhere through its master socket, and reports when it goes away', async () => {
  backend = await startBackend('adopted');
  const port = await freePort();
  const settings = applierSettings(port, {});
  const socket = path.join(tempDir('adopted-sock-'), 'master.sock');
  const adoptedSettings = { ...settings, haproxyMasterSocket: socket };
  // The other container: started with a config of its own, before the sidecar writes one.
  fs.writeFileSync(
    settings.haproxyConfig,
    ['defaults', '  mode http', '  timeout connect 1s', '  timeout client 5s', '  timeout server 5s', 'frontend f', `  bind 127.0.0.1:${port}`, ''].join('\n'),
  );
  external = spawn(HAPROXY_BIN, ['-W', '-db', '-S', socket, '-f', settings.haproxyConfig], { stdio: 'ignore' });
  const cli = new MasterCli(socket);
  await waitFor('the external HAProxy', async () => (await cli.showProc()).workers.length > 0, 5000);
  const masterPid = (await cli.showProc()).masterPid;

  const haproxy = new AdoptedHaproxy({ masterSocket: socket, logger: silentLogger(), probeMs: 100 });
  applier = new Applier({ settings: adoptedSettings, haproxy, parse: parseRoute, render: shippedRender(settings) });
  await applier.start();
  expect(haproxy.running()).toBe(true);

  const report = await applier.applyNow(snapshotOf(1, [routeTo('adopted', backend)]));
  expect(report.outcome).toBe('success');
  expect((await request(`http://127.0.0.1:${port}/adopted`)).backend).toBe('adopted');
  const proc = await cli.showProc();
  expect(proc.masterPid).toBe(masterPid);
  expect(proc.reloads).toBeGreaterThanOrEqual(2);

  external.kill('SIGKILL');
  await waitFor('running() to turn false', async () => !haproxy.running(), 2000);
  const failed = await applier.applyNow(snapshotOf(2, [routeTo('adopted', backend), routeTo('more', backend)]));
  expect(failed.outcome).toBe('failed');
  expect(failed.error).toMatch(/master\.sock/);
});

it('refuses to start when the adopted master socket does not answer', async () => {
  const haproxy = new AdoptedHaproxy({ masterSocket: path.join(tempDir('adopted-none-'), 'missing.sock'), logger: silentLogger() });
  await expect(haproxy.start('/unused')).rejects.toThrow(HaproxyError);
  await haproxy.stop();
});
