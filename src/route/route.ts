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

/** A user of the `users` parameter; without a password, it comes from `usersSecret` or `USERS`. */
export interface User {
  readonly name: string;
  readonly password?: string;
}

/** A user basic auth checks: the password is a crypt(3) hash when `encrypted`. */
export interface Credential {
  readonly name: string;
  readonly password: string;
  readonly encrypted: boolean;
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
  /** Only these methods pass (403 otherwise); empty: all. */
  readonly allowedMethods: readonly string[];
  /** These methods get 403. */
  readonly deniedMethods: readonly string[];
  /** Plain HTTP requests get 403. */
  readonly denyHttp: boolean;
  /** Headers a request must carry with exactly these values to reach this destination. */
  readonly serviceHeader: readonly { readonly name: string; readonly value: string }[];
  /** User-Agent substrings (any one, case-insensitive) a request must carry; empty: any. */
  readonly userAgent: readonly string[];
  /** Paths (matched like servicePath) that do not reach this destination. */
  readonly servicePathExclude: readonly string[];
  /** Hosts redirected (301) to the first serviceDomain. */
  readonly redirectFromDomain: readonly string[];
  /** The status of httpsOnly and redirectWhenHttpProto redirects (302 unless given). */
  readonly httpsRedirectCode?: number;
  /** The service's port for requests that came over HTTPS. */
  readonly httpsPort?: number;
  /** `timeout client` of a tcp or sni frontend, in seconds. */
  readonly timeoutClient?: number;
  /** TCP health checks of the servers of a tcp or sni destination. */
  readonly checkTcp: boolean;
  readonly timeoutServer?: number;
  readonly timeoutTunnel?: number;
  /** Requests need a client certificate that verifies against CA_FILE (403 otherwise). */
  readonly verifyClientSsl: boolean;
  /** TLS to the service's servers, without verifying their certificates (DFP's sslVerifyNone). */
  readonly sslVerifyNone: boolean;
  /**
   * TLS to the service's servers, their certificates verified against BACKEND_CA_FILE (the
   * system's CAs when unset) and the host name HAProxy connects to (ours; DFP has none).
   */
  readonly sslVerify: boolean;
  /** No basic auth (neither the route's users nor USERS) in front of this destination. */
  readonly ignoreAuthorization: boolean;
}

export interface Route {
  readonly serviceName: string;
  /** Name used in ACLs and for ordering; defaults to serviceName. */
  readonly aclName: string;
  readonly serviceDomainAlgo: string;
  readonly destinations: readonly Destination[];
  readonly users: readonly User[];
  readonly usersPassEncrypted: boolean;
  /** `<SECRETS_DIR>/dfp_users_<usersSecret>` holds the users (DFP's Docker secret). */
  readonly usersSecret?: string;
  readonly isDefaultBackend: boolean;
  /** `letsencrypt=true`: the domains of the route's automatic certificate (ACME); empty when not asked for. */
  readonly acmeDomains: readonly string[];
  readonly addReqHeader: readonly string[];
  readonly setReqHeader: readonly string[];
  readonly delReqHeader: readonly string[];
  readonly addResHeader: readonly string[];
  readonly setResHeader: readonly string[];
  readonly delResHeader: readonly string[];
  /** One config line added at the end of each backend of the route, as written. */
  readonly backendExtra?: string;
  /** Health checks (`check`) on the servers. */
  readonly checkResolvers: boolean;
  readonly compressionAlgo: readonly string[];
  readonly compressionType: readonly string[];
  /** `option <mode>` in the backends. */
  readonly connectionMode?: string;
  /** `sticky-server`: a cookie keeps each client on one server (every address of the host). */
  readonly sessionType?: string;
  /** DFP's replica count: 0 removes the service; with sessionType, the number of server slots. */
  readonly replicas?: number;
  /** The normalized parameters this route was parsed from: what the store keeps. */
  readonly params: RouteParams;
}
