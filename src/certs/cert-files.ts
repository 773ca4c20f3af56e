import * as fs from 'fs';
import * as path from 'path';
import type { Certificate } from './certificate';

/**
 * The certificates on disk, as HAProxy reads them at a (re)load: `<STATE_DIR>/certs/<name>.pem`
 * (mode 0600, in a 0700 folder: they hold private keys) and `<STATE_DIR>/certs/crt-list` with
 * every certificate but the default one, which the bind line names itself. Written before any
 * change goes live, so a reload at any moment serves what the store holds.
 */

export interface CertPaths {
  readonly dir: string;
  readonly crtList: string;
  file(name: string): string;
}

export const CRT_LIST = 'crt-list';
const PEM_SUFFIX = '.pem';

export function certPaths(stateDir: string): CertPaths {
  const dir = path.resolve(stateDir, 'certs');
  return { dir, crtList: path.join(dir, CRT_LIST), file: (name) => path.join(dir, `${name}${PEM_SUFFIX}`) };
}

let sequence = 0;

/** Readers see the old or the new file, never a partial one; the temp file is private from the start. */
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

/** The crt-list text for certificates in serving order (the first is the bind's default). */
export function crtListText(paths: CertPaths, ordered: readonly Certificate[]): string {
  return ordered
    .slice(1)
    .map((cert) => `${paths.file(cert.name)}\n`)
    .join('');
}

/**
 * Make the folder hold exactly `ordered`: new and changed files first, then the crt-list, then
 * files no longer listed are removed (so the list never names a missing file).
 */
export async function writeCertFiles(paths: CertPaths, ordered: readonly Certificate[]): Promise<void> {
  await fs.promises.mkdir(paths.dir, { recursive: true, mode: 0o700 });
  for (const cert of ordered) await writeIfChanged(paths.file(cert.name), cert.pem);
  await writeIfChanged(paths.crtList, crtListText(paths, ordered));
  const kept = new Set(ordered.map((cert) => path.basename(paths.file(cert.name))));
  for (const entry of await fs.promises.readdir(paths.dir)) {
    const stale = (entry.endsWith(PEM_SUFFIX) && !kept.has(entry)) || entry.endsWith('.tmp');
    if (stale) await fs.promises.rm(path.join(paths.dir, entry), { force: true });
  }
}
