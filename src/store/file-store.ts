import * as fs from 'fs';
import * as path from 'path';
import { StoreUnavailable } from '../errors';
import { checkName } from '../route/values';
import { PRIVATE_FILE_MODE, writeAtomic } from '../files/atomic-write';
import { holdsBytes } from '../files/same-bytes';
import type { Logger } from '../logger';
import type { RouteParams } from '../route/route';
import { decodeValue, sortEntries, storeName } from './route-codec';
import type { ChallengeEntry, SnapshotStore, StoreEntry, StoreHealth, StoreLock, StoreSnapshot, StoreWatch } from './route-store';
import { checkToken, decodeChallenge, encodeChallenge, sortChallenges } from './acme-codec';
import { FileLock } from './file-lock';
import { StoredJson } from './stored-json';
import { appended, appendLine, emptyJournal, JournalBytes, JOURNAL_SUFFIX, journalLine, readJournal, replay } from './route-journal';

/**
 * The embedded store (no CONSUL_ADDRESS): `<stateDir>/routes.json` = {index, routes: {name: params},
 * certs: {name: PEM}, acme: {account: PEM, challenges: {token: {certName, keyAuthorization}}}}
 * (mode 0600: it holds private keys), and its journal `routes.json.journal` (route-journal.ts):
 * what the store holds is routes.json with the journal's lines replayed on it. Locks (tryLock) are
 * lock files beside it. Every write is read-modify-write under a lock file (the CLI's `routes add`
 * may run while `serve` runs) and bumps the persisted index: a process's first write, and any
 * write once the journal passes COMPACT_BYTES, rewrites routes.json whole, atomically (temp file,
 * fsync, rename, fsync of the directory) and empties the journal; the others append one line to the
 * journal (one fdatasync); once writes stop for COMPACT_AFTER_MS the journal is folded into
 * routes.json. Watchers hear of this process's writes at once and of other
 * processes' writes through fs.watch, with a stat poll as the fallback where fs.watch is deaf
 * (network and some container volumes).
 */

export interface FileStoreOptions {
  readonly dir: string;
  /** How often the file is stat'ed in case fs.watch misses a change (default 500 ms). */
  readonly pollIntervalMs?: number;
  readonly logger?: Logger;
}

interface StoredFile {
  readonly index: number;
  /** Maps, never plain objects: a service or certificate may be called `__proto__` or `constructor`. */
  readonly routes: ReadonlyMap<string, unknown>;
  readonly certs: ReadonlyMap<string, unknown>;
  readonly acme: StoredAcme;
}

interface StoredAcme {
  readonly account?: string;
  readonly challenges: ReadonlyMap<string, unknown>;
}

/** What an edit changes in place. */
interface StoredData {
  readonly routes: Map<string, unknown>;
  readonly certs: Map<string, unknown>;
  readonly challenges: Map<string, unknown>;
  account?: string;
}

/** A lock held by a live process that began an ACME order is not stale however long the order takes. */
const ACME_LOCK_STALE_MS = 3600000;

/** The bytes of routes.json (undefined: no file) and of its journal, what routes.json holds, and what both hold. */
interface Known {
  readonly bytes: Buffer | undefined;
  readonly journal: Buffer;
  readonly base: StoredFile;
  readonly stored: StoredFile;
}

/** Known, as read under the lock before a write: whether the journal file exists. */
interface KnownState extends Known {
  readonly journalExists: boolean;
}

/** A journal longer than this is folded into routes.json by the next write. */
const COMPACT_BYTES = 256 * 1024;
/**
 * Once writes stop for this long, the journal is folded into routes.json: people read and edit
 * routes.json. A hand edit made before that keeps the journal's writes (they apply on top of it).
 */
const COMPACT_AFTER_MS = 1000;

interface Watcher {
  readonly onSnapshot: (snapshot: StoreSnapshot) => void;
  readonly onError?: (error: Error) => void;
}

export const ROUTES_FILE = 'routes.json';
export const JOURNAL_FILE = `${ROUTES_FILE}${JOURNAL_SUFFIX}`;

type Edit = (data: StoredData) => boolean;

interface PendingEdit {
  readonly edit: Edit;
  readonly resolve: (index: number) => void;
  readonly reject: (error: unknown) => void;
}

