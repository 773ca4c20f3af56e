import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { loadTemplates, Templates } from '../src/render';
import { MapFile, mapText } from '../src/render/route-maps';
import { parseRoute } from '../src/route';
import { loadSettings } from '../src/settings';
import { Backend, startBackend } from '../test/helpers/backends';
import { MasterCli } from '../src/haproxy/master-cli';
import { HAPROXY_BIN, startHaproxy } from '../test/helpers/haproxy';
import { freePort, waitFor } from '../test/helpers/ports';
import { tempDir } from '../test/helpers/tmp';
import { log, since, summarize, Summary, untilBackend, withCleanUps } from './measure';
import { fillerRoutes, Params, probeEdit, probeParams } from './routes';

/**
 * The floor every figure is divided by: what HAProxy itself needs to take the same config live,
 * with no sidecar — `haproxy -c` on the file, then a master-worker reload, timed until a request
 * through HAProxy reaches the new backend (the same finish line as reconfigure-to-live).
 */

export interface FloorResult {
  readonly routes: number;
  readonly configBytes: number;
  /** `haproxy -c` alone. */
  readonly checkMs: Summary;
  /** Master CLI `reload` until a request reaches the new backend. */
  readonly reloadToLiveMs: Summary;
  /** Check plus reload, per change: the floor. */
  readonly floorMs: Summary;
}

// Compiled into .cache/bench/bench; the shipped templates are at the repository root.
export const REPO = path.resolve(__dirname, '..', '..', '..');

let templates: Templates | undefined;

interface Rendered {
  readonly config: string;
  /** The route maps the config names (in `stateDir`), written before each check as the sidecar does. */
  readonly maps: readonly MapFile[];
}

/** The config the sidecar would render for these routes, with its HTTP frontend on 127.0.0.1:port. */
function renderConfig(routes: readonly Params[], httpPort: number, stateDir: string): Rendered {
  templates = templates ?? loadTemplates(path.join(REPO, 'templates'));
  const settings = loadSettings({ BIND_ADDRESS: '127.0.0.1', DEFAULT_PORTS: String(httpPort), STATE_DIR: stateDir });
  const { config, maps } = templates.renderWithProblems(routes.map(parseRoute), settings);
  return { config, maps };
}

function writeMaps(rendered: Rendered): void {
  for (const map of rendered.maps) fs.writeFileSync(map.file, mapText(map.entries));
}

/** Time `haproxy -c` on a file, as the sidecar runs it. */
function timeCheck(file: string): number {
  const started = performance.now();
  const result = spawnSync(HAPROXY_BIN, ['-c', '-q', '-f', file], { encoding: 'utf8' });
  const elapsed = since(started);
  if (result.status !== 0) throw new Error(`haproxy -c rejected the floor config: ${result.stderr}`);
  return elapsed;
}

interface Sample {
  readonly checkMs: number;
  readonly reloadMs: number;
}

/** Check the new config in place, reload, and wait until HAProxy answers from `target`. */
async function oneChange(configPath: string, masterSocket: string, rendered: Rendered, proxyUrl: string, target: Backend): Promise<Sample> {
  // The re-executed master reopens its CLI socket after the new worker serves: wait for it
  // outside the timing, as the sidecar waits for `show proc` before its next reload.
  const cli = new MasterCli(masterSocket, 5000);
  await waitFor('the HAProxy master CLI', async () => (await cli.command('show proc')).includes('master'), 10000, 5);
  const started = performance.now();
  writeMaps(rendered);
  fs.writeFileSync(configPath, rendered.config);
  const checkMs = timeCheck(configPath);
  const reloadStarted = performance.now();
  await cli.command('reload');
  await untilBackend(proxyUrl, target.name, 60000, reloadStarted);
  return { checkMs, reloadMs: since(started) - checkMs };
}

/** The floor at `size` routes (the filler routes plus the probe), over `samples` changes. */
export async function measureFloor(size: number, samples: number): Promise<FloorResult> {
  return withCleanUps(async (cleanUps) => {
    const backends = [cleanUps.add(await startBackend('floor-a')), cleanUps.add(await startBackend('floor-b'))];
    const httpPort = await freePort();
    const stateDir = tempDir('floor-state-');
    const fillers = fillerRoutes(size - 1);
    // Change i moves the probe to the other backend with a header carrying i, as the sidecar's scenarios do.
    const configs = Array.from({ length: samples + 1 }, (_, i) =>
      renderConfig([...fillers, i === 0 ? probeParams(backends[0].port) : probeEdit(backends[i % 2].port, i)], httpPort, stateDir),
    );
    writeMaps(configs[0]);
    const haproxy = cleanUps.add(await startHaproxy(configs[0].config));
    const proxyUrl = `http://127.0.0.1:${httpPort}/probe`;
    await untilBackend(proxyUrl, backends[0].name, 60000);
    const taken: Sample[] = [];
    for (let i = 1; i <= samples; i++) {
      taken.push(await oneChange(haproxy.configPath, haproxy.masterSocket, configs[i], proxyUrl, backends[i % 2]));
    }
    log(
      `floor at ${size} routes: check p50 ${summarize(taken.map((s) => s.checkMs)).p50} ms, ` +
        `reload-to-live p50 ${summarize(taken.map((s) => s.reloadMs)).p50} ms`,
    );
    return {
      routes: size,
      configBytes: configs[0].config.length,
      checkMs: summarize(taken.map((s) => s.checkMs)),
      reloadToLiveMs: summarize(taken.map((s) => s.reloadMs)),
      floorMs: summarize(taken.map((s) => s.checkMs + s.reloadMs)),
    };
  });
}
