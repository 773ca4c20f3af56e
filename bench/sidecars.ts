import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Backend } from '../test/helpers/backends';
import { RunningSidecar, SidecarOptions, startSidecar } from '../test/helpers/sidecar';
import { tempDir } from '../test/helpers/tmp';
import { CleanUps, log, resultsDir, untilBackend } from './measure';
import { fillerRoutes, Params, probeParams, queryString, writeFileStore } from './routes';

/** Sidecars with a pre-loaded store, started as users start them (the built CLI). */

/**
 * Info logs (a line per reload: what a failure report needs), and a longer wait for "live" than
 * the default 10 s: at 10,000 routes a burst queues many seconds of `haproxy -c` on two cores.
 */
export const BENCH_ENV: Readonly<Record<string, string>> = { LOG_LEVEL: 'info', DISTRIBUTE_TIMEOUT_MS: '60000' };

/** How long a sidecar may take to render, check and load the whole pre-loaded store. */
export const LOAD_TIMEOUT_MS = 180000;

export interface LoadedSidecar {
  readonly sidecar: RunningSidecar;
  /** From process start until HAProxy serves the probe route (all routes loaded). */
  readonly loadMs: number;
}

/** The filler routes plus the probe pointing at `backend`: `size` routes in all. */
export function storeContents(size: number, backend: Backend): Params[] {
  return [...fillerRoutes(size - 1), probeParams(backend.port)];
}

/** A file-store sidecar whose routes.json holds `size` routes before it starts. */
export async function startLoadedSidecar(size: number, backend: Backend, cleanUps: CleanUps, options: SidecarOptions = {}): Promise<LoadedSidecar> {
  const stateDir = tempDir('bench-state-');
  writeFileStore(stateDir, storeContents(size, backend));
  return startAndLoad(backend, cleanUps, { ...options, stateDir });
}

/** Start a sidecar and wait until its HAProxy serves the probe from `backend`. */
/**
 * BENCH_NODE_FLAGS (space-separated) replaces the shipped Node flags of every sidecar, e.g. to
 * compare memory flags or to take a CPU profile: BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
 */
const NODE_FLAGS = process.env.BENCH_NODE_FLAGS === undefined ? undefined : process.env.BENCH_NODE_FLAGS.split(' ').filter(Boolean);

export async function startAndLoad(backend: Backend, cleanUps: CleanUps, options: SidecarOptions): Promise<LoadedSidecar> {
  const started = performance.now();
  const sidecar = cleanUps.add(await startSidecar({ nodeFlags: NODE_FLAGS, ...options, env: { ...BENCH_ENV, ...options.env } }));
  const loadMs = await untilBackend(`${sidecar.proxy}/probe`, backend.name, LOAD_TIMEOUT_MS, started);
  return { sidecar, loadMs };
}

/** The reconfigure call of one route; throws unless the API answers 200. */
export async function reconfigure(sidecar: RunningSidecar, params: Params, timeoutMs = 120000): Promise<void> {
  const answer = await sidecar.call(`/v1/docker-flow-proxy/reconfigure?${queryString(params)}`, { timeoutMs });
  if (answer.status !== 200) throw new Error(`reconfigure ${params.serviceName} answered ${answer.status}: ${answer.body}`);
}

/**
 * Run `work`; when it throws, keep the sidecars' logs (keepLogs) before passing the error on.
 */
export async function keepLogsOnFailure<T>(scenario: string, size: number, sidecars: readonly RunningSidecar[], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    await keepLogs(scenario, size, sidecars, (error as Error).message);
    throw error;
  }
}

/**
 * Keep each sidecar's own output next to the results (`<scenario>-<size>-<host>.log`) with
 * whether its API still answers and which HAProxy and sidecar processes run: the benchmark's
 * error alone cannot say why a change never went live.
 */
export async function keepLogs(scenario: string, size: number, sidecars: readonly RunningSidecar[], reason: string): Promise<void> {
  const processes = spawnSync('ps', ['-eo', 'pid,ppid,pgid,stat,etime,args'], { encoding: 'utf8' }).stdout ?? '';
  const relevant = processes
    .split('\n')
    .filter((line) => /haproxy|cli\.js/.test(line))
    .join('\n');
  for (const sidecar of sidecars) {
    const file = path.join(resultsDir(), `${scenario}-${size}-${sidecar.host}.log`);
    const health = await sidecar.call('/healthz', { timeoutMs: 2000 }).then(
      (a) => `${a.status} ${a.body}`,
      (e: Error) => e.message,
    );
    const report = [
      `${new Date().toISOString()}: ${reason}`,
      `/healthz: ${health}`,
      'processes:',
      relevant,
      '--- sidecar output ---',
      sidecar.logs().slice(-200000),
    ];
    fs.writeFileSync(file, report.join('\n'));
    log(`kept the output of the sidecar on ${sidecar.host} in ${file}`);
  }
}