export class FileStore implements SnapshotStore {
  readonly file: string;
  private readonly journalFile: string;
  /** Whether this process folded the journal into routes.json since it started (its first write does). */
  private compacted = false;
  /** Whether this process appended to the journal since it last folded it. */
  private appended = false;
  private compactTimer?: NodeJS.Timeout;
  private readonly lock: FileLock;
  private queue: Promise<unknown> = Promise.resolve();
  private pending: PendingEdit[] = [];
  private readonly watchers = new Set<Watcher>();
  private fsWatcher?: fs.FSWatcher;
  private poller?: NodeJS.Timeout;
  private lastStat = '';
  /**
   * The file's bytes as last read or written, and what they hold (never changed in place: a write
   * copies the maps). A write reads the file, then its watchers read it again (the write's own
   * refresh, then the fs.watch event): after our own write the bytes read are the bytes written,
   * so no read after it decodes or parses the file (at 10,000 routes 2 MB of JSON, tens of ms).
   */
  private lastRead: Known | undefined;
  /** The last write's bytes and content, apart from lastRead: a read racing the write may see the old file or the new one. */
  private lastWritten: Known | undefined;
  /** The snapshot of each StoredFile: a watch event for a file already delivered decodes nothing. */
  private readonly snapshots = new WeakMap<StoredFile, StoreSnapshot>();
  /**
   * The entry decoded from each stored route value. A write copies the values of the routes it
   * leaves alone, so their entries stay the same objects, as the Consul store's do for keys whose
   * ModifyIndex did not move: the watch, the logs and the applier then see one changed route among
   * thousands by identity, not by comparing every parameter.
   */
  private readonly decoded = new WeakMap<object, StoreEntry>();
  private readonly json = new StoredJson();
  private refreshing?: Promise<void>;
  private refreshAgain = false;
  private lastContact = 0;
  private lastError?: string;

  constructor(private readonly options: FileStoreOptions) {
    this.file = path.join(options.dir, ROUTES_FILE);
    this.journalFile = path.join(options.dir, JOURNAL_FILE);
    this.lock = new FileLock(`${this.file}.lock`);
  }

  async list(): Promise<StoreSnapshot> {
    return this.tracked(async () => this.snapshotOf((await this.readState()).stored));
  }

  /** Resolves with the index after the write; an unchanged route is not rewritten. */
  async put(params: RouteParams): Promise<number> {
    const serviceName = storeName(params.serviceName);
    return this.change(({ routes }) => {
      if (sameValue(routes.get(serviceName), params)) return false;
      routes.set(serviceName, { ...params });
      return true;
    });
  }

  async remove(serviceName: string): Promise<number> {
    const name = storeName(serviceName);
    return this.change(({ routes }) => routes.delete(name));
  }

  async putCert(name: string, pem: string): Promise<number> {
    const key = checkName('certName', name);
    return this.change(({ certs }) => {
      if (certs.get(key) === pem) return false;
      certs.set(key, pem);
      return true;
    });
  }

  async removeCert(name: string): Promise<number> {
    const key = checkName('certName', name);
    return this.change(({ certs }) => certs.delete(key));
  }

  async putChallenge(challenge: ChallengeEntry): Promise<number> {
    const value: unknown = JSON.parse(encodeChallenge(challenge));
    return this.change(({ challenges }) => {
      challenges.set(challenge.token, value);
      return true;
    });
  }

  async removeChallenge(token: string): Promise<number> {
    checkToken(token);
    return this.change(({ challenges }) => challenges.delete(token));
  }

  async readAcmeAccount(): Promise<string | undefined> {
    return (await this.tracked(() => this.readState())).stored.acme.account;
  }

  async createAcmeAccount(pem: string): Promise<string> {
    let stored = pem;
    await this.change((data) => {
      if (data.account !== undefined) {
        stored = data.account;
        return false;
      }
      data.account = pem;
      return true;
    });
    return stored;
  }

  /** The lock file `acme-<name>.lock` beside routes.json: held while its process lives. */
  async tryLock(name: string, holder: string): Promise<StoreLock | undefined> {
    const lock = new FileLock(path.join(this.options.dir, `acme-${checkName('lock', name)}.lock`), 0, ACME_LOCK_STALE_MS);
    if (!(await lock.tryAcquire())) return undefined;
    this.options.logger?.debug({ lock: name, holder }, 'lock taken');
    return { release: () => lock.release() };
  }

