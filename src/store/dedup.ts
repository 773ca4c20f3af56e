import { RouteParams, sameParams } from '../route/route';
import type { CertEntry, ChallengeEntry, RouteStore, StoreLock, SnapshotStore, StoreEntry, StoreHealth, StoreSnapshot, StoreWatch } from './route-store';

/** The same stored value under the same name (what the watch, the route log and the change log count as no change). */
export function sameEntry(a: StoreEntry, b: StoreEntry): boolean {
  // The Consul store hands out the same entry object for a key whose ModifyIndex did not move.
  if (a === b) return true;
  return a.serviceName === b.serviceName && a.error === b.error && sameParams(a.params, b.params);
}

function sameCerts(a: readonly CertEntry[] = [], b: readonly CertEntry[] = []): boolean {
  return a.length === b.length && a.every((cert, i) => cert.name === b[i].name && cert.pem === b[i].pem);
}

function sameChallenges(a: readonly ChallengeEntry[] = [], b: readonly ChallengeEntry[] = []): boolean {
  return a.length === b.length && a.every((c, i) => c.token === b[i].token && c.keyAuthorization === b[i].keyAuthorization && c.certName === b[i].certName);
}

/** Same routes with the same parameters (entries sorted by serviceName), the same certificates and challenges; the index is ignored. */
export function sameContent(a: StoreSnapshot | undefined, b: StoreSnapshot): boolean {
  if (a === undefined || a.entries.length !== b.entries.length) return false;
  return a.entries.every((entry, i) => sameEntry(entry, b.entries[i])) && sameCerts(a.certs, b.certs) && sameChallenges(a.challenges, b.challenges);
}

/**
 * What "a real change" means, for both stores: a snapshot is passed on when its routes differ from
 * the last one passed on, and each new index once (a write of the same route again moves only the
 * index, and its writer waits for it).
 */
export class SnapshotDedup {
  private last?: StoreSnapshot;
  private lastIndex?: number;

  constructor(
    private readonly onChange: (snapshot: StoreSnapshot) => void,
    private readonly onIndex?: (index: number) => void,
  ) {}

  offer(snapshot: StoreSnapshot): void {
    if (!sameContent(this.last, snapshot)) {
      this.last = snapshot;
      this.onChange(snapshot);
    }
    if (this.lastIndex === snapshot.index) return;
    this.lastIndex = snapshot.index;
    this.onIndex?.(snapshot.index);
  }
}

/** The one de-duplicating wrapper over both stores (Consul and file): every watch gets its own SnapshotDedup. */
export class DedupedStore implements RouteStore {
  constructor(private readonly inner: SnapshotStore) {}

  list(): Promise<StoreSnapshot> {
    return this.inner.list();
  }

  put(params: RouteParams): Promise<number> {
    return this.inner.put(params);
  }

  remove(serviceName: string): Promise<number> {
    return this.inner.remove(serviceName);
  }

  putCert(name: string, pem: string): Promise<number> {
    return this.inner.putCert(name, pem);
  }

  removeCert(name: string): Promise<number> {
    return this.inner.removeCert(name);
  }

  putChallenge(challenge: ChallengeEntry): Promise<number> {
    return this.inner.putChallenge(challenge);
  }

  removeChallenge(token: string): Promise<number> {
    return this.inner.removeChallenge(token);
  }

  readAcmeAccount(): Promise<string | undefined> {
    return this.inner.readAcmeAccount();
  }

  createAcmeAccount(pem: string): Promise<string> {
    return this.inner.createAcmeAccount(pem);
  }

  tryLock(name: string, holder: string): Promise<StoreLock | undefined> {
    return this.inner.tryLock(name, holder);
  }

  watch(onChange: (snapshot: StoreSnapshot) => void, onError?: (error: Error) => void, onIndex?: (index: number) => void): StoreWatch {
    const dedup = new SnapshotDedup(onChange, onIndex);
    return this.inner.watch((snapshot) => dedup.offer(snapshot), onError);
  }

  health(): StoreHealth {
    return this.inner.health();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
