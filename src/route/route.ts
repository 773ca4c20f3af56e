/**
 * The domain of a route, after validation. Everything downstream of `route/` works on these
 * types only; raw strings from users never get past the parser.
 */
export type ReqMode = 'http' | 'tcp' | 'sni';

/**
 * The parameters of a route exactly as the user gave them (query string or KV JSON), values as
 * strings. This is what the store keeps (one JSON object of strings per route), so a hand edit
 * and an API call are the same thing.
 */
export type RouteParams = Readonly<Record<string, string>>;

/** The same parameters with the same values (key order aside); the same object is the quick case. */
export function sameParams(a: RouteParams | null, b: RouteParams | null): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.prototype.hasOwnProperty.call(b, key) && a[key] === b[key]);
}

export interface User {
  readonly name: string;
  readonly password: string;
}

/** A regular expression for the path and its replacement (with `\1` back-references). */
export interface PathRewrite {
  readonly search: string;
  readonly replace: string;
}

/** One destination of a service: the unsuffixed parameters, or those with suffix `.1` ... `.10`. */
export interface Destination {
  /** 0 for the unsuffixed parameters, otherwise the suffix. */
  readonly index: number;
  readonly port: number;
  readonly srcPort?: number;
  readonly reqMode: ReqMode;
  readonly servicePath: readonly string[];
  readonly serviceDomain: readonly string[];
  readonly pathType: string;
  readonly outboundHostname?: string;
  readonly httpsOnly: boolean;
  readonly redirectWhenHttpProto: boolean;
  /** `http-request set-path %[path,regsub(search,replace)]`, in order. */
  readonly pathRewrites: readonly PathRewrite[];
}

export interface Route {
  readonly serviceName: string;
  /** Name used in ACLs and for ordering; defaults to serviceName. */
  readonly aclName: string;
  readonly serviceDomainAlgo: string;
  readonly destinations: readonly Destination[];
  readonly users: readonly User[];
  readonly usersPassEncrypted: boolean;
  readonly timeoutServer?: number;
  readonly timeoutTunnel?: number;
  readonly isDefaultBackend: boolean;
  /** Requests need a client certificate that verifies against CA_FILE (403 otherwise). */
  readonly verifyClientSsl: boolean;
  /** TLS to the service's servers, without verifying their certificates (DFP's sslVerifyNone). */
  readonly sslVerifyNone: boolean;
  readonly addReqHeader: readonly string[];
  readonly setReqHeader: readonly string[];
  readonly delReqHeader: readonly string[];
  readonly addResHeader: readonly string[];
  readonly setResHeader: readonly string[];
  readonly delResHeader: readonly string[];
  /** The normalized parameters this route was parsed from: what the store keeps. */
  readonly params: RouteParams;
}
