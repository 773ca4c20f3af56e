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
 * is non-zero when any did. BENCH_NOTE=... is written into machine.json and SUMMARY.md (e.g. that
 * the machine was shared with other work during the run).
 *
 * Before compiling it makes sure of what the scenarios run: Debian's haproxy and socat, Consul
 * (scripts/setup.sh) and consul-template, built here from tools/consul-template into
 * .cache/bin/consul-template (the test command never builds it), its output in .cache/logs/.
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
  // haproxy-sidecar beside consul-template + HAProxy, edits interleaved.
  { name: 'kv-edit', script: 'bench/kv-edit.js', limitS: 900, outputs: ['kv-edit'] },
  { name: 'kv-fleet', script: 'bench/kv-fleet.js', limitS: 900, outputs: ['kv-fleet'] },
  // Certificate change to live on three replicas (Runtime API, no reload) beside a route change.
  { name: 'cert-change', script: 'bench/cert-change.js', limitS: 480, outputs: ['cert-change'] },
  // Map-based routing: throughput at 10 and 10,000 routes (maps vs ACLs), and map-only changes through the Runtime API.
  { name: 'route-maps', script: 'bench/route-maps.js', limitS: 600, outputs: ['route-maps'] },
  // Keep-alive clients on an unchanged route while another route's path moves 1,000 times (Runtime API).
  { name: 'keepalive', script: 'bench/keepalive.js', limitS: 600, outputs: ['keepalive'] },
  { name: 'burst', script: 'bench/burst.js', limitS: 420, outputs: ['burst'] },
  // 100 reloads under load and the requests that failed (with its own small-config floor).
  { name: 'reload', script: 'bench/reload.js', limitS: 300, outputs: ['reload'] },
  // The fleet dashboard in Debian's chromium: three replicas, 1,000 routes.
  { name: 'dashboard', script: 'bench/dashboard.js', limitS: 300, outputs: ['dashboard'] },
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

const BIN = path.join(REPO, '.cache', 'bin');
const LOGS = path.join(REPO, '.cache', 'logs');
const CONSUL_TEMPLATE_MODULE = path.join(REPO, 'tools', 'consul-template');
const CONSUL_TEMPLATE_BIN = path.join(BIN, 'consul-template');

/** haproxy, socat, dnsmasq and chromium from Debian, and Consul, through the same steps the test command uses. */
function ensureTools() {
  const steps = 'source scripts/setup.sh && ensure_apt_packages haproxy socat dnsmasq-base chromium && ensure_consul';
  const result = spawnSync('bash', ['-c', steps], { cwd: REPO, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('setting up haproxy, socat, dnsmasq, chromium and Consul failed (see above)');
}

function consulTemplateIsCurrent() {
  if (!fs.existsSync(CONSUL_TEMPLATE_BIN)) return false;
  const built = fs.statSync(CONSUL_TEMPLATE_BIN).mtimeMs;
  return ['go.mod', 'go.sum'].every((file) => fs.statSync(path.join(CONSUL_TEMPLATE_MODULE, file)).mtimeMs <= built);
}

function goBinary() {
  const found = spawnSync('go', ['version'], { stdio: 'ignore' });
  if (!found.error) return 'go';
  if (fs.existsSync('/usr/local/go/bin/go')) return '/usr/local/go/bin/go';
  throw new Error('Go is needed to build consul-template for the benchmark, and is not on PATH (nor in /usr/local/go)');
}

/**
 * Build the consul-template of tools/consul-template (go.mod pins the version) into
 * .cache/bin/consul-template when it is missing or older than go.mod / go.sum. flock keeps two
 * benchmark commands of one tree from building it at once.
 */
function ensureConsulTemplate() {
  if (consulTemplateIsCurrent()) return;
  const version =
    (/github\.com\/hashicorp\/consul-template (v\S+)/.exec(fs.readFileSync(path.join(CONSUL_TEMPLATE_MODULE, 'go.mod'), 'utf8')) || [])[1] ||
    '(version not found in go.mod)';
  console.log(`[bench] building consul-template ${version} from Go modules (first time: a few minutes)`);
  fs.mkdirSync(BIN, { recursive: true });
  fs.mkdirSync(LOGS, { recursive: true });
  fs.mkdirSync(path.join(REPO, '.cache', 'locks'), { recursive: true });
  const log = path.join(LOGS, 'consul-template-build.log');
  const started = Date.now();
  const build = `${goBinary()} build -trimpath -o ${JSON.stringify(CONSUL_TEMPLATE_BIN)} github.com/hashicorp/consul-template > ${JSON.stringify(log)} 2>&1`;
  const result = spawnSync('flock', [path.join(REPO, '.cache', 'locks', 'consul-template'), 'sh', '-c', build], {
    cwd: CONSUL_TEMPLATE_MODULE,
    env: { ...process.env, GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    const tail = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').slice(-40).join('\n') : '';
    throw new Error(`building consul-template failed (last lines of ${log}):\n${tail}`);
  }
  console.log(`[bench] consul-template built in ${Math.round((Date.now() - started) / 1000)} s: ${firstLine(CONSUL_TEMPLATE_BIN, ['-version'])}`);
}

function compile() {
  // The product as it ships (`npm run build`: the CLI and the dashboard's page), then the bench.
  console.log('npm run build');
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
  console.log('tsc -p tsconfig.bench.json');
  const result = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.bench.json'], { cwd: REPO, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('tsc -p tsconfig.bench.json failed');
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
    consulTemplate: firstLine(CONSUL_TEMPLATE_BIN, ['-version']),
    ...(process.env.BENCH_NOTE ? { note: process.env.BENCH_NOTE } : {}),
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
  ensureTools();
  ensureConsulTemplate();
  compile();
  fs.mkdirSync(RESULTS, { recursive: true });
  writeMachine();
  const env = {
    ...process.env,
    BENCH_RESULTS_DIR: RESULTS,
    CONSUL_BIN: process.env.CONSUL_BIN || path.join(REPO, '.cache', 'bin', 'consul'),
    CONSUL_TEMPLATE_BIN: process.env.CONSUL_TEMPLATE_BIN || CONSUL_TEMPLATE_BIN,
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
