import { CertificateInfo, parseCertificate } from '../certs/certificate';
import { Backoff, BackoffPolicy } from '../files/backoff';
import type { Logger } from '../logger';
import type { Route } from '../route/route';
import type { AcmeSettings } from '../settings';
import type { CertEntry, RouteStore } from '../store/route-store';
import type { ChallengeHooks } from './acme-ca';
import { dueAt, WantedCert, wantedCerts } from './wanted';

/**
 * Automatic certificates for the fleet. Every replica runs one; each follows what its applier
 * serves (routes with letsencrypt=true, certificates stored) and, when a certificate is missing,
 * is for other domains or is within the renew-before window, tries the store's lock for it. The
 * replica that gets the lock reads the store again (another may just have finished), orders
 * through acme-client, publishes the HTTP-01 answers to the store (every replica's HAProxy
 * serves them, so the CA may reach any) and stores the certificate like a PUT /cert: every
 * replica then serves it, a renewal through the Runtime API without a reload. The others find
 * the lock held and look again shortly. Failures are retried with backoff and reported; nothing
 * here ever removes a certificate.
 */

/** What orders a certificate: AcmeCa, or anything that speaks ACME the same way. */
export interface CertificateOrderer {
  order(accountKey: string, domains: readonly string[], hooks: ChallengeHooks): Promise<string>;
}

export interface AcmeManagerOptions {
  readonly settings: AcmeSettings;
  readonly store: RouteStore;
  readonly ca: CertificateOrderer;
  readonly newAccountKey: () => Promise<string>;
  /** Resolves once this replica and the others serve store index `index` (or their wait ended). */
  readonly awaitServed: (index: number) => Promise<void>;
  /** Who holds a lock, for people reading Consul: host, pid, API address. */
  readonly holder: string;
  readonly logger: Logger;
  /** Backoff after failed orders (default 10 s doubling up to 1 h). */
  readonly failureBackoff?: BackoffPolicy;
}

/** What /healthz and /metrics show of one automatic certificate. */
export interface AcmeCertStatus {
  readonly certName: string;
  readonly domains: readonly string[];
  /** Failed attempts since the last success. */
  readonly failures: number;
  readonly lastError?: string;
  /** ISO 8601: when this replica tries again after a failure. */
  readonly retryAt?: string;
}

export interface AcmeStatus {
  readonly certs: readonly AcmeCertStatus[];
  readonly issued: number;
  readonly failed: number;
}

interface CertState {
  readonly backoff: Backoff;
  failures: number;
  lastError?: string;
  /** Epoch ms before which no attempt starts (after a failure, or while another replica holds the lock). */
  notBefore: number;
  running: boolean;
}

type Outcome = 'issued' | 'held elsewhere' | 'not due';

const DEFAULT_FAILURE_BACKOFF: BackoffPolicy = { minMs: 10000, maxMs: 3600000 };
/** While another replica holds the lock: look again this soon (its certificate usually arrives first). */
const LOCK_RETRY_MS = 2000;
/** Wake up at least this often: a due time further away is looked at again later. */
const MAX_SLEEP_MS = 3600000;
const DAY_MS = 86400000;

export class AcmeManager {
  private wanted: readonly WantedCert[] = [];
  private served: ReadonlyMap<string, CertificateInfo> = new Map();
  private readonly states = new Map<string, CertState>();
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private issued = 0;
  private failed = 0;

  constructor(private readonly options: AcmeManagerOptions) {}

  private get renewBeforeMs(): number {
    return this.options.settings.renewBeforeDays * DAY_MS;
  }

