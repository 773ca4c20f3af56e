import { ensureRouteMapFiles } from './applier/route-map-files';
import { ConfigRejected, InvalidSetting } from './errors';
import { checkConfigText } from './haproxy/check';
import type { Templates } from './render';
import { parseRoute } from './route/params';
import type { ProxySettings } from './proxy-settings';
import type { Settings } from './settings';

/**
 * The free-form settings (EXTRA_*, DEBUG_*_FORMAT, ERRORFILES_DIR) are HAProxy's to judge. Each
 * one that is set is tried alone in a config with one http and one tcp route: a value HAProxy
 * rejects stops the start with InvalidSetting naming the variable (exit 2), instead of an HAProxy
 * that never starts with a message about line 42 of a generated file.
 */

type Keep = (proxy: ProxySettings) => Partial<ProxySettings>;

/** Each variable, and what it leaves set in a settings object where the others are blank. */
const FREE_FORM: readonly { readonly name: string; readonly keep: Keep }[] = [
  { name: 'EXTRA_GLOBAL', keep: (p) => ({ extraGlobal: p.extraGlobal }) },
  { name: 'EXTRA_DEFAULTS', keep: (p) => ({ extraDefaults: p.extraDefaults }) },
  { name: 'EXTRA_FRONTEND', keep: (p) => ({ extraFrontend: p.extraFrontend }) },
  { name: 'DEBUG_HTTP_FORMAT', keep: (p) => ({ debug: p.debug && { errorsOnly: false, httpFormat: p.debug.httpFormat } }) },
  { name: 'DEBUG_TCP_FORMAT', keep: (p) => ({ debug: p.debug && { errorsOnly: false, tcpFormat: p.debug.tcpFormat } }) },
  { name: 'ERRORFILES_DIR', keep: (p) => ({ errorFiles: p.errorFiles }) },
];

function isSet(proxy: ProxySettings, name: string): boolean {
  switch (name) {
    case 'EXTRA_GLOBAL':
      return proxy.extraGlobal.length > 0;
    case 'EXTRA_DEFAULTS':
      return proxy.extraDefaults.length > 0;
    case 'EXTRA_FRONTEND':
      return proxy.extraFrontend.length > 0;
    case 'DEBUG_HTTP_FORMAT':
      return proxy.debug?.httpFormat !== undefined;
    case 'DEBUG_TCP_FORMAT':
      return proxy.debug?.tcpFormat !== undefined;
    default:
      return proxy.errorFiles.length > 0;
  }
}

const SAMPLE_ROUTES = [
  { serviceName: 'settings-check-http', servicePath: '/', port: '1', outboundHostname: '127.0.0.1' },
  { serviceName: 'settings-check-tcp', port: '1', srcPort: '1', reqMode: 'tcp', outboundHostname: '127.0.0.1' },
];

export async function checkProxySettings(settings: Settings, templates: Templates): Promise<void> {
  const blank: ProxySettings = { ...settings.proxy, extraGlobal: [], extraDefaults: [], extraFrontend: [], debug: undefined, errorFiles: [] };
  const routes = SAMPLE_ROUTES.map((params) => parseRoute(params));
  // The sample http route is in the route maps, which the config then names.
  await ensureRouteMapFiles(settings.stateDir);
  for (const { name, keep } of FREE_FORM) {
    if (!isSet(settings.proxy, name)) continue;
    const trial: Settings = { ...settings, proxy: { ...blank, ...keep(settings.proxy) } };
    try {
      await checkConfigText(settings.haproxyBin, templates.render(routes, trial));
    } catch (error) {
      if (error instanceof ConfigRejected) throw new InvalidSetting(name, `HAProxy rejects it: ${error.detail || error.message}`);
      throw error;
    }
  }
}
