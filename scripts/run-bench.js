#!/usr/bin/env node
'use strict';

/**
 * `npm run bench`: compile, run every benchmark scenario in turn (each in its own process group,
 * with a time limit), then write bench/results/SUMMARY.md and latency.svg from the JSON files.
 *
 * BENCH_QUICK=1 runs smoke sizes (10 and 200 routes, 20 changes) in about two minutes and writes
 * to .cache/bench-results-quick, so bench/results keeps the last full run. BENCH_RESULTS_DIR
 * overrides either.
 * BENCH_ONLY=reconfigure,burst runs some scenarios only (the summary still reads every JSON);
 * BENCH_SIZES=10000 runs some sizes only (that scenario's JSON then holds only those).
 * A scenario that fails or runs out of time is reported and the others still run; the exit code
 * is non-zero when any did.
 */

const { spawn, spawnSync, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const REPO = path.resolve(__dirname, '..');
const OUT = path.join(REPO, '.cache', 'bench');
const QUICK = process.env.BENCH_QUICK === '1';
const COMMITTED_RESULTS = path.join(REPO, 'bench', 'results');
const RESULTS = process.env.BENCH_RESULTS_DIR || (QUICK ? path.join(REPO, '.cache', 'bench-results-quick') : COMMITTED_RESULTS);

/** Limits are generous: the scenarios cap themselves in time; these only stop a hang. */
const SCENARIOS = [
  // bench/render.ts always writes bench/results/render.json (copied to RESULTS when elsewhere).
  { name: 'render', script: 'bench/render.js', limitS: 120, outputs: ['render'] },
  { name: 'reconfigure', script: 'bench/reconfigure.js', limitS: 480, outputs: ['reconfigure', 'floor', 'memory'] },
  { name: 'kv-edit', script: 'bench/kv-edit.js', limitS: 480, outputs: ['kv-edit'] },
  // Certificate change to live on three replicas (Runtime API, no reload) beside a route change.
  { name: 'cert-change', script: 'bench/cert-change.js', limitS: 480, outputs: ['cert-change'] },
  { name: 'burst', script: 'bench/burst.js', limitS: 420, outputs: ['burst'] },
  // 100 reloads under load and the requests that failed (with its own small-config floor).
  { name: 'reload', script: 'bench/reload.js', limitS: 300, outputs: ['reload'] },
];

let current;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    // The scenario runs in its own process group, which a Ctrl-C here does not reach.
    if (current) signalGroup(current, 'SIGTERM');
    setTimeout(() => {
      if (current) signalGroup(current, 'SIGKILL');
      process.exit(130);
    }, 5000);
  });
}

function compile() {
  for (const project of ['tsconfig.json', 'tsconfig.bench.json']) {
    console.log(`tsc -p ${project}`);
    const result = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', project], { cwd: REPO, stdio: 'inherit' });
    if (result.status !== 0) throw new Error(`tsc -p ${project} failed`);
  }
  // test/helpers/sidecar.ts runs <its dir>/../../dist/cli.js: from .cache/bench that is this link.
  const link = path.join(OUT, 'dist');
  fs.rmSync(link, { recursive: true, force: true });
  fs.symlinkSync(path.join(REPO, 'dist'), link, 'dir');
}

function firstLine(command, args) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n')[0]
      .trim();
  } catch {
    return `${command} unavailable`;
  }
}

function writeMachine() {
  const machine = {
    date: new Date().toISOString(),
    cpu: os.cpus()[0] ? os.cpus()[0].model.trim() : 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    haproxy: firstLine('haproxy', ['-v']).replace(/ - https.*$/, ''),
    quick: QUICK,
  };
  fs.writeFileSync(path.join(RESULTS, 'machine.json'), `${JSON.stringify(machine, null, 2)}\n`);
}

/** Signal the scenario's whole process group: the node process, its sidecars, HAProxies, Consul. */
function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch (error) {
    if (error.code !== 'ESRCH') throw error;
  }
}

/** Run one scenario; SIGTERM its group at the limit (sidecars stop their HAProxy), SIGKILL 10 s later. */
function runScenario(scenario, env) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [path.join(OUT, scenario.script)], { cwd: REPO, env, stdio: 'inherit', detached: true });
    current = child;
    let timedOut = false;
    const term = setTimeout(() => {
      timedOut = true;
      console.error(`${scenario.name}: over ${scenario.limitS} s, stopping it`);
      signalGroup(child, 'SIGTERM');
    }, scenario.limitS * 1000);
    const kill = setTimeout(() => signalGroup(child, 'SIGKILL'), scenario.limitS * 1000 + 10000);
    child.on('exit', (code, signal) => {
      clearTimeout(term);
      clearTimeout(kill);
      current = undefined;
      // Anything the scenario left behind in its group goes too.
      signalGroup(child, 'SIGKILL');
      const status = timedOut ? 'timed out' : code === 0 ? 'ok' : `failed (${signal || `exit ${code}`})`;
      resolve({ scenario: scenario.name, status, seconds: Math.round((Date.now() - started) / 1000) });
    });
  });
}

/** Results a scenario wrote to bench/results when this run collects them elsewhere. */
function copyIntoResults(scenario) {
  if (RESULTS === COMMITTED_RESULTS) return;
  for (const output of scenario.outputs) {
    const from = path.join(COMMITTED_RESULTS, `${output}.json`);
    if (!fs.existsSync(path.join(RESULTS, `${output}.json`)) && fs.existsSync(from)) fs.copyFileSync(from, path.join(RESULTS, `${output}.json`));
  }
}

function selected() {
  const only = (process.env.BENCH_ONLY || '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return SCENARIOS.filter((s) => only.length === 0 || only.includes(s.name));
}

async function main() {
  compile();
  fs.mkdirSync(RESULTS, { recursive: true });
  writeMachine();
  const env = {
    ...process.env,
    BENCH_RESULTS_DIR: RESULTS,
    CONSUL_BIN: process.env.CONSUL_BIN || path.join(REPO, '.cache', 'bin', 'consul'),
  };
  const runs = [];
  for (const scenario of selected()) {
    if (!fs.existsSync(path.join(OUT, scenario.script))) {
      console.error(`${scenario.name}: ${scenario.script} not built`);
      runs.push({ scenario: scenario.name, status: 'missing', seconds: 0 });
      continue;
    }
    console.log(`\n=== ${scenario.name} ===`);
    // A scenario that fails must not leave an older run's figures in the summary.
    for (const output of scenario.outputs) fs.rmSync(path.join(RESULTS, `${output}.json`), { force: true });
    for (const file of fs.readdirSync(RESULTS).filter((f) => f.startsWith(`${scenario.name}-`) && f.endsWith('.log'))) fs.rmSync(path.join(RESULTS, file));
    runs.push(await runScenario(scenario, env));
    copyIntoResults(scenario);
  }
  fs.writeFileSync(path.join(RESULTS, 'run.json'), `${JSON.stringify({ quick: QUICK, scenarios: runs }, null, 2)}\n`);
  const summary = spawnSync(process.execPath, [path.join(OUT, 'bench', 'summary.js')], { cwd: REPO, env, stdio: 'inherit' });
  const failed = runs.filter((r) => r.status !== 'ok');
  if (summary.status !== 0 || failed.length > 0) {
    console.error(`\nbench: ${failed.map((r) => `${r.scenario} ${r.status}`).join(', ') || 'summary failed'}`);
    process.exitCode = 1;
  }
}

main().catch((error) => {
  console.error(error.message);
  process.exitCode = 1;
});
