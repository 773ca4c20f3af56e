import * as fs from 'fs';
import { readIfExists, replaceAtomic, writeAtomic } from '../files/atomic-write';
import type { MapBatch, RuntimeApi } from '../haproxy/runtime-api';
import type { Logger } from '../logger';
import { MapFile, mapText, parseMapText, routeMapFiles, sameMapEntries } from '../render/route-maps';

/**
 * HAProxy reads a CLI command, payload included, into one buffer (tune.bufsize, 16 KB): the
 * entries of a whole map go in chunks well under it.
 */
const PAYLOAD_BYTES = 12000;
/** More changes than this to one map: the whole map is replaced in one commit instead of one command per entry. */
const MAX_ENTRY_COMMANDS = 64;

/** What changes in one map file: keys added, values changed, keys removed. */
interface MapDiff {
  readonly file: string;
  readonly next: ReadonlyMap<string, string>;
  readonly added: [string, string][];
  readonly changed: [string, string][];
  readonly removed: string[];
  /** The map's order matters (`map_end` scans a list): only a whole replacement keeps it. */
  readonly ordered: boolean;
  /** Whether the worker's map must change at all. */
  readonly changes: boolean;
}

function diffMap(file: string, live: ReadonlyMap<string, string>, next: ReadonlyMap<string, string>, ordered: boolean): MapDiff {
  const added: [string, string][] = [];
  const changed: [string, string][] = [];
  for (const [key, value] of next) {
    const old = live.get(key);
    if (old === undefined) added.push([key, value]);
    else if (old !== value) changed.push([key, value]);
  }
  const removed = [...live.keys()].filter((key) => !next.has(key));
  const changes = ordered ? !sameMapEntries(live, next) : added.length + changed.length + removed.length > 0;
  return { file, next, added, changed, removed, ordered, changes };
}

/** `key value` lines in chunks under PAYLOAD_BYTES. */
function chunks(entries: Iterable<[string, string]>): string[] {
  const out: string[] = [];
  let chunk = '';
  for (const [key, value] of entries) {
    const line = `${key} ${value}\n`;
    if (chunk.length + line.length > PAYLOAD_BYTES && chunk !== '') {
      out.push(chunk);
      chunk = '';
    }
    chunk += line;
  }
  if (chunk !== '') out.push(chunk);
  return out;
}

function sameEntries(a: readonly [string, string][], b: ReadonlyMap<string, string>): boolean {
  if (a.length !== b.size) return false;
  let i = 0;
  for (const [key, value] of b) {
    if (a[i][0] !== key || a[i][1] !== value) return false;
    i++;
  }
  return true;
}

/** Whether `text` is exactly what writing `entries` gives (not a hand edit with comments or other spacing). */
function isTextOf(entries: ReadonlyMap<string, string>, text: string): boolean {
  return mapText(entries) === text;
}

/**
 * The entries of a map file as this process would write them; undefined when it is missing or its
 * text is not what writing its entries gives, so that writing any map changes it.
 */
async function entriesOnDisk(file: string): Promise<ReadonlyMap<string, string> | undefined> {
  const text = await readIfExists(file);
  if (text === undefined) return undefined;
  const entries = parseMapText(text);
  return isTextOf(entries, text) ? entries : undefined;
}

/**
 * The route map files exist (empty when new; never overwritten): `haproxy -c` refuses a config
 * that names a missing one, and any check of a config with plain routes names them. For the
 * checks made outside the applier (the CLI's, the settings check at start).
 */
export async function ensureRouteMapFiles(stateDir: string): Promise<void> {
  await fs.promises.mkdir(stateDir, { recursive: true });
  for (const file of Object.values(routeMapFiles(stateDir))) await fs.promises.writeFile(file, '', { flag: 'a' });
}

/**
 * The route map files in STATE_DIR (render/route-maps.ts), kept in step with the config: they are
 * written with it, before any reload, so a reload or a restart from the last-known-good config at
 * any moment reads the maps of the config it reads. It remembers what the worker serves.
 */
export class RouteMapFiles {
  private served: readonly MapFile[] = [];
  private readonly files: readonly string[];
  /**
   * The entries of each file as read at start or last written by this process: a change compares
   * with them instead of reading the files again (as cert-files.ts does). Only the applier writes
   * them. Entries, not texts: the maps are kept anyway (the worker's, the last render's), while
   * their texts (about 1 MB each at 10,000 routes) would be kept for this compare alone.
   */
  private readonly onDisk = new Map<string, ReadonlyMap<string, string>>();

  constructor(stateDir: string) {
    const files = routeMapFiles(stateDir);
    this.files = [files.exact, files.prefix, files.wildcards];
  }

  /** What the worker serves ([] when its config names no route map). */
  get live(): readonly MapFile[] {
    return this.served;
  }

  /**
   * Before HAProxy starts from `config`: every map file exists (`haproxy -c` of any candidate
   * refuses a missing one), and what they hold is what the worker serves when `config` names them.
   */
  async prepare(config: string): Promise<void> {
    const served: MapFile[] = [];
    for (const file of this.files) {
      let text = await readIfExists(file);
      if (text === undefined) {
        text = '';
        await writeAtomic(file, text);
      }
      const entries = parseMapText(text);
      if (isTextOf(entries, text)) this.onDisk.set(file, entries);
      served.push({ file, entries });
    }
    this.served = config.includes(this.files[1]) ? served : [];
  }

