import type { CertPaths } from './cert-files';
import type { Certificate } from './certificate';

/**
 * What HAProxy loads, as file -> PEM: the default certificate sits in a file of its own that
 * the bind line names (`crt <defaultFile>`), the others are the lines of the crt-list. Because
 * the default's file name never changes, every change of certificates (a new default included)
 * is a change of file contents and crt-list lines, which the Runtime API can make. Only the first
 * certificate (the `:ssl` binds appear) and the removal of the last one change haproxy.cfg.
 */
export type CertFiles = ReadonlyMap<string, string>;

export type CertChange =
  | { readonly kind: 'add'; readonly file: string; readonly pem: string }
  | { readonly kind: 'update'; readonly file: string; readonly pem: string }
  | { readonly kind: 'remove'; readonly file: string };

/** Default first (DEFAULT_CERT when it is stored, else the first name), then the rest by name. */
export function servingOrder(certs: readonly Certificate[], defaultName?: string): Certificate[] {
  const sorted = [...certs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const preferred = sorted.findIndex((cert) => cert.name === defaultName);
  if (preferred <= 0) return sorted;
  return [sorted[preferred], ...sorted.slice(0, preferred), ...sorted.slice(preferred + 1)];
}

/** The files for certificates in serving order: the first in the default file, the rest each in its own. */
export function certFiles(paths: CertPaths, ordered: readonly Certificate[]): CertFiles {
  const files = new Map<string, string>();
  ordered.forEach((cert, position) => files.set(position === 0 ? paths.defaultFile : paths.file(cert.name), cert.pem));
  return files;
}

/**
 * The runtime changes that turn `live` into `next`, removals first; undefined when only a reload
 * can (the first certificate arrives or the last one goes). An empty list: nothing to do.
 */
export function runtimeCertChanges(live: CertFiles, next: CertFiles): CertChange[] | undefined {
  if (live.size === 0 && next.size === 0) return [];
  if (live.size === 0 || next.size === 0) return undefined;
  const changes: CertChange[] = [...live.keys()].filter((file) => !next.has(file)).map((file) => ({ kind: 'remove', file }));
  for (const [file, pem] of next) {
    const before = live.get(file);
    if (before === undefined) changes.push({ kind: 'add', file, pem });
    else if (before !== pem) changes.push({ kind: 'update', file, pem });
  }
  return changes;
}
