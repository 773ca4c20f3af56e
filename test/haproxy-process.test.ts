import * as fs from 'fs';
import * as path from 'path';
import { HaproxyError } from '../src/errors';
import { processAlive } from '../src/files/process-alive';
import type { HaproxyExit } from '../src/haproxy/control';
import { ChildHaproxy } from '../src/haproxy/process';
import { silentLogger } from '../src/logger';
import { Backend, request, startBackend } from './helpers/backends';
import { HAPROXY_BIN } from './helpers/haproxy';
import { freePort, waitFor } from './helpers/ports';
import { removeTempDirs, tempDir } from './helpers/tmp';

/** ChildHaproxy: our own HAProxy in master-worker mode, reloaded through the master CLI. */

let backendA: Backend;
let backendB: Backend;
const started: ChildHaproxy[] = [];

function config(port: number, backend: Backend): string {
  return [
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 5s',
    '  timeout server 5s',
    'frontend f',
    `  bind 127.0.0.1:${port}`,
    '  default_backend b',
    'backend b',
    `  server s 127.0.0.1:${backend.port}`,
    '',
  ].join('\n');
}

/** `onExit`: ChildHaproxy only reports that the master died; whoever owns the config restarts it. */
async function setUp(options: { onExit?: (exit: HaproxyExit) => void } = {}) {
  const dir = tempDir('child-haproxy-');
  const port = await freePort();
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(file, config(port, backendA));
  const haproxy = new ChildHaproxy({ bin: HAPROXY_BIN, stateDir: dir, logger: silentLogger(), stopGraceMs: 1000 });
  if (options.onExit) haproxy.onExit(options.onExit);
  started.push(haproxy);
  await haproxy.start(file);
  return { haproxy, file, port, url: `http://127.0.0.1:${port}/` };
}

beforeAll(async () => {
  backendA = await startBackend('a');
  backendB = await startBackend('b');
});

afterAll(async () => {
  for (const haproxy of started) await haproxy.stop();
  await backendA.close();
  await backendB.close();
  removeTempDirs();
});

it('starts HAProxy in master-worker mode and serves at once', async () => {
  const { haproxy, url } = await setUp();
  expect(haproxy.running()).toBe(true);
  expect((await request(url)).backend).toBe('a');
  const proc = await haproxy.cli.showProc();
  expect(proc.masterPid).toBe(haproxy.pid());
  expect(proc.workers).toHaveLength(1);
});

it('reloads into a new worker that serves the new config, in the same master', async () => {
  const { haproxy, file, port, url } = await setUp();
  const before = await haproxy.cli.showProc();
  fs.writeFileSync(file, config(port, backendB));
  await haproxy.reload();
  const after = await haproxy.cli.showProc();
  expect(after.masterPid).toBe(before.masterPid);
  expect(after.reloads).toBe(before.reloads + 1);
  expect(after.workers.some((pid) => !before.workers.includes(pid))).toBe(true);
  expect((await request(url)).backend).toBe('b');
});

it('waits for a master that is still re-executing after a reload instead of failing the next one', async () => {
  const { haproxy, file, port, url } = await setUp();
  const first = haproxy.reload();
  // The first reload's command is sent within a few ms; the master then refuses connections while
  // it re-executes, which is exactly when a second reload (a burst, a rollback) comes in.
  await new Promise((resolve) => setTimeout(resolve, 15));
  fs.writeFileSync(file, config(port, backendB));
  await expect(Promise.all([first, haproxy.reload()])).resolves.toHaveLength(2);
  expect((await request(url)).backend).toBe('b');
});

it('reports a reload HAProxy could not complete, while the old worker keeps serving', async () => {
  const { haproxy, file, url } = await setUp();
  fs.writeFileSync(file, `${fs.readFileSync(file, 'utf8')}  http-request bogus\n`);
  await expect(haproxy.reload()).rejects.toThrow(HaproxyError);
  expect((await request(url)).backend).toBe('a');
});

// Only the outcome: how soon it serves again depends on the machine's load, and timings belong in bench/.
it('reports a killed master, which can be started again from the prepared config', async () => {
  let prepared = 0;
  let file = '';
  const set = await setUp({
    onExit: () => {
      prepared += 1;
      fs.writeFileSync(file, config(set.port, backendB));
      void set.haproxy.start(file);
    },
  });
  file = set.file;
  const pid = set.haproxy.pid() ?? 0;
  process.kill(pid, 'SIGKILL');
  await waitFor('HAProxy serving again', async () => (await request(set.url, { timeoutMs: 1000 }).catch(() => undefined))?.backend === 'b', 20000);
  expect(prepared).toBe(1);
  expect(set.haproxy.pid()).not.toBe(pid);
});

it('stops the master and every worker, leaving no process behind', async () => {
  const { haproxy, url } = await setUp();
  const master = haproxy.pid() ?? 0;
  const { workers } = await haproxy.cli.showProc();
  await haproxy.stop();
  expect(haproxy.running()).toBe(false);
  expect(processAlive(master)).toBe(false);
  await waitFor('workers gone', async () => workers.every((pid) => !processAlive(pid)), 2000);
  await expect(request(url, { timeoutMs: 500 })).rejects.toThrow();
});

it('refuses to start on a config HAProxy cannot load, with its message', async () => {
  const dir = tempDir('child-haproxy-');
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(file, 'global\n  bogus-keyword\n');
  const haproxy = new ChildHaproxy({ bin: HAPROXY_BIN, stateDir: dir, logger: silentLogger() });
  started.push(haproxy);
  await expect(haproxy.start(file)).rejects.toThrow(/HAProxy did not start: .*bogus-keyword/s);
});