  watch(onSnapshot: (snapshot: StoreSnapshot) => void, onError?: (error: Error) => void): StoreWatch {
    const watcher: Watcher = { onSnapshot, onError };
    this.watchers.add(watcher);
    this.startWatching();
    void this.refresh();
    return {
      stop: () => {
        this.watchers.delete(watcher);
        if (this.watchers.size === 0) this.stopWatching();
      },
    };
  }

  health(): StoreHealth {
    const reachable = this.lastError === undefined;
    return {
      reachable,
      lastContact: this.lastContact,
      lastError: this.lastError,
      addresses: [{ address: this.file, reachable, lastError: this.lastError }],
      watchRestarts: 0,
    };
  }

  async close(): Promise<void> {
    this.watchers.clear();
    this.stopWatching();
    if (this.compactTimer) clearTimeout(this.compactTimer);
    await this.queue.catch(() => undefined);
    // What this process journaled goes into routes.json (the CLI's `routes add` closes right after).
    if (this.appended) await this.compact().catch(() => undefined);
  }

  /**
   * Queue one edit. Edits are applied in batches (group commit): every edit that arrived while the
   * previous write was on disk goes into the next read-modify-write, written once and fsynced once,
   * under the lock that keeps other processes out. Each edit still gets its own index.
   * `edit` changes the routes in place and says whether it changed them.
   */
  private change(edit: Edit): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ edit, resolve, reject });
      if (this.pending.length === 1) this.queue = this.queue.then(() => this.commit());
    });
  }

  private async commit(): Promise<void> {
    const batch = this.pending.splice(0);
    try {
      const indexes = await this.tracked(() => this.lock.hold(() => this.rewrite(batch.map((p) => p.edit))));
      batch.forEach((pending, i) => pending.resolve(indexes[i]));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    }
  }

  private async rewrite(edits: readonly Edit[]): Promise<number[]> {
    const known = await this.readState();
    const stored = known.stored;
    const data: StoredData = {
      routes: new Map(stored.routes),
      certs: new Map(stored.certs),
      challenges: new Map(stored.acme.challenges),
      account: stored.acme.account,
    };
    let index = stored.index;
    const indexes = edits.map((edit) => (edit(data) ? ++index : index));
    if (index === stored.index) return indexes;
    // What the files will hold is what was just edited (JSON values: parsing the bytes gives the
    // same); known before they change, since fs.watch may make a watcher read them at once.
    const written: StoredFile = { index, routes: data.routes, certs: data.certs, acme: { account: data.account, challenges: data.challenges } };
    if (this.compacted && known.journal.length < COMPACT_BYTES) await this.append(known, written);
    else await this.writeWhole(known, written);
    void this.refresh();
    return indexes;
  }

  /** A journal line of what changed from `known` to `written`: the commit is one small append and one fdatasync. */
  private async append(known: KnownState, written: StoredFile): Promise<void> {
    const line = journalLine(known.stored, written);
    this.lastWritten = { bytes: known.bytes, journal: appended(known.journal, line), base: known.base, stored: written };
    await appendLine(this.journalFile, { bytes: known.journal, exists: known.journalExists }, line);
    this.appended = true;
    if (this.compactTimer) clearTimeout(this.compactTimer);
    this.compactTimer = setTimeout(() => this.compactLater(), COMPACT_AFTER_MS);
    this.compactTimer.unref();
  }

  /** routes.json rewritten whole with `written` (atomically, fsynced), then the journal emptied: what it held is in routes.json. */
  private async writeWhole(known: KnownState, written: StoredFile): Promise<void> {
    const acme = { ...(written.acme.account !== undefined ? { account: written.acme.account } : {}), challenges: Object.fromEntries(written.acme.challenges) };
    const bytes = this.json.bytes({ index: written.index, routes: written.routes, certs: Object.fromEntries(written.certs), acme });
    this.lastWritten = { bytes, journal: EMPTY_JOURNAL, base: written, stored: written };
    await writeAtomic(this.file, bytes, PRIVATE_FILE_MODE);
    await emptyJournal(this.journalFile, { bytes: known.journal, exists: known.journalExists });
    this.compacted = true;
    this.appended = false;
    // The files as read before are no longer on disk: their bytes and what they held (2 MB and a
    // map of every route at 10,000 routes) are not kept until the next hand edit. A read that raced
    // the rename and still got the old bytes parses them again: rare, and only slower.
    this.lastRead = undefined;
  }

  /** The journal folded into routes.json, in the queue of writes and under the lock (nothing to do when it is empty). */
  private compact(): Promise<void> {
    const run = this.queue.then(() =>
      this.tracked(() =>
        this.lock.hold(async () => {
          const known = await this.readState();
          if (known.journal.length > 0) await this.writeWhole(known, known.stored);
        }),
      ),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  private compactLater(): void {
    this.compactTimer = undefined;
    this.compact().catch((error: Error) =>
      this.options.logger?.warn({ err: error.message }, 'folding the journal into routes.json failed; tried again after the next write'),
    );
  }

  /**
   * What routes.json and its journal hold. The journal is read first: a compaction that runs in
   * between (another process) then shows a routes.json that already holds the lines read, whose
   * replay changes nothing; read the other way round, the lines would be gone and routes.json old.
   */
  private async readState(): Promise<KnownState> {
    const journal = await readJournal(this.journalFile);
    let handle: fs.promises.FileHandle | undefined;
    try {
      handle = await fs.promises.open(this.file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new StoreUnavailable(`cannot read ${this.file}: ${(error as Error).message}`);
    }
    try {
      return await this.stateOf(handle, journal);
    } catch (error) {
      if (error instanceof StoreUnavailable) throw error;
      throw new StoreUnavailable(`cannot read ${this.file}: ${(error as Error).message}`);
    } finally {
      await handle?.close();
    }
  }

  /**
   * What the open routes.json (undefined: none) and `journal` hold. A file that holds the bytes
   * last written or read is compared with them in chunks, not read whole: every change reads the
   * file 3-4 times (the write, its own refresh, fs.watch, the stat poll), which at 10,000 routes
   * made 7-9 MB of garbage Buffers per change, outside the heap, where malloc keeps what they leave.
   */
  private async stateOf(handle: fs.promises.FileHandle | undefined, journal: JournalBytes): Promise<KnownState> {
    let known: Known | undefined;
    for (const candidate of [this.lastWritten, this.lastRead]) {
      if (candidate && (await this.holds(handle, candidate.bytes))) {
        known = candidate;
        break;
      }
    }
    if (known?.journal.equals(journal.bytes)) return { ...known, journalExists: journal.exists };
    const bytes = known ? known.bytes : await handle?.readFile();
    const base = known ? known.base : this.parsed(bytes);
    const stored = replay(this.journalFile, base, journal.bytes) as StoredFile;
    this.lastRead = { bytes, journal: journal.bytes, base, stored };
    return { ...this.lastRead, journalExists: journal.exists };
  }

  private async holds(handle: fs.promises.FileHandle | undefined, bytes: Buffer | undefined): Promise<boolean> {
    if (handle === undefined || bytes === undefined) return handle === undefined && bytes === undefined;
    return holdsBytes(handle, bytes);
  }

  private parsed(bytes: Buffer | undefined): StoredFile {
    if (bytes === undefined) return { index: 0, routes: new Map(), certs: new Map(), acme: { challenges: new Map() } };
    return parseStoredFile(this.file, bytes.toString('utf8'));
  }

  /** Count successes and failures for health(), and turn every failure into StoreUnavailable. */
  private async tracked<T>(work: () => Promise<T>): Promise<T> {
    try {
      const result = await work();
      this.lastContact = Date.now();
      this.lastError = undefined;
      return result;
    } catch (error) {
      const failure = error instanceof StoreUnavailable ? error : new StoreUnavailable(`${this.file}: ${(error as Error).message}`);
      this.lastError = failure.message;
      throw failure;
    }
  }

  /** Read the file once for every watcher; a refresh asked for while one runs runs once more after it. */
  private refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = this.deliver().finally(() => {
      this.refreshing = undefined;
      if (!this.refreshAgain) return;
      this.refreshAgain = false;
      void this.refresh();
    });
    return this.refreshing;
  }

  private async deliver(): Promise<void> {
    if (this.watchers.size === 0) return;
    let snapshot: StoreSnapshot;
    try {
      snapshot = await this.list();
    } catch (error) {
      for (const watcher of this.watchers) watcher.onError?.(error as Error);
      return;
    }
    for (const watcher of this.watchers) watcher.onSnapshot(snapshot);
  }

  private startWatching(): void {
    if (this.poller) return;
    fs.mkdirSync(this.options.dir, { recursive: true });
    try {
      // The directory, not the file: a rename replaces the file, and a watch on it would go deaf.
      this.fsWatcher = fs.watch(this.options.dir, (_event, name) => {
        if (name === null || name === ROUTES_FILE || name === JOURNAL_FILE) void this.refresh();
      });
      this.fsWatcher.on('error', (error) => this.options.logger?.warn({ err: error }, 'fs.watch failed; polling only'));
    } catch (error) {
      this.options.logger?.warn({ err: error }, 'fs.watch unavailable; polling only');
    }
    this.poller = setInterval(() => this.poll(), this.options.pollIntervalMs ?? 500);
  }

  private stopWatching(): void {
    this.fsWatcher?.close();
    this.fsWatcher = undefined;
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
  }

  private snapshotOf(stored: StoredFile): StoreSnapshot {
    let snapshot = this.snapshots.get(stored);
    if (!snapshot) {
      snapshot = snapshotOf(stored, (name, value) => this.entryOf(name, value));
      this.snapshots.set(stored, snapshot);
    }
    return snapshot;
  }

  private entryOf(name: string, value: unknown): StoreEntry {
    if (typeof value !== 'object' || value === null) return decodeValue(name, value);
    let entry = this.decoded.get(value);
    if (entry?.serviceName !== name) {
      entry = decodeValue(name, value);
      this.decoded.set(value, entry);
    }
    return entry;
  }

  private poll(): void {
    void Promise.all([statSignature(this.file), statSignature(this.journalFile)]).then((signatures) => {
      const signature = signatures.join(' ');
      if (signature === this.lastStat) return;
      this.lastStat = signature;
      void this.refresh();
    });
  }
}

function snapshotOf(stored: StoredFile, entryOf: (name: string, value: unknown) => StoreEntry): StoreSnapshot {
  const entries = [...stored.routes].map(([name, value]) => entryOf(name, value));
  const certs = [...stored.certs]
    .map(([name, pem]) => ({ name, pem: typeof pem === 'string' ? pem : '' }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const challenges = sortChallenges(
    [...stored.acme.challenges].map(([token, value]) => decodeChallenge(token, value)).filter((c): c is ChallengeEntry => c !== undefined),
  );
  return {
    index: stored.index,
    entries: sortEntries(entries),
    ...(certs.length > 0 ? { certs } : {}),
    ...(challenges.length > 0 ? { challenges } : {}),
  };
}

function parseStoredFile(file: string, text: string): StoredFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new StoreUnavailable(`${file} is not valid JSON (${(error as Error).message}); fix or remove it`);
  }
  if (typeof value !== 'object' || value === null) throw new StoreUnavailable(`${file} is not a JSON object`);
  const { index, routes, certs = {}, acme = {} } = value as { index?: unknown; routes?: unknown; certs?: unknown; acme?: unknown };
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) throw new StoreUnavailable(`${file}: "index" is not a whole number`);
  if (typeof routes !== 'object' || routes === null || Array.isArray(routes)) throw new StoreUnavailable(`${file}: "routes" is not an object`);
  if (typeof certs !== 'object' || certs === null || Array.isArray(certs)) throw new StoreUnavailable(`${file}: "certs" is not an object`);
  // JSON.parse keeps a `__proto__` key as an own property, and Object.entries sees it.
  return { index, routes: new Map(Object.entries(routes)), certs: new Map(Object.entries(certs)), acme: parseAcme(file, acme) };
}

function parseAcme(file: string, acme: unknown): StoredAcme {
  if (typeof acme !== 'object' || acme === null || Array.isArray(acme)) throw new StoreUnavailable(`${file}: "acme" is not an object`);
  const { account, challenges = {} } = acme as { account?: unknown; challenges?: unknown };
  if (typeof challenges !== 'object' || challenges === null || Array.isArray(challenges))
    throw new StoreUnavailable(`${file}: "acme.challenges" is not an object`);
  return { account: typeof account === 'string' ? account : undefined, challenges: new Map(Object.entries(challenges)) };
}

const EMPTY_JOURNAL = Buffer.alloc(0);

/** What tells a change of a file apart without reading it: inode, size and mtime, or the error of its stat. */
async function statSignature(file: string): Promise<string> {
  try {
    const stat = await fs.promises.stat(file);
    return `${stat.ino} ${stat.size} ${stat.mtimeMs}`;
  } catch (error) {
    return `error ${(error as NodeJS.ErrnoException).code}`;
  }
}

function sameValue(stored: unknown, params: RouteParams): boolean {
  return JSON.stringify(stored) === JSON.stringify(params);
}