  /** What the local HAProxy serves now: the routes (which ask for certificates) and the certificates. */
  update(routes: readonly Route[], certs: readonly CertificateInfo[]): void {
    this.wanted = wantedCerts(routes);
    this.served = new Map(certs.map((info) => [info.name, info]));
    for (const name of [...this.states.keys()]) if (!this.wanted.some((w) => w.certName === name)) this.states.delete(name);
    this.check();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  status(): AcmeStatus {
    const certs = this.wanted.map((w): AcmeCertStatus => {
      const state = this.states.get(w.certName);
      if (!state || state.failures === 0) return { certName: w.certName, domains: w.domains, failures: 0 };
      return {
        certName: w.certName,
        domains: w.domains,
        failures: state.failures,
        lastError: state.lastError,
        retryAt: new Date(state.notBefore).toISOString(),
      };
    });
    return { certs, issued: this.issued, failed: this.failed };
  }

  /** Start what is due now; sleep until the next due time. */
  private check(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const now = Date.now();
    let next = now + MAX_SLEEP_MS;
    for (const wanted of this.wanted) {
      const state = this.stateOf(wanted.certName);
      if (state.running) continue;
      const at = Math.max(dueAt(wanted, this.served.get(wanted.certName), this.renewBeforeMs), state.notBefore);
      if (at <= now) void this.run(wanted, state);
      else next = Math.min(next, at);
    }
    this.timer = setTimeout(() => this.check(), Math.max(0, next - now));
    this.timer.unref();
  }

  private stateOf(certName: string): CertState {
    let state = this.states.get(certName);
    if (!state) {
      state = { backoff: new Backoff(this.options.failureBackoff ?? DEFAULT_FAILURE_BACKOFF), failures: 0, notBefore: 0, running: false };
      this.states.set(certName, state);
    }
    return state;
  }

  private async run(wanted: WantedCert, state: CertState): Promise<void> {
    state.running = true;
    try {
      const outcome = await this.orderUnderLock(wanted);
      if (outcome === 'held elsewhere') state.notBefore = Date.now() + LOCK_RETRY_MS;
      else {
        state.failures = 0;
        state.lastError = undefined;
        state.backoff.reset();
        // The applier has yet to show the stored certificate; the lock and the fresh read make another look harmless.
        state.notBefore = Date.now() + LOCK_RETRY_MS;
      }
    } catch (error) {
      if (this.stopped) return;
      state.failures++;
      this.failed++;
      state.lastError = (error as Error).message;
      state.notBefore = Date.now() + state.backoff.next();
      this.options.logger.warn(
        { cert: wanted.certName, domains: wanted.domains, failures: state.failures, retryAt: new Date(state.notBefore).toISOString(), err: state.lastError },
        'ACME order failed; the certificate stored (if any) stays served',
      );
    } finally {
      state.running = false;
      this.check();
    }
  }

  private async orderUnderLock(wanted: WantedCert): Promise<Outcome> {
    const { store, holder } = this.options;
    const lock = await store.tryLock(wanted.certName, holder);
    if (!lock) return 'held elsewhere';
    try {
      const snapshot = await store.list();
      if (dueAt(wanted, infoOf(snapshot.certs, wanted.certName), this.renewBeforeMs) > Date.now()) return 'not due';
      // A holder that died mid-order left its answers behind: this order is ours now.
      for (const leftover of snapshot.challenges ?? []) if (leftover.certName === wanted.certName) await store.removeChallenge(leftover.token);
      this.options.logger.info({ cert: wanted.certName, domains: wanted.domains }, 'ordering a certificate over ACME');
      const pem = await this.options.ca.order(await this.accountKey(), wanted.domains, this.hooks(wanted.certName));
      const cert = parseCertificate(wanted.certName, pem, { rejectExpired: true });
      await store.putCert(cert.name, cert.pem);
      this.issued++;
      this.options.logger.info(
        { cert: cert.name, domains: wanted.domains, issuer: cert.info.issuer, notAfter: cert.info.notAfter },
        'certificate issued over ACME and stored',
      );
      return 'issued';
    } finally {
      await lock.release();
    }
  }

  /** The fleet's one account key: the first replica to need it creates it; a race keeps the first stored. */
  private async accountKey(): Promise<string> {
    const stored = await this.options.store.readAcmeAccount();
    if (stored !== undefined) return stored;
    return this.options.store.createAcmeAccount(await this.options.newAccountKey());
  }

  private hooks(certName: string): ChallengeHooks {
    const { store, awaitServed } = this.options;
    return {
      publish: async (token, keyAuthorization) => awaitServed(await store.putChallenge({ token, keyAuthorization, certName })),
      withdraw: async (token) => {
        await store.removeChallenge(token);
      },
    };
  }
}

/** The stored certificate's info, or undefined when none is stored or it does not parse (then it is due). */
function infoOf(certs: readonly CertEntry[] | undefined, name: string): CertificateInfo | undefined {
  const entry = certs?.find((cert) => cert.name === name);
  if (!entry) return undefined;
  try {
    return parseCertificate(name, entry.pem, { rejectExpired: false }).info;
  } catch {
    return undefined;
  }
}
