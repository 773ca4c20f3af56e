import type { Logger } from '../logger';
import type { Settings } from '../settings';
import { AdoptedHaproxy } from './adopted';
import type { HaproxyControl } from './control';
import { ChildHaproxy } from './process';

/** HAPROXY_MASTER_SOCKET set: adopt the HAProxy behind it; otherwise run our own child. */
export function createHaproxyControl(settings: Settings, logger: Logger): HaproxyControl {
  if (settings.haproxyMasterSocket) return new AdoptedHaproxy({ masterSocket: settings.haproxyMasterSocket, logger });
  // DEBUG's access log: HAProxy writes it to its stdout (`log stdout`), one line per request; it
  // goes out on ours as DFP printed it, whatever LOG_LEVEL says.
  const accessLog = settings.proxy.debug ? (line: string) => process.stdout.write(`HAProxy: ${line}\n`) : undefined;
  return new ChildHaproxy({ bin: settings.haproxyBin, stateDir: settings.stateDir, logger, accessLog });
}
