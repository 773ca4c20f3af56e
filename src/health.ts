import type { AcmeStatus } from './acme/acme-manager';
import type { AppliedState, ApplyProgress } from './applier/applied-state';
import { secondsToExpiry } from './certs/certificate';
import type { StoreHealth } from './store/route-store';

/** What /healthz and /readyz answer: 200 when `ok`, 503 otherwise, with the details either way. */
export interface HealthReport {
  readonly ok: boolean;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** Where the health policy reads the current state from. */
export interface HealthSources {
  /** Whether HAProxy serves: its master answers within the deadline (a frozen one does not). */
  readonly haproxyAlive: () => Promise<boolean>;
  readonly store: () => StoreHealth;
  readonly applied: () => AppliedState;
  readonly progress: () => ApplyProgress;
  /** Automatic certificates, when ACME is on. */
  readonly acme?: () => AcmeStatus;
}

/**
 * How long /healthz waits for the HAProxy master's answer. It answers in milliseconds; a frozen or
 * hung one never does, and Docker's HEALTHCHECK gives the whole request 3 s.
 */
export const HAPROXY_ANSWER_MS = 2000;

/** A certificate this close to its end makes /healthz say so (degraded, still 200). */
export const EXPIRY_WARNING_DAYS = 14;

/**
 * Liveness (/healthz): alive while HAProxy serves the last good config. The store plays no part:
 * a Consul outage must never make an orchestrator replace proxies that serve traffic (a new task
 * would start without the routes the old one serves). Routes left out and certificates about to
 * expire are reported, not fatal.
 */
export async function livenessOf(sources: HealthSources): Promise<HealthReport> {
  const alive = await sources.haproxyAlive();
  const state = sources.applied();
  const details = {
    haproxy: { running: alive },
    // Told, not judged: the last good config is served whether the store answers or not.
    store: sources.store(),
    applied: { index: state.index, routes: state.routes.length, invalid: state.invalid },
    certs: certHealth(state),
    ...(sources.acme ? { acme: sources.acme() } : {}),
  };
  if (!alive) return { ok: false, message: 'HAProxy is not serving: its master does not run or does not answer', details };
  const invalidNote = state.invalid.length > 0 ? `; ${state.invalid.length} invalid routes left out` : '';
  const expiring = details.certs.expiringSoon;
  const expiryNote =
    expiring.length > 0
      ? `; degraded: certificates expiring within ${EXPIRY_WARNING_DAYS} days: ${expiring.map((c) => `${c.name} (${c.notAfter})`).join(', ')}`
      : '';
  const invalidCertNote = details.certs.invalid.length > 0 ? `; ${details.certs.invalid.length} invalid certificates left out` : '';
  const message = `serving ${state.routes.length} routes${invalidNote}${expiryNote}${invalidCertNote}${acmeNote(details.acme)}`;
  return { ok: true, message, details };
}

/**
 * Readiness (/readyz): the store answers and its latest index is live here. Not ready before the
 * first store snapshot is applied, during a store outage, and while a change waits to be applied
 * (or cannot be: a config HAProxy refuses whole).
 */
export function readinessOf(sources: Pick<HealthSources, 'store' | 'applied' | 'progress'>): HealthReport {
  const store = sources.store();
  const state = sources.applied();
  const progress = sources.progress();
  const details = { store, applied: { index: state.index, storeIndex: progress.storeIndex, once: progress.appliedOnce } };
  if (!store.reachable) return { ok: false, message: `the store does not answer${store.lastError ? ` (${store.lastError})` : ''}`, details };
  if (!progress.appliedOnce) return { ok: false, message: 'no store snapshot applied yet', details };
  if (state.index < progress.storeIndex) return { ok: false, message: `store index ${progress.storeIndex} is not applied yet (live: ${state.index})`, details };
  return { ok: true, message: `store index ${state.index} applied`, details };
}

/**
 * Failing ACME orders degrade a replica but do not make it unhealthy: it still serves every
 * route, and the certificates it has until they expire (which the expiry note reports).
 */
function acmeNote(acme: AcmeStatus | undefined): string {
  const failing = (acme?.certs ?? []).filter((cert) => cert.failures > 0);
  if (failing.length === 0) return '';
  return `; degraded: ACME orders failing: ${failing.map((c) => `${c.certName} (${c.failures} failures, last: ${c.lastError ?? 'unknown'})`).join(', ')}`;
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
