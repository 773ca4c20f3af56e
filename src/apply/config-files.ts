import * as fs from 'fs';
import * as path from 'path';

let sequence = 0;

/** A name next to `target` (same filesystem, so a rename onto target is atomic). */
export function siblingTemp(target: string, purpose: string): string {
  sequence += 1;
  return path.join(path.dirname(target), `.${path.basename(target)}.${purpose}.${process.pid}.${sequence}`);
}

/** Write `text` to `target` so readers see the old or the new file, never a partial one. */
export async function writeAtomic(target: string, text: string): Promise<void> {
  const temp = siblingTemp(target, 'tmp');
  await fs.promises.writeFile(temp, text);
  await fs.promises.rename(temp, target);
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
