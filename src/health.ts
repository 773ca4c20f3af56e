import type { AppliedState } from './applier/applied-state';
import { secondsToExpiry } from './certs/certificate';
import type { StoreHealth } from './store/route-store';

/** What /healthz answers: 200 when healthy, 503 otherwise, with the details either way. */
export interface HealthReport {
  readonly healthy: boolean;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** Where the health policy reads the current state from. */
export interface HealthSources {
  readonly haproxyRunning: () => boolean;
  readonly store: () => StoreHealth;
  readonly applied: () => AppliedState;
}

/** A certificate this close to its end makes /healthz say so (degraded, still 200). */
export const EXPIRY_WARNING_DAYS = 14;

/**
 * The health policy: unhealthy while HAProxy does not run or the store does not answer. Routes
 * left out as invalid do not make a replica unhealthy (the others are served); they are counted.
 */
export function healthOf(sources: HealthSources): HealthReport {
  const haproxyRunning = sources.haproxyRunning();
  const storeHealth = sources.store();
  const state = sources.applied();
  const problems: string[] = [];
  if (!haproxyRunning) problems.push('HAProxy is not running');
  if (!storeHealth.reachable) problems.push(`the store does not answer${storeHealth.lastError ? ` (${storeHealth.lastError})` : ''}`);
  const details = {
    haproxy: { running: haproxyRunning },
    store: storeHealth,
    applied: { index: state.index, routes: state.routes.length, invalid: state.invalid },
    certs: certHealth(state),
  };
  if (problems.length > 0) return { healthy: false, message: problems.join('; '), details };
  const invalidNote = state.invalid.length > 0 ? `; ${state.invalid.length} invalid routes left out` : '';
  const expiring = details.certs.expiringSoon;
  const expiryNote =
    expiring.length > 0
      ? `; degraded: certificates expiring within ${EXPIRY_WARNING_DAYS} days: ${expiring.map((c) => `${c.name} (${c.notAfter})`).join(', ')}`
      : '';
  const invalidCertNote = details.certs.invalid.length > 0 ? `; ${details.certs.invalid.length} invalid certificates left out` : '';
  return { healthy: true, message: `serving ${state.routes.length} routes${invalidNote}${expiryNote}${invalidCertNote}`, details };
}

function certHealth(state: AppliedState) {
  const served = state.certs ?? [];
  const soon = served.filter((cert) => secondsToExpiry(cert) < EXPIRY_WARNING_DAYS * 86400);
  return {
    served: served.length,
    expiringSoon: soon.map((cert) => ({ name: cert.name, notAfter: cert.notAfter })),
    invalid: state.invalidCerts ?? [],
  };
}
