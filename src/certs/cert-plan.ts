import type { Certificate } from './certificate';

/**
 * How the served certificates change from one store snapshot to the next. HAProxy's default
 * certificate is the one on the bind line (`crt <file>`); the others are the lines of the
 * crt-list. The Runtime API can replace any loaded certificate and add or remove crt-list lines,
 * but it cannot change which certificate is the default, nor create or drop the `:ssl` binds:
 * those changes alter haproxy.cfg and go live with a reload.
 */

export type CertChange =
  | { readonly kind: 'add'; readonly cert: Certificate }
  | { readonly kind: 'update'; readonly cert: Certificate }
  | { readonly kind: 'remove'; readonly name: string };

/** Default first (DEFAULT_CERT when it is stored, else the first name), then the rest by name. */
export function servingOrder(certs: readonly Certificate[], defaultName?: string): Certificate[] {
  const sorted = [...certs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const preferred = sorted.findIndex((cert) => cert.name === defaultName);
  if (preferred <= 0) return sorted;
  return [sorted[preferred], ...sorted.slice(0, preferred), ...sorted.slice(preferred + 1)];
}

/**
 * The runtime changes that turn `live` into `next` (both in serving order), or undefined when
 * only a reload can: the default certificate changes, or the first certificate arrives or the
 * last one goes. An empty list: nothing to do.
 */
export function runtimeCertChanges(live: readonly Certificate[], next: readonly Certificate[]): CertChange[] | undefined {
  if (live.length === 0 && next.length === 0) return [];
  if (live.length === 0 || next.length === 0 || live[0].name !== next[0].name) return undefined;
  const liveByName = new Map(live.map((cert) => [cert.name, cert]));
  const nextNames = new Set(next.map((cert) => cert.name));
  const changes: CertChange[] = live.filter((cert) => !nextNames.has(cert.name)).map((cert) => ({ kind: 'remove', name: cert.name }));
  for (const cert of next) {
    const before = liveByName.get(cert.name);
    if (!before) changes.push({ kind: 'add', cert });
    else if (before.pem !== cert.pem) changes.push({ kind: 'update', cert });
  }
  return changes;
}
