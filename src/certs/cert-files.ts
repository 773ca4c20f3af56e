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
 * Keeps the folder holding exactly the files it is given: new and changed files first, then the
 * crt-list, then files no longer listed are removed (so the list never names a missing file).
 *
 * The first write compares every file with the disk (a restart finds yesterday's files). After
 * that it compares with what it wrote itself, so a change of one certificate reads and writes one
 * file, not all of them: reading 1,000 files on each change made a change's cost grow with the
 * number of certificates. The folder is ours (nothing else writes it); after a failed write it
 * compares with the disk again, since it cannot tell what was written.
 */
export class CertFileWriter {
  /** Each file's text as last written or read; undefined until the disk was compared once. */
  private written: Map<string, string> | undefined;

  constructor(private readonly paths: CertPaths) {}

  async write(files: CertFiles): Promise<void> {
    const known = this.written;
    this.written = undefined;
    const next = new Map<string, string>();
    await fs.promises.mkdir(this.paths.dir, { recursive: true, mode: 0o700 });
    for (const [file, pem] of files) await this.writeIfChanged(known, next, file, pem);
    await this.writeIfChanged(known, next, this.paths.crtList, crtListText(this.paths, files));
    for (const file of await this.leftOver(known, files)) await fs.promises.rm(file, { force: true });
    this.written = next;
  }

  private async writeIfChanged(known: ReadonlyMap<string, string> | undefined, next: Map<string, string>, file: string, text: string): Promise<void> {
    const before = known ? known.get(file) : await readIfExists(file);
    if (before !== text) await writeAtomic(file, text, PRIVATE_FILE_MODE);
    next.set(file, text);
  }

  /** Certificate files that are no longer listed: those written before, or on disk the first time. */
  private async leftOver(known: ReadonlyMap<string, string> | undefined, files: CertFiles): Promise<string[]> {
    const present = known
      ? [...known.keys()]
      : (await fs.promises.readdir(this.paths.dir)).filter((entry) => entry.endsWith(PEM_SUFFIX)).map((entry) => path.join(this.paths.dir, entry));
    return present.filter((file) => file !== this.paths.crtList && !files.has(file));
  }
}

/** Write `files` once (a one-shot command's temporary folder). */
export async function writeCertFiles(paths: CertPaths, files: CertFiles): Promise<void> {
  await new CertFileWriter(paths).write(files);
}
