import type { InvalidCert } from '../applier/applied-state';
import type { CertEntry } from '../store/route-store';
import { Certificate, parseCertificate } from './certificate';

/** The stored certificates that can be served, and those that cannot, with why. */
export interface JudgedCerts {
  readonly valid: readonly Certificate[];
  readonly invalid: readonly InvalidCert[];
}

/**
 * Judge stored certificates as they are served: one that does not parse (a hand edit of the store)
 * is left out with its reason; an expired one is still served (the input gate refused it when
 * new; once stored, /healthz reports it until it is replaced). `known` holds certificates judged
 * before, by name: one whose PEM is unchanged is not parsed again (parsing and key-checking every
 * certificate on each change costs seconds at 1,000 certificates).
 */
export function judgeCerts(entries: readonly CertEntry[], known?: ReadonlyMap<string, Certificate>): JudgedCerts {
  const valid: Certificate[] = [];
  const invalid: InvalidCert[] = [];
  for (const entry of entries) {
    const before = known?.get(entry.name);
    try {
      valid.push(before?.pem === entry.pem ? before : parseCertificate(entry.name, entry.pem, { rejectExpired: false }));
    } catch (error) {
      invalid.push({ name: entry.name, reason: (error as Error).message });
    }
  }
  return { valid, invalid };
}
