import { StoreUnavailable } from '../errors';
import { checkName } from '../route/values';
import type { Logger } from '../logger';
import type { RouteParams } from '../route/route';
import { ConsulClient, ConsulResponse } from './consul-client';
import { decodeChallenge, encodeChallenge, checkToken, sortChallenges } from './acme-codec';
import { ConsulLocks, encodePath } from './consul-lock';
import { KvPair, ListedPair, listPairs } from './kv-listing';
import { KvWatch } from './kv-watch';
import { decodeRoute, encodeRoute, sortEntries, storeName } from './route-codec';
import type { CertEntry, ChallengeEntry, SnapshotStore, StoreLock, StoreEntry, StoreHealth, StoreSnapshot, StoreWatch, Writer } from './route-store';

/**
 * Routes in Consul KV: `<prefix>/services/<serviceName>` holds the whole
 * route as a JSON object of strings; `<prefix>/certs/<certName>` holds a certificate (PEM chain and
 * key), `<prefix>/acme/` the ACME state (account key, challenges, locks). One recursive read of
 * `<prefix>/` gives them all in one snapshot with one index. Each write replaces one whole key in one Raft entry, so writes
 * are atomic per route and concurrent writers cannot lose each other's updates: no write reads
 * before it writes, so none needs a compare-and-set.
 */

export interface ConsulStoreOptions {
  /** Normalized base URLs, tried in order (settings.consulAddresses). */
  readonly addresses: readonly string[];
  readonly token?: string;
  /** PROXY_INSTANCE_NAME. */
  readonly prefix: string;
  /** Timeout of one request; a blocking query gets its wait on top. */
  readonly requestTimeoutMs: number;
  /** How long one blocking query may wait for a change (default 30 s). */
  readonly watchWaitMs?: number;
  /** At most one watch query per this many ms (default 50). */
  readonly watchMinIntervalMs?: number;
  /** Backoff of the watch after an error: first delay and cap (defaults 200 ms, 5 s). */
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  readonly logger?: Logger;
  /** Marks this store's route writes (KV flags), so every replica can say who made a change. */
  readonly writer?: Writer;
}

/**
 * Consul keeps an opaque number with each key (its "flags"), which `consul kv put` sets to 0
 * unless told otherwise: our writers mark their writes with it, so a 0 reads as a hand edit.
 */
const WRITER_FLAGS: Readonly<Record<Writer, number>> = { API: 0x4850_0001, CLI: 0x4850_0002 };

function writerOf(flags: number | undefined): Writer | undefined {
  if (flags === WRITER_FLAGS.API) return 'API';
  if (flags === WRITER_FLAGS.CLI) return 'CLI';
  return undefined;
}

interface Decoded {
  readonly modifyIndex: number;
  readonly entry: StoreEntry;
}

/** The answer to a transaction that wrote a key: the written entry carries the Raft index. */
interface TxnAnswer {
  readonly Results?: ReadonlyArray<{ readonly KV?: { readonly ModifyIndex?: number } }> | null;
}

const FAILOVER_WARNING_INTERVAL_MS = 10000;

export class ConsulStore implements SnapshotStore {
  private readonly client: ConsulClient;
  private readonly root: string;
  private readonly directory: string;
  private readonly certDirectory: string;
  private readonly acmeDirectory: string;
  private readonly challengeDirectory: string;
  private readonly locks: ConsulLocks;
  private readonly watches = new Set<KvWatch>();
  private watchRestarts = 0;
  /** The entries of the last read by key: a key whose ModifyIndex did not move is not decoded again. */
  private readonly decoded = new Map<string, Decoded>();
  /**
   * The certificates of the last read by key, with their value as Consul sent it (base64): a read
   * brings every PEM, and decoding 1,000 of them for a change of one is waste.
   */
  private decodedCerts = new Map<string, { readonly value: string | null; readonly entry: CertEntry }>();

