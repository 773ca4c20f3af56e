import * as path from 'path';
import type { Destination } from '../route/route';

/**
 * Map-based routing of the main HTTP frontend. One ACL per route is scanned in order for every
 * request (a request for the 10,000th route took milliseconds); HAProxy's `map_str` and `map_beg`
 * lookups are tree lookups instead, as fast for the last route as for the first. A destination
 * that only needs what a map can express (host exact or wildcard suffix, with or without a port;
 * path exact or prefix) becomes map entries; every other one keeps its ACL lines.
 *
 * Keys are `<host key><path>`: the host key is the domain in lower case (`a.test`, `a.test:8080`,
 * `*.wild.test`), or nothing for a route without a domain. Lookups go from the most specific
 * host to none: the Host header as sent (with its port), without its port, the longest wildcard
 * suffix that matches it (which also holds the paths of the shorter wildcards covering it), then
 * no host. At each step an exact path wins over a prefix, and among
 * prefixes the longest (HAProxy's `map_beg` is a prefix tree: longest match). A domain-only
 * route is the prefix `/` of its host.
 *
 * The files live in STATE_DIR; the applier writes them with the config (and changes the running
 * worker's copy through the Runtime API).
 */

export interface RouteMapFiles {
  /** `<host key><path>` -> backend, pathType `path`. */
  readonly exact: string;
  /** `<host key><path>` -> backend, pathType `path_beg` (and domain-only routes: path `/`). */
  readonly prefix: string;
  /** Wildcard suffix (`.wild.test`) -> its host key (`*.wild.test`), longest suffix first. */
  readonly wildcards: string;
}

export function routeMapFiles(stateDir: string): RouteMapFiles {
  return {
    exact: path.resolve(stateDir, 'routes-exact.map'),
    prefix: path.resolve(stateDir, 'routes-prefix.map'),
    wildcards: path.resolve(stateDir, 'routes-wildcards.map'),
  };
}

/** The entries of one map file, key -> value. */
export interface MapFile {
  readonly file: string;
  readonly entries: ReadonlyMap<string, string>;
}

/**
 * The text of a map file: one `key value` line per entry, in the map's order. Made only to be
 * written, and not remembered: at 10,000 routes each text is about 1 MB, and the applier compares
 * maps by their entries (sameMapEntries).
 */
export function mapText(entries: ReadonlyMap<string, string>): string {
  const lines: string[] = [];
  for (const [key, value] of entries) lines.push(`${key} ${value}\n`);
  return lines.join('');
}

/** The entries of a map file's text (what `mapText` wrote, or a hand edit of it). */
export function parseMapText(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const [key, value] = trimmed.split(/\s+/);
    if (key && value && !entries.has(key)) entries.set(key, value);
  }
  return entries;
}

/**
 * A key HAProxy's map file parser takes as one word (printable, no space, no comment or escape
 * character) and that its CLI takes as part of one command (`;` separates commands there).
 */
const MAP_WORD = /^[\x21-\x7e]+$/;

