import * as fs from 'fs';
import * as path from 'path';
import { PRIVATE_FILE_MODE, readIfExists, writeAtomic } from '../files/atomic-write';
import type { TlsFiles } from '../render/types';
import type { CertFiles } from './cert-plan';

/**
 * The certificates on disk, as HAProxy reads them at a (re)load, in `<STATE_DIR>/certs` (0700:
 * they hold private keys): `@default.pem` (the default certificate; `@` is never part of a
 * certificate name), `<name>.pem` for each other one (mode 0600), and `crt-list` naming those.
 * Written before any change goes live, so a reload at any moment serves what the store holds.
 */

export interface CertPaths {
  readonly dir: string;
  readonly crtList: string;
  readonly defaultFile: string;
  file(name: string): string;
}

const PEM_SUFFIX = '.pem';

export function certPaths(stateDir: string): CertPaths {
  const dir = path.resolve(stateDir, 'certs');
  return {
    dir,
    crtList: path.join(dir, 'crt-list'),
    defaultFile: path.join(dir, `@default${PEM_SUFFIX}`),
    file: (name) => path.join(dir, `${name}${PEM_SUFFIX}`),
  };
}

async function writeIfChanged(file: string, text: string): Promise<void> {
  if ((await readIfExists(file)) !== text) await writeAtomic(file, text, PRIVATE_FILE_MODE);
}

/** What the `:ssl` binds name for certificates in serving order: false while there is none (the binds are left out). */
export function tlsFiles(paths: CertPaths, ordered: readonly unknown[]): TlsFiles | false {
  return ordered.length > 0 ? { defaultCert: paths.defaultFile, crtList: paths.crtList } : false;
}

/** The crt-list: every file but the default one, in order. */
export function crtListText(paths: CertPaths, files: CertFiles): string {
  return [...files.keys()]
    .filter((file) => file !== paths.defaultFile)
    .map((file) => `${file}\n`)
    .join('');
}

/**
 * Make the folder hold exactly `files`: new and changed files first, then the crt-list, then
 * files no longer listed are removed (so the list never names a missing file).
 */
export async function writeCertFiles(paths: CertPaths, files: CertFiles): Promise<void> {
  await fs.promises.mkdir(paths.dir, { recursive: true, mode: 0o700 });
  for (const [file, pem] of files) await writeIfChanged(file, pem);
  await writeIfChanged(paths.crtList, crtListText(paths, files));
  for (const entry of await fs.promises.readdir(paths.dir)) {
    const file = path.join(paths.dir, entry);
    if (entry.endsWith(PEM_SUFFIX) && !files.has(file)) await fs.promises.rm(file, { force: true });
  }
}
