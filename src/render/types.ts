import type { MapFile } from './route-maps';

/** A stored route that is not served, and why (invalid parameters, a clash in the config, or rejected by HAProxy). */
export interface InvalidRoute {
  readonly serviceName: string;
  readonly reason: string;
  /** The route parameter at fault when one is (e.g. `srcPort` for a port another frontend holds). */
  readonly parameter?: string;
  /** The port in question, when the problem is a port that cannot be shared. */
  readonly port?: number;
}

/**
 * The certificate files of the `:ssl` binds, when at least one certificate is served: the
 * default one the bind line names, and the crt-list with the others.
 */
export interface TlsFiles {
  readonly defaultCert: string;
  readonly crtList: string;
}

/** The same files (or both none): a render with either gives the same text. */
export function sameTls(a: TlsFiles | false, b: TlsFiles | false): boolean {
  if (a === false || b === false) return a === b;
  return a.defaultCert === b.defaultCert && a.crtList === b.crtList;
}

/** A rendered config and the routes it had to leave out. */
export interface RenderResult {
  readonly config: string;
  /** The route maps the config names, to be on disk before HAProxy reads it (none when it names none). */
  readonly maps: readonly MapFile[];
  /** Destinations left out of the config (e.g. two tcp services on one srcPort), and why. */
  readonly problems: readonly InvalidRoute[];
}
