import type { FileHandle } from 'fs/promises';

/**
 * How much of the file is read at once to compare it: one buffer of this size per compare, not
 * one of the whole file (2.2 MB at 10,000 routes, read several times per change), so a file that
 * holds what is known costs no memory of its size.
 */
const CHUNK_BYTES = 256 * 1024;

/**
 * Whether the open file holds exactly `bytes`, read in chunks from the start (positioned reads: the
 * handle's own position stays where it was). A file that grew or shrank while it was read differs.
 */
export async function holdsBytes(handle: FileHandle, bytes: Buffer): Promise<boolean> {
  if ((await handle.stat()).size !== bytes.length) return false;
  const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(1, bytes.length)));
  let at = 0;
  for (;;) {
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, at);
    if (bytesRead === 0) return at === bytes.length;
    if (at + bytesRead > bytes.length) return false;
    if (!chunk.subarray(0, bytesRead).equals(bytes.subarray(at, at + bytesRead))) return false;
    at += bytesRead;
  }
}
