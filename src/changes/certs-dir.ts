import * as fs from 'fs';
import * as path from 'path';
import type { Logger } from '../logger';
import type { CertChanges } from './cert-changes';

/**
 * The certificate name a file in CERTS_DIR gives: Docker secrets `cert-<name>` / `cert_<name>`
 * (as Docker Flow Proxy reads them), or `<name>.pem`; undefined for any other file (a folder of
 * secrets holds other things too).
 */
export function certNameOfFile(file: string): string | undefined {
  const secret = /^cert[-_](.+)$/.exec(file);
  const base = secret ? secret[1] : file.endsWith('.pem') ? file : undefined;
  if (base === undefined) return undefined;
  const name = base.endsWith('.pem') ? base.slice(0, -'.pem'.length) : base;
  return name === '' ? undefined : name;
}

/**
 * CERTS_DIR at start: every certificate file goes through the same validation as a PUT and into
 * the store (from where every replica serves it). A bad file is reported and skipped: it never
 * stops the sidecar, and never replaces a good stored certificate.
 */
export async function importCertsDir(dir: string, certs: CertChanges, logger: Logger): Promise<void> {
  let files: string[];
  try {
    files = (await fs.promises.readdir(dir, { withFileTypes: true }))
      .filter((entry) => entry.isFile() || entry.isSymbolicLink())
      .map((entry) => entry.name)
      .sort();
  } catch (error) {
    logger.error({ dir, err: (error as Error).message }, 'CERTS_DIR cannot be read; no certificates imported');
    return;
  }
  for (const file of files) {
    const name = certNameOfFile(file);
    if (name === undefined) continue;
    try {
      const result = await certs.put(name, await fs.promises.readFile(path.join(dir, file), 'utf8'));
      logger.info({ file, certName: name, index: result.index }, 'certificate from CERTS_DIR stored');
    } catch (error) {
      logger.error({ file, certName: name, err: (error as Error).message }, 'certificate from CERTS_DIR refused');
    }
  }
}
