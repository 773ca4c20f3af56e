import { loadTemplates, Templates } from '../../src/render';
import { parseRoute } from '../../src/route';
import { DEFAULT_TEMPLATES_DIR, loadSettings, RawSettings, Settings } from '../../src/settings';
import * as fs from 'fs';
import * as path from 'path';
import { MapFile, mapText } from '../../src/render/route-maps';
import { checkConfig } from './haproxy';
import { tempDir } from './tmp';

let shipped: Templates | undefined;

/** The templates shipped in the package's templates/ directory. */
export function shippedTemplates(): Templates {
  shipped = shipped ?? loadTemplates(DEFAULT_TEMPLATES_DIR);
  return shipped;
}

/**
 * Settings for a test HAProxy whose HTTP frontend listens on 127.0.0.1:<port>; STATE_DIR (where
 * the route maps go) is a fresh folder unless given, since test files run in parallel.
 */
export function loopbackSettings(port: number, extra: RawSettings = {}): Settings {
  return loadSettings({ BIND_ADDRESS: '127.0.0.1', DEFAULT_PORTS: String(port), STATE_DIR: tempDir('state-'), ...extra });
}

/**
 * Parse route parameters, render them with the shipped templates, write the route maps the
 * config names (as the applier does before a reload), and insist on `haproxy -c`.
 */
export function renderChecked(routes: readonly Record<string, string>[], settings: Settings): string {
  const { config, maps } = shippedTemplates().renderWithProblems(routes.map(parseRoute), settings);
  writeMaps(maps);
  const check = checkConfig(config);
  if (!check.ok) throw new Error(`haproxy -c rejected the rendered config:\n${check.output}\n---\n${config}`);
  return config;
}

/** Write the route maps a render names, as the applier does before a reload. */
export function writeMaps(maps: readonly MapFile[]): void {
  for (const map of maps) fs.writeFileSync(map.file, mapText(map.entries));
}

let aclOnly: Templates | undefined;

/**
 * The shipped templates without their route map blocks, as templates of one's own written before
 * the maps: every route then keeps its ACL lines, in DFP's names and order.
 */
export function aclTemplates(): Templates {
  if (aclOnly) return aclOnly;
  const dir = tempDir('acl-templates-');
  for (const file of fs.readdirSync(DEFAULT_TEMPLATES_DIR)) fs.copyFileSync(path.join(DEFAULT_TEMPLATES_DIR, file), path.join(dir, file));
  const frontend = path.join(dir, 'frontend-http.hbs');
  fs.writeFileSync(frontend, fs.readFileSync(frontend, 'utf8').replace(/\{\{#if routeMaps\}\}[\s\S]*?\{\{\/if\}\}\n/g, ''));
  aclOnly = loadTemplates(dir);
  return aclOnly;
}

/** An HTTP basic auth header value. */
export function basicAuth(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}
