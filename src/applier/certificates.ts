import { CertFileWriter, certPaths, CertPaths, tlsFiles } from '../certs/cert-files';
import { certFiles, CertFiles, servingOrder } from '../certs/cert-plan';
import { CertSync } from '../certs/cert-sync';
import type { CertificateInfo } from '../certs/certificate';
import { CertJudge } from '../certs/stored-certs';
import { RuntimeApi } from '../haproxy/runtime-api';
import type { Logger } from '../logger';
import type { TlsFiles } from '../render/types';
import type { CertEntry } from '../store/route-store';
import type { InvalidCert } from './applied-state';

/** What the applier needs to serve certificates: where their files go, and the Runtime API. */
export interface ApplierCerts {
  readonly paths: CertPaths;
  readonly sync: CertSync;
  /** DEFAULT_CERT: the certificate for clients without SNI (or whose name no certificate has). */
  readonly defaultName?: string;
  /** Remembers what it judged and wrote: a change costs what changed, not every certificate again. */
  readonly judge: CertJudge;
  readonly files: CertFileWriter;
}

export function applierCerts(stateDir: string, masterSocket: string, logger: Logger, defaultName?: string): ApplierCerts {
  const paths = certPaths(stateDir);
  return { paths, sync: new CertSync(paths, new RuntimeApi(masterSocket), logger), defaultName, judge: new CertJudge(), files: new CertFileWriter(paths) };
}

/** The certificates of one store snapshot, on disk and ready to go live. */
export interface PreparedCerts {
  readonly files: CertFiles;
  readonly tls: TlsFiles | false;
  readonly info: readonly CertificateInfo[];
  readonly invalid: readonly InvalidCert[];
}

export const NO_CERTS: PreparedCerts = { files: new Map(), tls: false, info: [], invalid: [] };

/**
 * Judge the stored certificates (a hand edit may have broken one: it is left out and reported;
 * an expired one is still served, /healthz reports it) and write the files of the valid ones, so
 * that `haproxy -c` and any reload from now on see them.
 */
export async function prepareCerts(certs: ApplierCerts, entries: readonly CertEntry[], logger: Logger): Promise<PreparedCerts> {
  const { valid, invalid } = certs.judge.judge(entries);
  if (invalid.length > 0) logger.warn({ certificates: invalid }, 'stored certificates left out: they are invalid');
  const ordered = servingOrder(valid, certs.defaultName);
  const files = certFiles(certs.paths, ordered);
  await certs.files.write(files);
  return { files, tls: tlsFiles(certs.paths, ordered), info: ordered.map((cert) => cert.info), invalid };
}