  constructor(private readonly options: ConsulStoreOptions) {
    this.client = new ConsulClient({ addresses: options.addresses, token: options.token, timeoutMs: options.requestTimeoutMs });
    this.root = `${options.prefix}/`;
    this.directory = `${this.root}services/`;
    this.certDirectory = `${this.root}certs/`;
    this.acmeDirectory = `${this.root}acme/`;
    this.challengeDirectory = `${this.acmeDirectory}challenges/`;
    this.locks = new ConsulLocks(this.client, options.logger);
    this.client.onFailover((from, to, reason) => this.logFailover(from, to, reason));
  }

  private lastFailoverWarning = 0;

  /** While every address is down, failovers come every few ms: warn once per interval. */
  private logFailover(from: string, to: string, reason: string): void {
    const now = Date.now();
    const warn = now - this.lastFailoverWarning >= FAILOVER_WARNING_INTERVAL_MS;
    if (warn) this.lastFailoverWarning = now;
    this.options.logger?.[warn ? 'warn' : 'debug']({ from, to, reason }, 'Consul failover');
  }

  async list(): Promise<StoreSnapshot> {
    return this.read(0);
  }

  /** Resolves with the Raft index of the write. */
  async put(params: RouteParams): Promise<number> {
    const serviceName = storeName(params.serviceName);
    const flags = this.options.writer ? { Flags: WRITER_FLAGS[this.options.writer] } : {};
    const operations = [{ KV: { Verb: 'set', Key: this.key(serviceName), Value: base64(encodeRoute(params)), ...flags } }];
    return this.transaction(`store route "${serviceName}"`, operations);
  }

  /**
   * Resolves with the Raft index of the delete. A plain DELETE answers only `true`; a transaction
   * that sets the key and deletes it in the same Raft entry returns that entry's index (from the
   * set) and leaves the key deleted, in one round trip and atomically.
   */
  async remove(serviceName: string): Promise<number> {
    const key = this.key(storeName(serviceName));
    const operations = [{ KV: { Verb: 'set', Key: key, Value: '' } }, { KV: { Verb: 'delete', Key: key } }];
    return this.transaction(`remove route "${serviceName}"`, operations);
  }

  /** Resolves with the Raft index of the write. */
  async putCert(name: string, pem: string): Promise<number> {
    const key = `${this.certDirectory}${checkName('certName', name)}`;
    return this.transaction(`store certificate "${name}"`, [{ KV: { Verb: 'set', Key: key, Value: base64(pem) } }]);
  }

  /** Like remove(): set and delete in one transaction, for the index. */
  async removeCert(name: string): Promise<number> {
    const key = `${this.certDirectory}${checkName('certName', name)}`;
    const operations = [{ KV: { Verb: 'set', Key: key, Value: '' } }, { KV: { Verb: 'delete', Key: key } }];
    return this.transaction(`remove certificate "${name}"`, operations);
  }

  async putChallenge(challenge: ChallengeEntry): Promise<number> {
    const key = `${this.challengeDirectory}${checkToken(challenge.token)}`;
    return this.transaction('store an ACME challenge', [{ KV: { Verb: 'set', Key: key, Value: base64(encodeChallenge(challenge)) } }]);
  }

  /** Like remove(): set and delete in one transaction, for the index. */
  async removeChallenge(token: string): Promise<number> {
    const key = `${this.challengeDirectory}${checkToken(token)}`;
    const operations = [{ KV: { Verb: 'set', Key: key, Value: '' } }, { KV: { Verb: 'delete', Key: key } }];
    return this.transaction('remove an ACME challenge', operations);
  }

  async readAcmeAccount(): Promise<string | undefined> {
    const response = await this.client.request({ method: 'GET', path: `/v1/kv/${encodePath(this.accountKey())}`, query: { raw: 'true' } });
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw refused('read the ACME account', response);
    return response.body === '' ? undefined : response.body;
  }

  /** `cas=0` writes only when the key does not exist: two replicas creating an account at once keep one. */
  async createAcmeAccount(pem: string): Promise<string> {
    const response = await this.client.request({ method: 'PUT', path: `/v1/kv/${encodePath(this.accountKey())}`, query: { cas: '0' }, body: pem });
    if (response.status !== 200) throw refused('store the ACME account', response, 'not stored');
    if (response.body.trim() === 'true') return pem;
    const stored = await this.readAcmeAccount();
    if (stored === undefined) throw new StoreUnavailable('the ACME account key was neither stored nor found');
    return stored;
  }

