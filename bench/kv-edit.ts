import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CHECK_SHELL_NAME } from '../src/haproxy/check-shell';
import { Backend, startBackend } from '../test/helpers/backends';
import { startConsulDev } from '../test/helpers/consul';
import { freePort } from '../test/helpers/ports';
import { RunningSidecar } from '../test/helpers/sidecar';
import { tempDir } from '../test/helpers/tmp';
import { assertSameConfig, assertSocat, ConsulTemplatePeer, startConsulTemplatePeer } from './consul-template';
import { childRunning, childWith, cpuOf, haproxyTreeMs } from './cpu';
import {
  budget,
  Budget,
  cacheUse,
  countersOf,
  eachSize,
  log,
  meanApplyMs,
  resultsDir,
  runScenario,
  SidecarCounters,
  since,
  summarize,
  untilBackend,
  withCleanUps,
  writeResult,
} from './measure';
import type { KvEditRow, PeerCpu } from './result-types';
import { Params, probeEdit, writeConsulStore } from './routes';
import { keepLogs, LOAD_TIMEOUT_MS, startAndLoad, storeContents } from './sidecars';

/**
 * Scenario 2, KV-edit-to-live, side by side with consul-template + HAProxy. Each peer has its own
 * Consul dev agent, both loaded with the same routes. Each edit is a plain PUT of
 * `docker-flow/services/probe` (as `consul kv put` does), timed until a request through that
 * peer's HAProxy reaches the new backend. Edits alternate between the peers (ours first in odd
 * rounds, theirs first in even ones), so both see the same noise of a shared machine. Every edit
 * produces a config never seen before (routes.ts probeEdit).
 *
 * Before the edits and after them, consul-template renders the template once for the sidecar's
 * own bind address and the result must equal, byte for byte, the haproxy.cfg the sidecar handed
 * its HAProxy: otherwise the run fails.
 *
 * Build: npx tsc -p tsconfig.bench.json; run: node .cache/bench/bench/kv-edit.js (scripts/run-bench.js
 * builds consul-template first). Writes kv-edit.json.
 */

const EDITS: Budget = { count: 120, capMs: 150000 };
const EDITS_AT_10000: Budget = { count: 120, capMs: 150000 };
/** Untimed edits first: they show that both peers watch the keys, and warm both up. */
const WARM_UP_EDITS = 2;
const KEY = 'docker-flow/services/probe';
const LIVE_TIMEOUT_MS = 30000;

async function putKey(consul: string, params: Params): Promise<void> {
  const response = await fetch(`${consul}/v1/kv/${KEY}`, { method: 'PUT', body: JSON.stringify(params), signal: AbortSignal.timeout(10000) });
  if (response.status !== 200) throw new Error(`Consul PUT ${KEY} answered ${response.status}: ${await response.text()}`);
}

interface Peer {
  readonly name: 'haproxy-sidecar' | 'consul-template';
  readonly consul: string;
  readonly proxy: string;
}

/** Edit `n` on one peer: PUT, then poll its HAProxy until the new backend answers; ms. */
async function editOne(peer: Peer, backends: readonly Backend[], n: number): Promise<number> {
  const target = backends[n % 2];
  const started = performance.now();
  await putKey(peer.consul, probeEdit(target.port, n));
  return untilBackend(`${peer.proxy}/probe`, target.name, LIVE_TIMEOUT_MS, started).catch((error: Error) => {
    throw new Error(`${peer.name}, edit ${n}: ${error.message}`);
  });
}

interface CpuSnapshot {
  readonly sidecar: SidecarCounters;
  readonly sidecarChildrenMs: number;
  readonly sidecarHaproxyMs: number;
  readonly peerMs: number;
  readonly peerChildrenMs: number;
  readonly peerHaproxyMs: number;
}

/**
 * The sidecar's check shell (src/haproxy/check-shell.ts) and the `haproxy -c` runs it reaped: the
 * checks' CPU, which the sidecar itself reaps only for the checks it runs directly. 0 without one.
 */
function checkShellMs(sidecarPid: number): number {
  const shell = childWith(sidecarPid, CHECK_SHELL_NAME);
  if (shell === undefined) return 0;
  const cpu = cpuOf(shell);
  return cpu.selfMs + cpu.reapedChildrenMs;
}

async function snapshot(sidecar: RunningSidecar, sidecarHaproxy: number, peer: ConsulTemplatePeer): Promise<CpuSnapshot> {
  const ct = cpuOf(peer.pid);
  return {
    sidecar: await countersOf(sidecar.api),
    sidecarChildrenMs: cpuOf(sidecar.pid).reapedChildrenMs + checkShellMs(sidecar.pid),
    sidecarHaproxyMs: haproxyTreeMs(sidecarHaproxy),
    peerMs: ct.selfMs,
    peerChildrenMs: ct.reapedChildrenMs,
    peerHaproxyMs: haproxyTreeMs(peer.haproxy.pid),
  };
}

const perEdit = (total: number, edits: number): number => Math.round((total / Math.max(1, edits)) * 10) / 10;

function cpuPerEdit(before: CpuSnapshot, after: CpuSnapshot, edits: number): { ours: PeerCpu; peer: PeerCpu } {
  return {
    ours: {
      controllerMs: perEdit((after.sidecar.cpuSeconds - before.sidecar.cpuSeconds) * 1000, edits),
      checkMs: perEdit(after.sidecarChildrenMs - before.sidecarChildrenMs, edits),
      haproxyMs: perEdit(after.sidecarHaproxyMs - before.sidecarHaproxyMs, edits),
    },
    peer: {
      controllerMs: perEdit(after.peerMs - before.peerMs, edits),
      checkMs: perEdit(after.peerChildrenMs - before.peerChildrenMs, edits),
      haproxyMs: perEdit(after.peerHaproxyMs - before.peerHaproxyMs, edits),
    },
  };
}

