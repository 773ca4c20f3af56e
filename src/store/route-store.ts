import type { RouteParams } from '../route/route';

/**
 * One key of the store, decoded. `params` is null when the stored value is not a JSON object of
 * strings; `error` then says why. Validation of the parameters themselves is the applier's job
 * (through route/), so a hand edit that is valid JSON but a bad route still reaches it and is
 * reported there.
 */
export interface StoreEntry {
  readonly serviceName: string;
  readonly params: RouteParams | null;
  readonly error?: string;
  /** Who wrote the value, when the store can tell (Consul KV flags); absent: a hand edit. */
  readonly writer?: Writer;
}

/** Which of our programs wrote a stored route: the `serve` API or the `routes` CLI. */
export type Writer = 'API' | 'CLI';

/**
 * Everything the store holds under our prefix at one moment. `index` grows with every change
 * (Consul's X-Consul-Index / Raft index; a counter for the file store), so callers can wait until
 * a replica has applied at least the index their write returned.
 */
export interface StoreSnapshot {
  readonly index: number;
  readonly entries: readonly StoreEntry[];
  /** Stored certificates, sorted by name; absent means none. */
  readonly certs?: readonly CertEntry[];
  /** HTTP-01 challenges being answered, sorted by token; absent means none. */
  readonly challenges?: readonly ChallengeEntry[];
}

/**
 * An HTTP-01 challenge of an ACME order in progress: every replica's HAProxy answers
 * `GET /.well-known/acme-challenge/<token>` with `keyAuthorization`. Not a secret (the CA and
 * anyone asking get it); `certName` says whose order it belongs to, so a replica that takes over
 * an order can clear what a dead one left.
 */
export interface ChallengeEntry {
  readonly token: string;
  readonly keyAuthorization: string;
  readonly certName: string;
}

/** A lock held in the store; release() is safe to call twice. */
export interface StoreLock {
  release(): Promise<void>;
}

/**
 * One stored certificate: its name and the PEM (chain and key) exactly as stored. Like a route,
 * it is judged (certs/) by whoever uses it: a hand edit may have broken it. The PEM is a secret.
 */
export interface CertEntry {
  readonly name: string;
  readonly pem: string;
}

export interface StoreAddressHealth {
  readonly address: string;
  readonly reachable: boolean;
  readonly lastError?: string;
}

export interface StoreHealth {
  /** True when the last request to the store succeeded. */
  readonly reachable: boolean;
  /** Epoch milliseconds of the last successful request, 0 if none yet. */
  readonly lastContact: number;
  readonly lastError?: string;
  readonly addresses: readonly StoreAddressHealth[];
  /** How many times the watch loop restarted (error, failover, index reset). */
  readonly watchRestarts: number;
}

export interface StoreWatch {
  stop(): void;
}

/** The part of a store that reads and writes, whatever watches it. */
interface StoreAccess {
  /** A consistent snapshot of every route. Throws StoreUnavailable when the store cannot answer. */
  list(): Promise<StoreSnapshot>;
  /** Add or replace the route of params.serviceName. Resolves with the store index of the write. */
  put(params: RouteParams): Promise<number>;
  /** Delete the route; idempotent. Resolves with the store index after the delete. */
  remove(serviceName: string): Promise<number>;
  /** Add or replace the certificate `name` (a validated, normalized PEM). Resolves with the store index. */
  putCert(name: string, pem: string): Promise<number>;
  /** Delete the certificate; idempotent. Resolves with the store index after the delete. */
  removeCert(name: string): Promise<number>;
  /** Publish an HTTP-01 challenge. Resolves with the store index. */
  putChallenge(challenge: ChallengeEntry): Promise<number>;
  /** Withdraw a challenge; idempotent. Resolves with the store index. */
  removeChallenge(token: string): Promise<number>;
  /** The ACME account key (PEM, a secret), or undefined while none is stored. */
  readAcmeAccount(): Promise<string | undefined>;
  /** Store `pem` as the ACME account key unless one is stored already; resolves with the key stored (first writer wins). */
  createAcmeAccount(pem: string): Promise<string>;
  /**
   * Take the lock `name` for `holder` (a description shown to people) if nobody holds it;
   * undefined when somebody does. A holder that dies loses it: Consul through the session's TTL,
   * the file store when the holder's process is gone.
   */
  tryLock(name: string, holder: string): Promise<StoreLock | undefined>;
  health(): StoreHealth;
  close(): Promise<void>;
}

/**
 * A store as Consul or the file system gives it: watch() passes on every snapshot it reads, the
 * same routes again included, retrying forever on errors (onError is told about each failed
 * attempt). The de-duplicating wrapper (dedup.ts) makes a RouteStore of it.
 */
export interface SnapshotStore extends StoreAccess {
  watch(onSnapshot: (snapshot: StoreSnapshot) => void, onError?: (error: Error) => void): StoreWatch;
}

export interface RouteStore extends StoreAccess {
  /**
   * Call onChange with the first snapshot and then on every real change (deduplicated by content),
   * retrying forever on errors. onError is told about each failed attempt.
   * onIndex is told every new index the store reports, also when the content did not change (a put
   * of the same value still advances Consul's index): whoever waits for "applied index >= the index
   * my write returned" needs it, because such a write produces no onChange.
   */
  watch(onChange: (snapshot: StoreSnapshot) => void, onError?: (error: Error) => void, onIndex?: (index: number) => void): StoreWatch;
}