  tryLock(name: string, holder: string): Promise<StoreLock | undefined> {
    return this.locks.tryLock(`${this.acmeDirectory}locks/${checkName('lock', name)}`, holder);
  }

  private accountKey(): string {
    return `${this.acmeDirectory}account`;
  }

  watch(onSnapshot: (snapshot: StoreSnapshot) => void, onError?: (error: Error) => void): StoreWatch {
    const source = {
      read: (index: number, signal: AbortSignal) => this.read(index, signal),
      onFailover: (listener: () => void) => this.client.onFailover(listener),
    };
    const handlers = { onSnapshot, onError, onRestart: () => this.watchRestarts++ };
    const watch = new KvWatch(source, handlers, {
      minIntervalMs: this.options.watchMinIntervalMs ?? 50,
      backoffMinMs: this.options.backoffMinMs ?? 200,
      backoffMaxMs: this.options.backoffMaxMs ?? 5000,
    });
    this.watches.add(watch);
    return {
      stop: () => {
        watch.stop();
        this.watches.delete(watch);
      },
    };
  }

  health(): StoreHealth {
    return { ...this.client.health(), watchRestarts: this.watchRestarts };
  }

  async close(): Promise<void> {
    for (const watch of this.watches) watch.stop();
    this.watches.clear();
    this.client.close();
  }

  private key(serviceName: string): string {
    return `${this.directory}${serviceName}`;
  }

  /** Every route under the prefix; blocks until the data passes `index` when it is above 0. */
  private async read(index: number, signal?: AbortSignal): Promise<StoreSnapshot> {
    const waitMs = this.options.watchWaitMs ?? 30000;
    // Consul adds up to wait/16 of jitter to a blocking query.
    const blocking = index > 0 ? { query: { index: String(index), wait: `${waitMs}ms` }, extraTimeoutMs: Math.ceil(waitMs * 1.07) } : undefined;
    const response = await this.client.request({
      method: 'GET',
      path: `/v1/kv/${encodePath(this.root)}`,
      query: { recurse: 'true' },
      blocking,
      signal,
    });
    if (response.status === 404) return { index: response.index, entries: [] };
    if (response.status !== 200) throw refused('read the routes', response);
    const pairs = parseListing(response);
    try {
      const certs = this.decodeCerts(pairs);
      const challenges = this.decodeChallenges(pairs);
      return {
        index: response.index,
        entries: this.decode(pairs),
        ...(certs.length > 0 ? { certs } : {}),
        ...(challenges.length > 0 ? { challenges } : {}),
      };
    } catch (error) {
      // A pair's object is parsed when it is decoded (kv-listing.ts).
      if (error instanceof SyntaxError) throw notJson(response, 'read the routes');
      throw error;
    }
  }