async function atSize(size: number): Promise<KvEditRow> {
  return withCleanUps(async (cleanUps) => {
    const backends = [cleanUps.add(await startBackend('kv-a')), cleanUps.add(await startBackend('kv-b'))];
    const [oursConsul, peerConsul] = [cleanUps.add(await startConsulDev()), cleanUps.add(await startConsulDev())];
    const contents = storeContents(size, backends[0]);
    await Promise.all([writeConsulStore(oursConsul.address, contents), writeConsulStore(peerConsul.address, contents)]);

    const { sidecar, loadMs } = await startAndLoad(backends[0], cleanUps, { stateDir: tempDir('bench-kv-'), env: { CONSUL_ADDRESS: oursConsul.address } });
    const sidecarBind = `${sidecar.host}:${sidecar.httpPort}`;
    assertSameConfig(peerConsul.address, sidecarBind, sidecar.stateDir, `at ${size} routes after the load`);
    const peerStarted = performance.now();
    const ct = await startConsulTemplatePeer(peerConsul.address, await freePort(), cleanUps);
    const peerLoadMs = await untilBackend(`${ct.proxy}/probe`, backends[0].name, LOAD_TIMEOUT_MS, peerStarted);
    const sidecarHaproxy = childRunning(sidecar.pid, 'haproxy');
    if (!sidecarHaproxy) throw new Error("the sidecar's HAProxy master is not a child of the sidecar process");

    const peers: Peer[] = [
      { name: 'haproxy-sidecar', consul: oursConsul.address, proxy: sidecar.proxy },
      { name: 'consul-template', consul: peerConsul.address, proxy: ct.proxy },
    ];
    const times: Record<Peer['name'], number[]> = { 'haproxy-sidecar': [], 'consul-template': [] };
    let stoppedBy: string | undefined;
    let n = 0;
    try {
      for (; n < WARM_UP_EDITS;) {
        n += 1;
        for (const peer of peers) await editOne(peer, backends, n);
      }
    } catch (error) {
      await keepLogs('kv-edit', size, [sidecar], (error as Error).message);
      throw new Error(`warm-up: ${(error as Error).message}\n--- consul-template output ---\n${ct.logs().slice(-4000)}`, { cause: error });
    }

    const limit = budget(size, EDITS, EDITS_AT_10000);
    const before = await snapshot(sidecar, sidecarHaproxy, ct);
    const started = performance.now();
    for (let round = 1; round <= limit.count && since(started) < limit.capMs && !stoppedBy; round++) {
      n += 1;
      const order = round % 2 === 1 ? peers : [...peers].reverse();
      for (const peer of order) {
        try {
          times[peer.name].push(await editOne(peer, backends, n));
        } catch (error) {
          stoppedBy = (error as Error).message;
          break;
        }
      }
    }
    const edits = Math.min(times['haproxy-sidecar'].length, times['consul-template'].length);
    const after = await snapshot(sidecar, sidecarHaproxy, ct);
    if (stoppedBy) {
      await keepLogs('kv-edit', size, [sidecar], stoppedBy);
      fs.writeFileSync(path.join(resultsDir(), `kv-edit-${size}-consul-template.log`), ct.logs());
    } else {
      assertSameConfig(peerConsul.address, sidecarBind, sidecar.stateDir, `at ${size} routes after the edits`);
    }
    const ours = summarize(times['haproxy-sidecar']);
    const theirs = summarize(times['consul-template']);
    const cpu = cpuPerEdit(before, after, edits);
    const cache = cacheUse([before.sidecar], [after.sidecar]);
    log(
      `kv-edit at ${size} routes, ${edits} edits each: haproxy-sidecar p50 ${ours.p50} p99 ${ours.p99} ms, consul-template + HAProxy p50 ` +
        `${theirs.p50} p99 ${theirs.p99} ms; Node CPU ${cpu.ours.controllerMs} ms per edit; check cache hit rate ${cache.hitRate}`,
    );
    return {
      routes: size,
      loadMs: { ours: Math.round(loadMs), peer: Math.round(peerLoadMs) },
      edits,
      ours,
      peer: theirs,
      ratio: { p50: Math.round((ours.p50 / theirs.p50) * 100) / 100, p99: Math.round((ours.p99 / theirs.p99) * 100) / 100 },
      cpuPerEditMs: cpu,
      cache,
      cutShortByCap: edits < limit.count && !stoppedBy,
      stoppedBy,
      reloads: after.sidecar.reloads - before.sidecar.reloads,
      failedReloads: after.sidecar.failedReloads - before.sidecar.failedReloads,
      meanApplyMs: meanApplyMs(before.sidecar, after.sidecar),
      rssAfterBytes: after.sidecar.rssBytes,
      sameConfig: !stoppedBy,
    };
  });
}

async function main(): Promise<void> {
  assertSocat();
  await eachSize('kv-edit', atSize, (results) =>
    writeResult('kv-edit', {
      scenario: 'kv-edit-to-live, haproxy-sidecar beside consul-template + HAProxy',
      node: process.version,
      cpus: os.cpus().length,
      peer: 'consul-template v0.41.1 (bench/consul-template/haproxy.cfg.ctmpl), command: haproxy -c && master CLI reload',
      target: 'at 1,000 routes: p50 and p99 at or below consul-template + HAProxy; Node CPU per edit <= 92.5 ms',
      results,
    }),
  );
}

runScenario('kv-edit', main);