  /**
   * Write `maps` (only the files whose text changed: the same entries in the same order make the
   * same text), without fsync (about 10 ms a file here): the
   * maps are derived from the store, never the only copy of anything. After a crash of the machine
   * a file may hold an older text; at start `prepare` reads what the files hold as what the worker
   * serves, and the first apply brings files and worker to the store (Runtime API or reload), as
   * it does after any change made while the sidecar was down. The rename still keeps a reader
   * (a reload's HAProxy) from ever seeing half a file.
   */
  async write(maps: readonly MapFile[]): Promise<void> {
    for (const map of maps) {
      const before = this.onDisk.get(map.file) ?? (await entriesOnDisk(map.file));
      if (before !== undefined && sameMapEntries(before, map.entries)) continue;
      // Forgotten first: should the write fail half-way, the next one compares with the disk again.
      this.onDisk.delete(map.file);
      await replaceAtomic(map.file, mapText(map.entries));
      this.onDisk.set(map.file, map.entries);
    }
  }

  /** Whether the order of `file`'s entries matters (the wildcard map: `map_end` scans a list); the others are trees. */
  ordered(file: string): boolean {
    return file === this.files[2];
  }

  /** HAProxy was (re)loaded from a config that names `maps` (already on disk). */
  loaded(maps: readonly MapFile[]): void {
    this.served = maps;
  }

  /** The files hold what the worker serves again (after a failed reload, before the rollback reload). */
  async restore(): Promise<void> {
    await this.write(this.served);
  }

  /**
   * Bring the worker's maps to `maps` (written to the files already) through the Runtime API,
   * without a reload: `none` when it serves them already, `applied` when it does now and a check
   * confirmed it, `reload` when the config must be reloaded instead (the config does not name
   * the same maps, or a command or the check failed: the worker may then hold neither state, and
   * only a reload from the files says what is served).
   */
  async apply(maps: readonly MapFile[], runtime: RuntimeApi, logger: Logger): Promise<'none' | 'applied' | 'reload'> {
    if (maps.length !== this.served.length || maps.some((map, i) => map.file !== this.served[i].file)) return 'reload';
    const diffs = maps.map((map, i) => diffMap(map.file, this.served[i].entries, map.entries, this.ordered(map.file))).filter((diff) => diff.changes);
    if (diffs.length === 0) return 'none';
    try {
      // Every map changed entry by entry goes on one batch: a path or host change is one master
      // CLI connection (its commands and their checks), not one per command.
      const entries = runtime.mapBatch();
      for (const diff of diffs) {
        const commands = diff.added.length + diff.changed.length + diff.removed.length;
        if (diff.ordered || commands > MAX_ENTRY_COMMANDS) await replaceMap(runtime, diff.file, diff.next);
        else changeEntries(entries, diff);
      }
      await entries.send();
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'route map change through the Runtime API failed; reloading instead');
      return 'reload';
    }
    logger.info(
      { maps: diffs.map((diff) => ({ file: diff.file, added: diff.added.length, changed: diff.changed.length, removed: diff.removed.length })) },
      'route maps changed through the Runtime API',
    );
    this.served = maps;
    return 'applied';
  }

  /** Remove the files (a test's clean-up). */
  async remove(): Promise<void> {
    for (const file of this.files) await fs.promises.rm(file, { force: true });
    this.onDisk.clear();
  }
}

/**
 * One command per entry: new and changed entries first, removed ones last, so a route that moves
 * (one key removed, one added) is served at every moment. Then each changed key is looked up, on
 * the same batch: the master runs its lines in order, so the lookups see the changes.
 */
function changeEntries(batch: MapBatch, diff: MapDiff): void {
  for (const chunk of chunks(diff.added)) batch.addMapEntries(diff.file, chunk);
  for (const [key, value] of diff.changed) batch.setMapEntry(diff.file, key, value);
  for (const key of diff.removed) batch.deleteMapEntry(diff.file, key);
  for (const [key, value] of [...diff.added, ...diff.changed]) {
    batch.lookUpMap(diff.file, key, (found) => {
      if (found?.key !== key || found.value !== value) throw new Error(`${diff.file}: ${key} is not served after the change`);
    });
  }
  for (const key of diff.removed) {
    batch.lookUpMap(diff.file, key, (found) => {
      if (found?.key === key) throw new Error(`${diff.file}: ${key} is still served after its removal`);
    });
  }
}

/**
 * The whole map in one commit: a new version filled in chunks, compared entry by entry with what
 * it should hold, and only then committed. A version left half-filled (a chunk refused) is never
 * committed: that would make the live map empty or partial.
 */
export async function replaceMap(runtime: RuntimeApi, file: string, next: ReadonlyMap<string, string>): Promise<void> {
  const version = await runtime.prepareMap(file);
  try {
    for (const chunk of chunks(next)) await runtime.addMapVersion(file, version, chunk);
    if (!sameEntries(await runtime.showMap(file, version), next)) throw new Error(`${file}: the prepared version does not hold the new entries`);
  } catch (error) {
    await runtime.clearMapVersion(file, version).catch(() => undefined);
    throw error;
  }
  await runtime.commitMap(file, version);
  if (!sameEntries(await runtime.showMap(file), next)) throw new Error(`${file}: the committed map does not hold the new entries`);
}
