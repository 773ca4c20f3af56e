import * as fs from 'fs';
import * as path from 'path';
import { loadTemplates } from '../src/render';
import { parseRoute, Route } from '../src/route';
import { loadSettings } from '../src/settings';

/**
 * How long rendering takes for 10, 1,000 and 10,000 routes (target: 10,000 under 200 ms).
 * Build and run: npx tsc -p tsconfig.bench.json && node .cache/bench/bench/render.js
 * Prints JSON and writes bench/results/render.json.
 */

const SIZES = [10, 1000, 10000];
const REPEATS = 7;
const REPO = path.resolve(__dirname, '..', '..', '..');

/** A realistic mix: paths, domains, users, headers, rewrites, tcp and sni routes. */
function routeParams(i: number): Record<string, string> {
  const base = { serviceName: `service-${i}`, port: String(8000 + (i % 1000)), outboundHostname: `host-${i}` };
  switch (i % 10) {
    case 0:
      return { ...base, serviceDomain: `s${i}.example.com,*.s${i}.example.net` };
    case 1:
      return { ...base, servicePath: `/api/${i}`, users: `u${i}:p${i}`, addReqHeader: 'X-Forwarded-Port %[dst_port]' };
    case 2:
      return { ...base, servicePath: `/r/${i}`, reqPathSearch: `^/r/${i}/(.*)`, reqPathReplace: '/\\1', httpsOnly: 'true' };
    case 3:
      return { ...base, reqMode: 'tcp', srcPort: String(20000 + i) };
    case 4:
      return { ...base, reqMode: 'sni', srcPort: '443', serviceDomain: `t${i}.example.com` };
    default:
      return { ...base, 'servicePath.1': `/svc/${i},/alt/${i}`, 'port.2': '9000', 'servicePath.2': `/admin/${i}` };
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function measure(routes: readonly Route[], render: () => string): { routes: number; medianMs: number; minMs: number; bytes: number } {
  let bytes = 0;
  const times: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const started = process.hrtime.bigint();
    bytes = render().length;
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return { routes: routes.length, medianMs: Math.round(median(times) * 100) / 100, minMs: Math.round(Math.min(...times) * 100) / 100, bytes };
}

function main(): void {
  // Compiled into .cache/bench, so the shipped templates are found from the repository root.
  const templates = loadTemplates(path.join(REPO, 'templates'));
  const settings = loadSettings({ DEFAULT_PORTS: '80', STATS_USER: 'u', STATS_PASS: 'p' });
  const results = SIZES.map((size) => {
    const routes = Array.from({ length: size }, (_, i) => parseRoute(routeParams(i)));
    templates.render(routes, settings); // warm up the JIT
    return measure(routes, () => templates.render(routes, settings));
  });
  const report = { benchmark: 'render', node: process.version, repeats: REPEATS, targetMs: { routes: 10000, under: 200 }, results };
  const dir = path.join(REPO, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'render.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
}

main();
