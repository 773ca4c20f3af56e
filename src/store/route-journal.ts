import * as fs from 'fs';
import * as path from 'path';
import { StoreUnavailable } from '../errors';
import { PRIVATE_FILE_MODE } from '../files/atomic-write';

/**
 * The file store's journal, `routes.json.journal` beside routes.json: one line per commit, holding
 * only what the commit changed (`{"index":N,"routes":{name: value or null},...}`, null for removed).
 * A commit is then an append of a few hundred bytes and one fdatasync, where a rewrite of
 * routes.json is the whole file (2.2 MB at 10,000 routes), an fsync of it and one of the directory.
 * The file store folds the journal into routes.json (compaction) on its first write after a start,
 * when the journal grows past a size, and once writes have stopped for a moment.
 *
 * Crash safety: a commit is acknowledged only after its line, newline included, is on disk, so a
 * last line without its newline (torn) was never acknowledged: reading ignores it, and the next
 * append cuts it off first. Every whole line is replayed, whatever routes.json's index: a line sets
 * or removes names, so replaying one that routes.json already holds (a compaction that crashed
 * before emptying the journal) changes nothing, and a hand edit of routes.json made from a copy
 * older than the journal loses none of the journal's acknowledged writes (they apply on top of it;
 * the index is the higher of the two).
 */

export const JOURNAL_SUFFIX = '.journal';

/** What a journal line changes: each map's names with their new value, or null when removed. */
export interface JournalLine {
  readonly index: number;
  readonly routes?: Readonly<Record<string, unknown>>;
  readonly certs?: Readonly<Record<string, unknown>>;
  readonly challenges?: Readonly<Record<string, unknown>>;
  readonly account?: string;
}

/** The state a journal is replayed onto: what routes.json holds (maps copied, never changed in place). */
export interface JournalState {
  readonly index: number;
  readonly routes: ReadonlyMap<string, unknown>;
  readonly certs: ReadonlyMap<string, unknown>;
  readonly acme: { readonly account?: string; readonly challenges: ReadonlyMap<string, unknown> };
}

/** The journal's bytes (empty when there is none) and whether the file exists. */
export interface JournalBytes {
  readonly bytes: Buffer;
  readonly exists: boolean;
}

const EMPTY = Buffer.alloc(0);
const NEWLINE = 0x0a;

export async function readJournal(file: string): Promise<JournalBytes> {
  try {
    return { bytes: await fs.promises.readFile(file), exists: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { bytes: EMPTY, exists: false };
    throw new StoreUnavailable(`cannot read ${file}: ${(error as Error).message}`);
  }
}

/** How many leading bytes are whole lines (a torn last line, never acknowledged, is left out). */
export function wholeLength(bytes: Buffer): number {
  return bytes.lastIndexOf(NEWLINE) + 1;
}

/** `state` with every whole line of `bytes` applied, in order. */
export function replay(file: string, state: JournalState, bytes: Buffer): JournalState {
  const text = bytes.subarray(0, wholeLength(bytes)).toString('utf8');
  if (text === '') return state;
  let next = state;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    next = applyLine(next, parseLine(file, line));
  }
  return next;
}

function parseLine(file: string, line: string): JournalLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new StoreUnavailable(`${file} holds a line that is not JSON (${(error as Error).message}); fix or remove it`);
  }
  const index = (value as { index?: unknown } | null)?.index;
  if (typeof index !== 'number' || !Number.isInteger(index)) throw new StoreUnavailable(`${file} holds a line without a whole "index"`);
  return value as JournalLine;
}

function applyLine(state: JournalState, line: JournalLine): JournalState {
  return {
    index: Math.max(state.index, line.index),
    routes: changed(state.routes, line.routes),
    certs: changed(state.certs, line.certs),
    acme: { account: line.account ?? state.acme.account, challenges: changed(state.acme.challenges, line.challenges) },
  };
}

function changed(map: ReadonlyMap<string, unknown>, changes: Readonly<Record<string, unknown>> | undefined): ReadonlyMap<string, unknown> {
  if (!changes) return map;
  const next = new Map(map);
  // Object.entries sees a `__proto__` key JSON.parse kept as an own property.
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) next.delete(name);
    else next.set(name, value);
  }
  return next;
}

/** The line that takes `before` to `after`: only the names whose value is another object (or gone). */
export function journalLine(before: JournalState, after: JournalState): string {
  const line: Record<string, unknown> = { index: after.index };
  const routes = difference(before.routes, after.routes);
  const certs = difference(before.certs, after.certs);
  const challenges = difference(before.acme.challenges, after.acme.challenges);
  if (routes) line.routes = routes;
  if (certs) line.certs = certs;
  if (challenges) line.challenges = challenges;
  // An account is created once and never removed (createAcmeAccount).
  if (after.acme.account !== before.acme.account && after.acme.account !== undefined) line.account = after.acme.account;
  return `${JSON.stringify(line)}\n`;
}

function difference(before: ReadonlyMap<string, unknown>, after: ReadonlyMap<string, unknown>): Record<string, unknown> | undefined {
  const pairs: [string, unknown][] = [];
  for (const [name, value] of after) if (before.get(name) !== value) pairs.push([name, value]);
  for (const name of before.keys()) if (!after.has(name)) pairs.push([name, null]);
  // fromEntries makes own properties, a `__proto__` name included (an assignment would set the prototype).
  return pairs.length === 0 ? undefined : Object.fromEntries(pairs);
}

/** The journal's bytes once `line` is appended (a torn last line cut off first, as appendLine does). */
export function appended(journal: Buffer, line: string): Buffer {
  return Buffer.concat([journal.subarray(0, wholeLength(journal)), Buffer.from(line)]);
}

/**
 * Append `line` durably. `journal` is what was read under the same lock: a torn last line is cut
 * off first (it would run into this one), and a journal this call creates gets its directory synced
 * too, so the new file itself survives a crash.
 */
export async function appendLine(file: string, journal: JournalBytes, line: string): Promise<void> {
  const whole = wholeLength(journal.bytes);
  if (whole !== journal.bytes.length) await fs.promises.truncate(file, whole);
  const handle = await fs.promises.open(file, 'a', PRIVATE_FILE_MODE);
  const bytes = Buffer.from(line);
  try {
    await handle.write(bytes);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  if (!journal.exists) await syncDirectory(path.dirname(file));
}

/**
 * Empty the journal once routes.json holds all of it (and is on disk). Emptied, not removed: the
 * next append then needs no directory sync. A crash before this leaves lines routes.json already
 * holds, whose replay changes nothing.
 */
export async function emptyJournal(file: string, journal: JournalBytes): Promise<void> {
  if (journal.bytes.length > 0) await fs.promises.truncate(file, 0);
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
