import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { supervise } from '../test/helpers/child';
import { HAPROXY_BIN, RunningHaproxy, startHaproxy } from '../test/helpers/haproxy';
import { waitFor } from '../test/helpers/ports';
import { tempDir } from '../test/helpers/tmp';
import { REPO } from './floor';
import { CleanUps } from './measure';

/**
 * The peer of the kv-edit benchmark: consul-template (built from tools/consul-template by
 * scripts/run-bench.js) rendering bench/consul-template/haproxy.cfg.ctmpl and its route maps
 * (routes-*.map.ctmpl) from its own Consul agent, and on every change running `haproxy -c` and a master CLI reload of its own HAProxy, as a
 * consul-template + HAProxy deployment does.
 */

export const CONSUL_TEMPLATE_BIN = process.env.CONSUL_TEMPLATE_BIN ?? path.join(REPO, '.cache', 'bin', 'consul-template');
const TEMPLATE = path.join(REPO, 'bench', 'consul-template', 'haproxy.cfg.ctmpl');

export interface ConsulTemplatePeer {
  /** consul-template's own process. */
  readonly pid: number;
  readonly haproxy: RunningHaproxy;
  /** Base URL of its HAProxy's HTTP frontend. */
  readonly proxy: string;
  logs(): string;
  stop(): Promise<void>;
}

