import type { InvalidCert } from '../applier/applied-state';
import { Certificate, CertificateInfo, parseCertName, parseCertificate } from '../certs/certificate';
import { judgeCerts } from '../certs/stored-certs';
import { InvalidParameter, NotLive } from '../errors';
import type { RouteStore } from '../store/route-store';

/** Waits until the local HAProxy serves a store index (the applier); NotLive after the timeout. */
export interface CertServedWaiter {
  waitForIndex(index: number, timeoutMs: number): Promise<{ readonly index: number; readonly invalidCerts?: readonly InvalidCert[] }>;
}

export interface CertChangesOptions {
  readonly store: Pick<RouteStore, 'putCert' | 'removeCert' | 'list'>;
  /** Waits until the local HAProxy serves a stored change; the one-shot CLI has none. */
  readonly served?: CertServedWaiter;
  readonly liveTimeoutMs: number;
}

export interface CertResult {
  readonly certName: string;
  readonly index: number;
  /** What was stored (never the key). */
  readonly cert?: CertificateInfo;
}

export interface StoredCerts {
  readonly certs: readonly CertificateInfo[];
  readonly invalid: readonly InvalidCert[];
}

/**
 * The one write path of certificates, shared by the HTTP API and the CLI's `certs add/remove`:
 * validate (certs/: it parses, the key matches, it has not expired), store once, then wait until
 * the local HAProxy serves the change. A certificate that fails validation never reaches the
 * store, so it never reaches HAProxy.
 */
export class CertChanges {
  constructor(private readonly options: CertChangesOptions) {}

  /** Validate without storing (the first half of a PUT). */
  prepare(certName: unknown, pem: unknown): Certificate {
    const name = parseCertName(typeof certName === 'string' ? certName : undefined);
    if (typeof pem !== 'string' || pem.trim() === '')
      throw new InvalidParameter('cert', 'the request body must be the PEM: the certificate chain and its private key');
    return parseCertificate(name, pem, { rejectExpired: true });
  }

  /**
   * DFP's `serviceCert` on reconfigure: the PEM with its newlines written as `\n`, stored as the
   * certificate named after the service. Errors name serviceCert.
   */
  prepareServiceCert(serviceName: unknown, serviceCert: unknown): Certificate {
    const pem = typeof serviceCert === 'string' ? serviceCert.replace(/\\n/g, '\n') : serviceCert;
    try {
      return this.prepare(serviceName, pem);
    } catch (error) {
      if (!(error instanceof InvalidParameter) || error.parameter !== 'cert') throw error;
      throw new InvalidParameter('serviceCert', error.message.replace(/^cert: /, ''));
    }
  }

  async store(cert: Certificate): Promise<CertResult> {
    const index = await this.options.store.putCert(cert.name, cert.pem);
    const served = await this.options.served?.waitForIndex(index, this.options.liveTimeoutMs);
    const invalid = served?.invalidCerts?.find((entry) => entry.name === cert.name);
    if (invalid) throw new NotLive(`${cert.name} was stored but HAProxy does not serve it: ${invalid.reason}`);
    return { certName: cert.name, index, cert: cert.info };
  }

  async put(certName: unknown, pem: unknown): Promise<CertResult> {
    return this.store(this.prepare(certName, pem));
  }

  validName(certName: unknown): string {
    return parseCertName(typeof certName === 'string' ? certName : undefined);
  }

  async remove(certName: unknown): Promise<CertResult> {
    const name = this.validName(certName);
    const index = await this.options.store.removeCert(name);
    await this.options.served?.waitForIndex(index, this.options.liveTimeoutMs);
    return { certName: name, index };
  }

  /** What the store holds, described (never a key); certificates that no longer parse, with why. */
  async list(): Promise<StoredCerts> {
    const snapshot = await this.options.store.list();
    const { valid, invalid } = judgeCerts(snapshot.certs ?? []);
    return { certs: valid.map((cert) => cert.info), invalid };
  }
}
