import type { InvalidCert } from '../applier/applied-state';
import type { CertEntry } from '../store/route-store';
import { Certificate, parseCertificate } from './certificate';

/** The stored certificates that can be served, and those that cannot, with why. */
export interface JudgedCerts {
  readonly valid: readonly Certificate[];
  readonly invalid: readonly InvalidCert[];
}

/**
 * One stored text (exactly as stored, not the normalized PEM the certificate carries), judged:
 * the certificate it makes, or why it makes none.
 */
type Verdict = { readonly stored: string; readonly cert: Certificate } | { readonly stored: string; readonly invalid: InvalidCert };

function judgeOne(entry: CertEntry): Verdict {
  try {
    return { stored: entry.pem, cert: parseCertificate(entry.name, entry.pem, { rejectExpired: false }) };
  } catch (error) {
    return { stored: entry.pem, invalid: { name: entry.name, reason: (error as Error).message } };
  }
}

/**
 * Judges stored certificates as they are served: one that does not parse (a hand edit of the
 * store) is left out with its reason; an expired one is still served (the input gate refused it
 * when new; once stored, /healthz reports it until it is replaced).
 *
 * It remembers its last verdicts by name and stored text, so a change costs the parsing of what
 * changed: parsing and key-checking every certificate takes seconds at 1,000 certificates. The
 * stored text is the key, not the normalized PEM, since a PEM stored as written (CRLF, blocks in
 * another order, no final newline: a hand edit) normalizes to another text and would never match.
 */
export class CertJudge {
  private verdicts = new Map<string, Verdict>();

  judge(entries: readonly CertEntry[]): JudgedCerts {
    const next = new Map<string, Verdict>();
    const valid: Certificate[] = [];
    const invalid: InvalidCert[] = [];
    for (const entry of entries) {
      const before = this.verdicts.get(entry.name);
      const verdict = before?.stored === entry.pem ? before : judgeOne(entry);
      next.set(entry.name, verdict);
      if ('cert' in verdict) valid.push(verdict.cert);
      else invalid.push(verdict.invalid);
    }
    this.verdicts = next;
    return { valid, invalid };
  }
}

/** Judge once, remembering nothing (a one-shot command, a listing). */
export function judgeCerts(entries: readonly CertEntry[]): JudgedCerts {
  return new CertJudge().judge(entries);
}
