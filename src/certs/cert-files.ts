import * as fs from 'fs';
import * as path from 'path';
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

let sequence = 0;

/**
 * Readers see the old or the new file, never a partial one. The temp file is 0600 from its
 * creation (the shared atomic write makes 0644 files: fine for configs, not for keys).
 */
async function writePrivateAtomic(target: string, text: string): Promise<void> {
  sequence += 1;
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${sequence}.tmp`);
  await fs.promises.writeFile(temp, text, { mode: 0o600 });
  await fs.promises.rename(temp, target);
}

async function contentOf(file: string): Promise<string | undefined> {
  try {
    return await fs.promises.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function writeIfChanged(file: string, text: string): Promise<void> {
  if ((await contentOf(file)) !== text) await writePrivateAtomic(file, text);
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
    const stale = (entry.endsWith(PEM_SUFFIX) && !files.has(file)) || entry.endsWith('.tmp');
    if (stale) await fs.promises.rm(file, { force: true });
  }
}
