import type { Logger } from '../logger';
import type { Settings } from '../settings';
import { ConsulStore } from './consul-store';
import { DedupedStore } from './dedup';
import { FileStore } from './file-store';
import type { RouteStore, Writer } from './route-store';

export type {
  CertEntry,
  ChallengeEntry,
  RouteStore,
  StoreLock,
  SnapshotStore,
  StoreEntry,
  StoreHealth,
  StoreSnapshot,
  StoreWatch,
  Writer,
} from './route-store';
export { DedupedStore, SnapshotDedup, sameContent } from './dedup';
export { ConsulStore } from './consul-store';
export { FileStore } from './file-store';

/**
 * Consul when CONSUL_ADDRESS names any address, otherwise the embedded file store in STATE_DIR;
 * either behind the de-duplicating wrapper. `writer` marks this program's route writes (Consul only).
 */
export function createStore(settings: Settings, logger?: Logger, writer?: Writer): RouteStore {
  if (settings.consulAddresses.length === 0) return new DedupedStore(new FileStore({ dir: settings.stateDir, logger }));
  return new DedupedStore(
    new ConsulStore({
      addresses: settings.consulAddresses,
      token: settings.consulToken,
      prefix: settings.proxyInstanceName,
      requestTimeoutMs: settings.requestTimeoutMs,
      logger,
      writer,
    }),
  );
}
