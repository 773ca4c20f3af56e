import * as fs from 'fs';
import * as path from 'path';

let sequence = 0;

/** A name next to `target` (same filesystem, so a rename onto target is atomic). */
export function siblingTemp(target: string, purpose: string): string {
  sequence += 1;
  return path.join(path.dirname(target), `.${path.basename(target)}.${purpose}.${process.pid}.${sequence}`);
}

async function syncPath(file: string, flags: string): Promise<void> {
  const handle = await fs.promises.open(file, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Move the finished file `temp` onto `target` durably: its data reaches the disk before the rename
 * (so a crash never leaves a renamed but empty file), and the directory is synced after it (so the
 * rename itself survives a crash). Readers see the old or the new file, never a partial one.
 */
export async function moveInto(temp: string, target: string): Promise<void> {
  try {
    await syncPath(temp, 'r+');
    await fs.promises.rename(temp, target);
  } catch (error) {
    await fs.promises.rm(temp, { force: true });
    throw error;
  }
  await syncPath(path.dirname(target), 'r');
}

/** For files that hold private keys (certificates, the file store). */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * The one atomic write (the file store, the last-known-good config, the live config and the
 * certificate files use it): temp file next to `target` (created with `mode`, so a private file
 * is never readable by others, not even for a moment), fsync, rename over the target, fsync the
 * directory.
 */
export async function writeAtomic(target: string, text: string | Uint8Array, mode = 0o644): Promise<void> {
  await fs.promises.mkdir(path.dirname(target), { recursive: true });
  const temp = siblingTemp(target, 'tmp');
  await fs.promises.writeFile(temp, text, { mode });
  await moveInto(temp, target);
}

/**
 * Temp file next to `target`, renamed over it, without fsync: readers see the old or the new file,
 * never a partial one, but a crash of the machine may leave the old text (or none) on disk. Only for
 * files written again from the store after a start; the caller says why that holds.
 */
export async function replaceAtomic(target: string, text: string): Promise<void> {
  const temp = siblingTemp(target, 'tmp');
  await fs.promises.writeFile(temp, text);
  try {
    await fs.promises.rename(temp, target);
  } catch (error) {
    await fs.promises.rm(temp, { force: true });
    throw error;
  }
}

/** The file's text, or undefined when it does not exist. */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.promises.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
