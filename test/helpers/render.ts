import { loadTemplates, Templates } from '../../src/render';
import { parseRoute } from '../../src/route';
import { DEFAULT_TEMPLATES_DIR, loadSettings, RawSettings, Settings } from '../../src/settings';
import { checkConfig } from './haproxy';

let shipped: Templates | undefined;

/** The templates shipped in the package's templates/ directory. */
export function shippedTemplates(): Templates {
  shipped = shipped ?? loadTemplates(DEFAULT_TEMPLATES_DIR);
  return shipped;
}

/** Settings for a test HAProxy whose HTTP frontend listens on 127.0.0.1:<port>. */
export function loopbackSettings(port: number, extra: RawSettings = {}): Settings {
  return loadSettings({ BIND_ADDRESS: '127.0.0.1', DEFAULT_PORTS: String(port), ...extra });
}

/** Parse route parameters, render them with the shipped templates, and insist on `haproxy -c`. */
export function renderChecked(routes: readonly Record<string, string>[], settings: Settings): string {
  const config = shippedTemplates().render(routes.map(parseRoute), settings);
  const check = checkConfig(config);
  if (!check.ok) throw new Error(`haproxy -c rejected the rendered config:\n${check.output}\n---\n${config}`);
  return config;
}

/** An HTTP basic auth header value. */
export function basicAuth(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}
