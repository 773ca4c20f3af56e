import type { Logger } from '../logger';
import type { Settings } from '../settings';
import { ConsulStore } from './consul-store';
import { FileStore } from './file-store';
import type { RouteStore } from './route-store';

export type { RouteStore, StoreEntry, StoreHealth, StoreSnapshot, StoreWatch } from './route-store';
export { ConsulStore } from './consul-store';
export { FileStore } from './file-store';

/** Consul when CONSUL_ADDRESS names any address, otherwise the embedded file store in STATE_DIR. */
export function createStore(settings: Settings, logger?: Logger): RouteStore {
  if (settings.consulAddresses.length === 0) return new FileStore({ dir: settings.stateDir, logger });
  return new ConsulStore({
    addresses: settings.consulAddresses,
    token: settings.consulToken,
    prefix: settings.proxyInstanceName,
    requestTimeoutMs: settings.requestTimeoutMs,
    logger,
  });
}