function plainWord(text: string): boolean {
  return MAP_WORD.test(text) && !/[#\\;]/.test(text);
}

function mappablePath(p: string): boolean {
  // `/.well-known` stays an ACL route: DFP serves it before every other route, whatever its host.
  return p.startsWith('/') && !p.startsWith('/.well-known') && plainWord(p);
}

function mappableDomain(d: string): boolean {
  if (!plainWord(d) || d.includes('/')) return false;
  // A wildcard is matched on the host without its port, so a wildcard with a port never matched; it keeps its ACL.
  return !(d.startsWith('*') && d.includes(':'));
}

/**
 * The map keys of each destination that the maps can route (false: one they cannot), found once
 * per destination: a route the store did not change is the same Route (the applier's EntryParser
 * keeps it), so a render after one KV edit checks and keys the changed destinations only, not
 * every path and domain of 10,000 routes again. The keys are the ones the last build's maps hold
 * anyway; the map holds nothing a live route set does not.
 */
const keysOf = new WeakMap<Destination, DestinationKeys | false>();

function knownKeys(d: Destination): DestinationKeys | false {
  let keys = keysOf.get(d);
  if (keys === undefined) {
    keys = mappableShape(d) && keysFor(d);
    keysOf.set(d, keys);
  }
  return keys;
}

/** Everything of isMappable that depends on the destination alone. */
function mappableShape(d: Destination): boolean {
  if (d.httpsPort !== undefined || d.srcPort !== undefined || d.reqMode !== 'http') return false;
  if (d.pathType !== 'path_beg' && d.pathType !== 'path') return false;
  if (d.servicePathExclude.length > 0 || d.serviceHeader.length > 0 || d.userAgent.length > 0) return false;
  if (d.servicePath.length === 0 && d.serviceDomain.length === 0) return false;
  return d.servicePath.every(mappablePath) && d.serviceDomain.every(mappableDomain);
}

/**
 * Whether a destination of the main HTTP frontend is routed by the maps: only host (matched
 * exactly, DFP's default `hdr(host)`), path (prefix or exact) and the service port matter to it.
 * `overTls`: the HTTPS copy of a destination with httpsPort (it needs `ssl_fc`).
 */
export function isMappable(d: Destination, domainAlgo: string, overTls: boolean): boolean {
  if (overTls || (d.serviceDomain.length > 0 && domainAlgo !== 'hdr(host)')) return false;
  return knownKeys(d) !== false;
}

/** The map keys of a mappable destination, in the order they are entered. */
export interface DestinationKeys {
  /** The exact-path map, else the prefix map. */
  readonly exact: boolean;
  readonly keys: readonly { readonly host: string; readonly path: string; readonly key: string }[];
}

/** The keys of destination `d` (isMappable): each host key (lower case; none without a domain) with each path (`/` without one). */
export function mapKeys(d: Destination): DestinationKeys {
  return knownKeys(d) || keysFor(d);
}

function keysFor(d: Destination): DestinationKeys {
  const hosts = d.serviceDomain.length > 0 ? d.serviceDomain.map((domain) => domain.toLowerCase()) : [''];
  const paths = d.servicePath.length > 0 ? d.servicePath : ['/'];
  const keyOf = (host: string, p: string) => ({ host, path: p, key: `${host}${p}` });
  // The keys stay in memory for every mapped destination (view-cache.ts): an array made by flatMap
  // keeps spare room (about 130 bytes a destination, 1.3 MB at 10,000 routes); map() and slice()
  // make one of the exact size.
  const keys = hosts.length === 1 ? paths.map((p) => keyOf(hosts[0], p)) : hosts.flatMap((host) => paths.map((p) => keyOf(host, p))).slice();
  return { exact: d.servicePath.length > 0 && d.pathType === 'path', keys };
}

/** The map last built for each file: its keys are in order, so the next build of that file need not sort them all again. */
export type PreviousMap = (file: string) => ReadonlyMap<string, string> | undefined;

/** The route maps of one config: filled in route order, so of two routes with one key the first keeps it (DFP's order). */
export class RouteMapBuilder {
  private readonly exact = new Map<string, string>();
  private readonly prefix = new Map<string, string>();
  private readonly wildcards = new Map<string, string>();
  /** The paths of each wildcard host key, for the wildcards it covers (build()). */
  private readonly wildcardPaths = new Map<string, { exact: Map<string, string>; prefix: Map<string, string> }>();

  constructor(private readonly files: RouteMapFiles) {}

  /** The entries of a destination (`keys`: mapKeys of it) for `backend`, unless an earlier route holds a key. */
  add(keys: DestinationKeys, backend: string): void {
    const map = keys.exact ? this.exact : this.prefix;
    for (const { host, path: p, key } of keys.keys) {
      // A wildcard host is looked up even when earlier routes hold all its keys.
      const wildcard = host.startsWith('*') ? this.wildcardOf(host) : undefined;
      if (map.has(key)) continue;
      map.set(key, backend);
      (keys.exact ? wildcard?.exact : wildcard?.prefix)?.set(p, backend);
    }
  }

  get empty(): boolean {
    return this.exact.size === 0 && this.prefix.size === 0;
  }

  private wildcardOf(host: string): { exact: Map<string, string>; prefix: Map<string, string> } {
    let paths = this.wildcardPaths.get(host);
    if (!paths) {
      paths = { exact: new Map(), prefix: new Map() };
      this.wildcardPaths.set(host, paths);
      this.wildcards.set(host.slice(1), host);
    }
    return paths;
  }

  /** The three maps, keys sorted (a reload and a sequence of runtime changes give the same files). */
  build(previous: PreviousMap = () => undefined): MapFile[] {
    // `map_end` scans its list in order: the longest suffix first, so `*.a.b.test` wins over `*.b.test`.
    const wildcards = [...this.wildcards].sort(([a], [b]) => b.length - a.length || compare(a, b));
    // Only the longest matching wildcard is looked up: it also gets the paths of each shorter
    // wildcard that covers it (`*.b.test` covers `*.a.b.test`), unless it has that path itself.
    wildcards.forEach(([suffix, host], i) => {
      for (const [shorter, coverer] of wildcards.slice(i + 1)) {
        if (!suffix.endsWith(shorter)) continue;
        const paths = this.wildcardPaths.get(coverer);
        for (const [p, backend] of paths?.exact ?? []) if (!this.exact.has(`${host}${p}`)) this.exact.set(`${host}${p}`, backend);
        for (const [p, backend] of paths?.prefix ?? []) if (!this.prefix.has(`${host}${p}`)) this.prefix.set(`${host}${p}`, backend);
      }
    });
    return [
      { file: this.files.exact, entries: sortedLike(this.exact, previous(this.files.exact)) },
      { file: this.files.prefix, entries: sortedLike(this.prefix, previous(this.files.prefix)) },
      { file: this.files.wildcards, entries: new Map(wildcards) },
    ];
  }
}

function compare(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/**
 * `entries` with their keys sorted. The keys of `previous` (sorted, a build of the same file) that
 * are still there keep their order; only the new keys are sorted, then merged in: one changed route
 * among 10,000 sorts one key, not 12,000. The result is the same as sorting them all.
 */
function sortedLike(entries: ReadonlyMap<string, string>, previous: ReadonlyMap<string, string> | undefined): Map<string, string> {
  const kept: string[] = [];
  for (const key of previous?.keys() ?? []) if (entries.has(key)) kept.push(key);
  const added: string[] = [];
  if (kept.length < entries.size) for (const key of entries.keys()) if (!previous?.has(key)) added.push(key);
  added.sort(compare);
  const result = new Map<string, string>();
  let k = 0;
  let a = 0;
  while (k < kept.length || a < added.length) {
    const key = a >= added.length || (k < kept.length && compare(kept[k], added[a]) < 0) ? kept[k++] : added[a++];
    result.set(key, entries.get(key) as string);
  }
  return result;
}

/** The same entries in the same order (what makes the same text), compared without making it. */
export function sameMapEntries(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  const other = b.entries();
  for (const [key, value] of a) {
    const [otherKey, otherValue] = other.next().value as [string, string];
    if (key !== otherKey || value !== otherValue) return false;
  }
  return true;
}

/** The same files with the same entries in the same order. */
export function sameMaps(a: readonly MapFile[], b: readonly MapFile[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((map, i) => map.file === b[i].file && sameMapEntries(map.entries, b[i].entries));
}