  /**
   * Certificates sorted by name; folder keys and keys deeper than one level are none. A key whose
   * value is the one of the last read keeps its entry (the same object and PEM string, so the
   * comparisons downstream find it unchanged at once). The value is compared, not the
   * ModifyIndex, which a new Consul data directory hands out again for other values.
   */
  private decodeCerts(listed: readonly ListedPair[]): CertEntry[] {
    const next = new Map<string, { readonly value: string | null; readonly entry: CertEntry }>();
    const certs: CertEntry[] = [];
    for (const item of listed) {
      if (!item.key.startsWith(this.certDirectory)) continue;
      const pair = item.pair();
      const name = pair.Key.slice(this.certDirectory.length);
      if (name === '' || name.includes('/')) continue;
      const known = this.decodedCerts.get(pair.Key);
      const entry = known?.value === pair.Value ? known.entry : { name, pem: pair.Value === null ? '' : Buffer.from(pair.Value, 'base64').toString('utf8') };
      next.set(pair.Key, { value: pair.Value, entry });
      certs.push(entry);
    }
    this.decodedCerts = next;
    return certs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Challenges sorted by token; keys or values that are not one are left out. */
  private decodeChallenges(listed: readonly ListedPair[]): ChallengeEntry[] {
    const challenges: ChallengeEntry[] = [];
    for (const item of listed) {
      if (!item.key.startsWith(this.challengeDirectory)) continue;
      const pair = item.pair();
      if (pair.Value === null) continue;
      const challenge = decodeChallenge(pair.Key.slice(this.challengeDirectory.length), Buffer.from(pair.Value, 'base64').toString('utf8'));
      if (challenge) challenges.push(challenge);
    }
    return sortChallenges(challenges);
  }

  /**
   * Decode the pairs; a key whose ModifyIndex is the one of the last read keeps its entry (the
   * same object, so the de-duplication and the applier's parser see at once it did not change)
   * and is not parsed at all. The index of decoded entries is kept up to date in place: at 10,000
   * routes a new map per read is garbage the collector pays for.
   */
  private decode(listed: readonly ListedPair[]): StoreEntry[] {
    const entries: StoreEntry[] = [];
    let remembered = 0;
    for (const item of listed) {
      if (!item.key.startsWith(this.directory)) continue;
      // The directory key itself (`.../services/`, made by the UI or `consul kv put`) is no route.
      if (item.key.length === this.directory.length) continue;
      const known = this.decoded.get(item.key);
      const modifyIndex = item.modifyIndex;
      if (typeof modifyIndex === 'number') remembered++;
      if (known && known.modifyIndex === modifyIndex) {
        entries.push(known.entry);
        continue;
      }
      const pair = item.pair();
      const entry = this.decodePair(pair.Key.slice(this.directory.length), pair);
      // The parsed pair's Key: `item.key` may be a slice of the whole answer.
      if (typeof modifyIndex === 'number') this.decoded.set(pair.Key, { modifyIndex, entry });
      else this.decoded.delete(pair.Key);
      entries.push(entry);
    }
    if (this.decoded.size !== remembered) this.forgetAllBut(listed);
    return sortEntries(entries);
  }

  /** Forget the keys gone from the store (and those without a ModifyIndex). */
  private forgetAllBut(listed: readonly ListedPair[]): void {
    const kept = new Set(listed.filter((item) => typeof item.modifyIndex === 'number').map((item) => item.key));
    for (const key of this.decoded.keys()) if (!kept.has(key)) this.decoded.delete(key);
  }

  private decodePair(serviceName: string, pair: KvPair): StoreEntry {
    const entry = decodeRoute(serviceName, pair.Value === null ? null : Buffer.from(pair.Value, 'base64').toString('utf8'));
    const writer = writerOf(pair.Flags);
    return writer ? { ...entry, writer } : entry;
  }

  private async transaction(what: string, operations: readonly object[]): Promise<number> {
    const response = await this.client.request({ method: 'PUT', path: '/v1/txn', body: JSON.stringify(operations) });
    // A 4xx (ACL, malformed) is Consul refusing the transaction: nothing was applied.
    if (response.status !== 200) throw refused(what, response, 'not stored');
    const index = parseJson<TxnAnswer>(response, what).Results?.[0]?.KV?.ModifyIndex;
    if (typeof index !== 'number' || index <= 0)
      throw new StoreUnavailable(`Consul did not return the index of the write (${what}) from ${response.address}`, 'unknown');
    return index;
  }
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** Any answer but the expected one is a failure: never count a Consul error as success. */
function refused(what: string, response: ConsulResponse, outcome?: 'not stored'): StoreUnavailable {
  const detail = response.body.trim().slice(0, 300) || 'no body';
  return new StoreUnavailable(`Consul at ${response.address} refused to ${what}: HTTP ${response.status}: ${detail}`, outcome);
}

/** The pairs of a recursive read (kv-listing.ts: only the changed ones are parsed in full). */
function parseListing(response: ConsulResponse): ListedPair[] {
  try {
    return listPairs(response.body);
  } catch {
    throw notJson(response, 'read the routes');
  }
}

function parseJson<T>(response: ConsulResponse, what: string): T {
  try {
    return JSON.parse(response.body) as T;
  } catch {
    throw notJson(response, what);
  }
}

function notJson(response: ConsulResponse, what: string): StoreUnavailable {
  return new StoreUnavailable(`Consul at ${response.address} answered "${what}" with something that is not JSON`);
}
