import type { CertificateInfo } from '../certs/certificate';
import type { Route } from '../route/route';

/**
 * Which automatic certificates the routes ask for, and when each is due. Pure: the manager
 * decides with it, and so does the replica that took the lock, from a fresh read of the store.
 */

/** One automatic certificate: stored as `acme-<serviceName>`, for the route's domains. */
export interface WantedCert {
  readonly certName: string;
  readonly domains: readonly string[];
}

export const ACME_CERT_PREFIX = 'acme-';

export function wantedCerts(routes: readonly Route[]): WantedCert[] {
  return routes
    .filter((route) => route.acmeDomains.length > 0)
    .map((route) => ({ certName: `${ACME_CERT_PREFIX}${route.serviceName}`, domains: route.acmeDomains }));
}

function sameDomains(info: CertificateInfo, domains: readonly string[]): boolean {
  const names = new Set(info.sans.filter((san) => san.startsWith('DNS:')).map((san) => san.slice(4).toLowerCase()));
  return names.size === domains.length && domains.every((domain) => names.has(domain));
}

/**
 * Epoch ms from which `wanted` needs a new certificate: now (0) when none is stored or the stored
 * one is for other domains, else `renewBeforeMs` before the stored one expires.
 */
export function dueAt(wanted: WantedCert, stored: CertificateInfo | undefined, renewBeforeMs: number): number {
  if (stored === undefined || !sameDomains(stored, wanted.domains)) return 0;
  return Date.parse(stored.notAfter) - renewBeforeMs;
}