/** `host:port` of a Consul agent's HTTP address. */
const hostPort = (consul: string): string => consul.replace(/^https?:\/\//, '');

/** The route maps the peer renders beside haproxy.cfg (the wildcard map stays empty: the benchmark's routes have no wildcard domain). */
const MAPS = ['exact', 'prefix'] as const;
const mapTemplate = (kind: string): string => path.join(REPO, 'bench', 'consul-template', `routes-${kind}.map.ctmpl`);
const mapFile = (dir: string, kind: string): string => path.join(dir, `routes-${kind}.map`);

/** What the peer renders: the config and its route maps' texts. */
interface Rendered {
  readonly config: string;
  readonly maps: Readonly<Record<(typeof MAPS)[number], string>>;
}

/**
 * Render the templates once (no command) with the HTTP frontend bound to `bind` and the config
 * naming the route maps in `mapsDir`; the maps are written to `outDir`.
 */
function renderOnce(consul: string, bind: string, mapsDir: string, outDir: string): Rendered {
  const out = path.join(outDir, 'haproxy.cfg');
  const templates = [`${TEMPLATE}:${out}`, ...MAPS.map((kind) => `${mapTemplate(kind)}:${mapFile(outDir, kind)}`)];
  const result = spawnSync(
    CONSUL_TEMPLATE_BIN,
    ['-consul-addr', hostPort(consul), '-once', '-log-level', 'warn', ...templates.flatMap((t) => ['-template', t])],
    {
      env: { ...process.env, BENCH_BIND: bind, BENCH_MAPS_DIR: mapsDir },
      encoding: 'utf8',
      timeout: 120000,
    },
  );
  if (result.error) throw new Error(`cannot run ${CONSUL_TEMPLATE_BIN} (scripts/run-bench.js builds it): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`consul-template -once failed (${result.status}): ${result.stderr}`);
  const read = (kind: string): string => fs.readFileSync(mapFile(outDir, kind), 'utf8');
  return { config: fs.readFileSync(out, 'utf8'), maps: { exact: read('exact'), prefix: read('prefix') } };
}

/** The first line where two configs differ, for an error message. */
export function firstDifference(ours: string, theirs: string): string {
  const a = ours.split('\n');
  const b = theirs.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `line ${i + 1}: haproxy-sidecar ${JSON.stringify(a[i] ?? '(end)')}, consul-template ${JSON.stringify(b[i] ?? '(end)')}`;
  }
  return 'none';
}

/** A map's lines in a fixed order: both sides' maps are trees in HAProxy, where order does not matter. */
const sortedLines = (text: string): string =>
  `${text
    .split('\n')
    .filter((line) => line !== '')
    .sort()
    .join('\n')}\n`;

/**
 * Fail loudly unless consul-template, reading `consul`, renders exactly the sidecar's config
 * (`stateDir`/haproxy.cfg, whose HTTP frontend binds `sidecarBind`) and the same route map
 * entries (an empty wildcard map, as the peer has none).
 */
export function assertSameConfig(consul: string, sidecarBind: string, stateDir: string, when: string): void {
  const theirs = renderOnce(consul, sidecarBind, stateDir, tempDir('bench-ct-once-'));
  const ours: Rendered = {
    config: fs.readFileSync(path.join(stateDir, 'haproxy.cfg'), 'utf8'),
    maps: {
      exact: sortedLines(fs.readFileSync(mapFile(stateDir, 'exact'), 'utf8')),
      prefix: sortedLines(fs.readFileSync(mapFile(stateDir, 'prefix'), 'utf8')),
    },
  };
  const pairs: [string, string, string][] = [
    ['haproxy.cfg', ours.config, theirs.config],
    ...MAPS.map((kind): [string, string, string] => [`routes-${kind}.map`, ours.maps[kind], sortedLines(theirs.maps[kind])]),
    ['routes-wildcards.map', fs.readFileSync(mapFile(stateDir, 'wildcards'), 'utf8'), ''],
  ];
  for (const [file, sidecarText, peerText] of pairs) {
    if (sidecarText === peerText) continue;
    // Both texts kept for `diff -u`: a template change on either side shows in full.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ct-differs-'));
    fs.writeFileSync(path.join(dir, `haproxy-sidecar-${file}`), sidecarText);
    fs.writeFileSync(path.join(dir, `consul-template-${file}`), peerText);
    throw new Error(
      `${when}: consul-template's ${file} differs from haproxy-sidecar's for the same KV data (${firstDifference(sidecarText, peerText)}); ` +
        `the comparison would be meaningless (both texts in ${dir})`,
    );
  }
}

function hcl(consul: string, destinations: Readonly<Record<string, string>>, command: string): string {
  const lines = [`consul { address = ${JSON.stringify(hostPort(consul))} }`, 'log_level = "info"'];
  // One block per file with the same command: consul-template renders every changed file first,
  // then runs a command shared by several templates once.
  for (const [source, destination] of Object.entries(destinations)) {
    lines.push(
      'template {',
      `  source = ${JSON.stringify(source)}`,
      `  destination = ${JSON.stringify(destination)}`,
      // Run through sh: check the new file, then reload through the master CLI, as the usual setup does.
      `  command = ${JSON.stringify(command)}`,
      '  command_timeout = "120s"',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Render once, start HAProxy (master-worker, master CLI socket) with that config on
 * 127.0.0.1:`httpPort`, then run consul-template against `consul`: every change it renders goes
 * through `haproxy -c` and a master CLI `reload`.
 */
export async function startConsulTemplatePeer(consul: string, httpPort: number, cleanUps: CleanUps): Promise<ConsulTemplatePeer> {
  const bind = `127.0.0.1:${httpPort}`;
  const mapsDir = tempDir('bench-ct-maps-');
  fs.writeFileSync(mapFile(mapsDir, 'wildcards'), '');
  const haproxy = cleanUps.add(await startHaproxy(renderOnce(consul, bind, mapsDir, mapsDir).config));
  const dir = tempDir('bench-ct-');
  const configFile = path.join(dir, 'consul-template.hcl');
  const command = `${HAPROXY_BIN} -c -q -f ${haproxy.configPath} && echo reload | socat stdio unix-connect:${haproxy.masterSocket}`;
  const destinations = { [TEMPLATE]: haproxy.configPath, ...Object.fromEntries(MAPS.map((kind) => [mapTemplate(kind), mapFile(mapsDir, kind)])) };
  fs.writeFileSync(configFile, hcl(consul, destinations, command));
  const child = spawn(CONSUL_TEMPLATE_BIN, ['-config', configFile], {
    env: { ...process.env, BENCH_BIND: bind, BENCH_MAPS_DIR: mapsDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-200000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-200000)));
  const supervised = supervise(child);
  const peer: ConsulTemplatePeer = {
    pid: child.pid ?? 0,
    haproxy,
    proxy: `http://${bind}`,
    logs: () => output,
    stop: () => supervised.stop(5000),
  };
  cleanUps.add(peer);
  // Its first render is the same text (no command, no log line at info level): the caller's
  // warm-up edit, untimed, is what shows it watches the keys.
  await waitFor(
    'consul-template to start',
    async () => {
      if (supervised.exited()) throw new Error(`consul-template exited:\n${output}`);
      return output.includes('(runner) starting');
    },
    60000,
    50,
  );
  return peer;
}

/** Whether socat (the reload command's way to the master CLI) is installed. */
export function assertSocat(): void {
  const result = spawnSync('socat', ['-V'], { encoding: 'utf8' });
  if (result.error) throw new Error('socat is needed by the consul-template peer (scripts/run-bench.js installs it)');
}
