import * as net from 'net';
import { challengeMapFile } from '../acme/paths';
import type { InvalidRoute, TlsFiles } from './types';
import { Credential, Destination, PathRewrite, Route } from '../route/route';
import { resolveUsers } from '../route/users';
import { Settings } from '../settings';
import { converterArgument, quote } from './quote';
import { flattenStrings } from './flat';
import { DestinationKeys, isMappable, MapFile, mapKeys, RouteMapBuilder, RouteMapFiles, routeMapFiles } from './route-maps';

/**
 * Routes + settings -> plain data for the templates. All decisions live here (ordering, names,
 * quoting, conflicts) so templates stay declarative and users can replace them without
 * re-implementing the rules. Every field is always present (false or [] when unused) because
 * the templates are compiled in Handlebars strict mode.
 */

export interface AclView {
  readonly name: string;
  /** Fetch and flags, e.g. `path_beg` or `hdr(host) -i`. */
  readonly match: string;
  /** Quoted patterns, space separated. */
  readonly patterns: string;
}

export interface UseBackendView {
  readonly backend: string;
  /** ACL names that must all match; empty: always. */
  readonly condition: string;
}

export interface HttpFrontendView {
  readonly name: string;
  readonly binds: readonly string[];
  /** `http-request redirect ...` rules (redirectFromDomain), before any use_backend. */
  readonly redirects: readonly string[];
  /** DEFAULT_PORTS entries with `:ssl`, not bound while no certificate is stored. */
  readonly skippedSslPorts: readonly number[];
  readonly acls: readonly AclView[];
  /** The use_backend lines of the routes that keep ACLs, tried before the maps. */
  readonly useBackends: readonly UseBackendView[];
  /** The route maps (route-maps.ts), false when no route is in them. */
  readonly routeMaps: RouteMapFiles | false;
  /** ACL routes tried after the maps: a `/` path without a domain (root path last). */
  readonly lastUseBackends: readonly UseBackendView[];
  readonly defaultBackend: string | false;
  /** Stats on the HTTP frontend when STATS_PORT is not set. */
  readonly stats: StatsView | false;
  /** EXTRA_FRONTEND lines. */
  readonly extraLines: readonly string[];
  /** CAPTURE_REQUEST_HEADER. */
  readonly captures: readonly { readonly name: string; readonly length: number }[];
  /** DEBUG: the access log of this frontend. */
  readonly log: LogView | false;
  /** The map of ACME HTTP-01 answers (token -> key authorization) while ACME is on. */
  readonly acmeChallengeMap: string | false;
}

export interface LogView {
  /** DEBUG_HTTP_FORMAT or DEBUG_TCP_FORMAT, as written; false: HAProxy's httplog / tcplog. */
  readonly format: string | false;
}

export interface TcpFrontendView {
  readonly name: string;
  readonly bind: string;
  /** timeoutClient of the port's routes (the largest), seconds. */
  readonly timeoutClient: number | false;
  readonly mode: 'tcp' | 'sni';
  readonly acls: readonly AclView[];
  readonly useBackends: readonly UseBackendView[];
  readonly defaultBackend: string | false;
  readonly log: LogView | false;
}

export interface HeaderRuleView {
  /** `add-header`, `set-header` or `del-header`. */
  readonly action: string;
  readonly name: string;
  /** The value as the route gave it (HAProxy syntax); false for del-header. */
  readonly value: string | false;
}

export interface BackendView {
  readonly name: string;
  readonly mode: 'http' | 'tcp';
  readonly serviceName: string;
  readonly timeoutServer: number | false;
  readonly timeoutTunnel: number | false;
  /** Userlist name when the route has users. */
  readonly userlist: string | false;
  readonly realm: string;
  readonly httpsOnly: boolean;
  /** Where httpsOnly sends plain HTTP requests: the same host and URI on the HTTPS port. */
  readonly httpsLocation: string;
  readonly redirectWhenHttpProto: boolean;
  /** Status of the httpsOnly and redirectWhenHttpProto redirects. */
  readonly redirectCode: number;
  /** `option <connectionMode>`, or false. */
  readonly connectionMode: string | false;
  /** `compression algo` / `compression type` values, or false. */
  readonly compression: { readonly algo: string; readonly type: string | false } | false;
  /** Space-separated methods that alone pass, or false. */
  readonly allowedMethods: string | false;
  /** Space-separated methods that get 403, or false. */
  readonly deniedMethods: string | false;
  readonly denyHttp: boolean;
  /** Cookie name of a sticky service, or false. */
  readonly stickyCookie: string | false;
  /** One config line as the route gave it, or false. */
  readonly backendExtra: string | false;
  readonly verifyClientSsl: boolean;
  /** ` ssl verify none` on the server line, or ''. */
  readonly serverSsl: string;
  /** `set-path` expressions (`%[path,regsub(...)]`), quoted, in order. */
  readonly setPaths: readonly string[];
  readonly requestHeaders: readonly HeaderRuleView[];
  readonly responseHeaders: readonly HeaderRuleView[];
  readonly server: { readonly name: string; readonly address: string };
  /** A sticky service: a server slot for each address of `address` (server-template). */
  readonly serverTemplate: { readonly prefix: string; readonly count: number; readonly address: string } | false;
  /** ` check` (health checks) on the server line, or ''. */
  readonly serverCheck: string;
}

export interface UserlistView {
  readonly name: string;
  /** kind: `password` (crypt hash) or `insecure-password`. */
  readonly users: readonly { readonly name: string; readonly kind: string; readonly password: string }[];
}

export interface StatsView {
  readonly uri: string;
  /** Quoted `user:pass`; false when STATS_USER and STATS_PASS are `none`. */
  readonly auth: string | false;
  readonly bind: string | false;
}

export interface ConfigView {
  readonly timeouts: Settings['timeouts'];
  /** CONNECTION_MODE: the `option` of the defaults section. */
  readonly connectionMode: string;
  /** EXTRA_GLOBAL and EXTRA_DEFAULTS lines. */
  readonly extraGlobal: readonly string[];
  readonly extraDefaults: readonly string[];
  /** DEBUG: HAProxy logs to its stdout, which the sidecar passes to its own; errorsOnly: DEBUG_ERRORS_ONLY. */
  readonly log: { readonly errorsOnly: boolean } | false;
  /** ERRORFILES_DIR: `errorfile <code> <file>` lines of the defaults section. */
  readonly errorFiles: readonly { readonly code: number; readonly file: string }[];
  readonly resolvers: readonly { readonly name: string; readonly address: string }[];
  readonly userlists: readonly UserlistView[];
  readonly httpFrontend: HttpFrontendView;
  /** http destinations with a srcPort, one frontend per port. */
  readonly httpPortFrontends: readonly HttpFrontendView[];
  readonly tcpFrontends: readonly TcpFrontendView[];
  readonly backends: readonly BackendView[];
  /** The stats frontend of its own (STATS_PORT). */
  readonly statsFrontend: StatsView | false;
}

export interface BuiltView {
  readonly view: ConfigView;
  readonly problems: readonly InvalidRoute[];
  /** The route maps the config names (none when it names none): the applier writes them with it. */
  readonly maps: readonly MapFile[];
  /** The destinations in the maps, in the order they were entered (view-cache.ts builds the maps again from them). */
  readonly mapped: readonly MappedDestination[];
}

/** A destination of the main HTTP frontend routed by the maps. */
export interface MappedDestination {
  readonly route: Route;
  readonly index: number;
  readonly backend: string;
  readonly keys: DestinationKeys;
}

/** Hands out names, adding `_2`, `_3` ... when DFP's naming scheme would repeat one. */
class UniqueNames {
  private readonly used = new Set<string>();

  take(base: string): string {
    let name = base;
    for (let n = 2; this.used.has(name); n++) name = `${base}_${n}`;
    this.used.add(name);
    return name;
  }
}

/**
 * The view parts of each route from earlier builds. A route the store did not change is the same
 * Route object (the applier's EntryParser keeps it), and when its names came out the same too, its
 * backend, ACLs, use_backend line and userlist are the same objects as last time: the templates'
 * partial memo (templates.ts) then reuses their text instead of rendering them again. Keyed weakly
 * by Route, so it holds nothing a live route set no longer holds.
 */
export class ViewMemo {
  private parts = new WeakMap<Route, Map<string, { readonly key: string; readonly value: unknown }>>();
  private settings?: Settings;
  /** The route maps of the last build, by file: the next build sorts only the keys they lack. */
  private readonly maps = new Map<string, ReadonlyMap<string, string>>();

  /** Parts built with other settings (e.g. another HTTPS port) are not reused. */
  useSettings(settings: Settings): void {
    if (settings === this.settings) return;
    this.settings = settings;
    this.parts = new WeakMap();
  }

  previousMap(file: string): ReadonlyMap<string, string> | undefined {
    return this.maps.get(file);
  }

  rememberMaps(maps: readonly MapFile[]): void {
    for (const map of maps) this.maps.set(map.file, map.entries);
  }

  /** The part `kind` of destination `index` of `route`, built again only when `key` (its names) changed. */
  get<T>(route: Route, kind: string, key: string, build: () => T): T {
    let parts = this.parts.get(route);
    if (!parts) this.parts.set(route, (parts = new Map()));
    const known = parts.get(kind);
    if (known && known.key === key) return known.value as T;
    const value = build();
    flattenStrings(value);
    parts.set(kind, { key, value });
    return value;
  }
}

/** Builds without a memo: every part new. */
const NO_MEMO = {
  get: <T>(_route: Route, _kind: string, _key: string, build: () => T): T => build(),
  useSettings: () => undefined,
  previousMap: () => undefined,
  rememberMaps: () => undefined,
};

type Memo = Pick<ViewMemo, 'get' | 'useSettings' | 'previousMap' | 'rememberMaps'>;

interface Placed {
  readonly route: Route;
  readonly destination: Destination;
  readonly backend: string;
  /** The service port: the destination's, or its httpsPort for requests over TLS. */
  readonly port: number;
  /** This backend takes the destination's requests that came over TLS (httpsPort). */
  readonly overTls: boolean;
}

function bindOf(settings: Settings, port: number): string {
  return `${settings.bindAddress}:${port}`;
}

function compareText(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/** `/.well-known` first, a `/` path without a domain last, otherwise by aclName (the documented route order). */
export function httpRank(d: Destination): number {
  if (d.servicePath.some((p) => p.startsWith('/.well-known'))) return 0;
  if (d.serviceDomain.length === 0 && d.servicePath.includes('/')) return 2;
  return 1;
}

interface Ranked {
  readonly placed: Placed;
  readonly rank: number;
}

function compareHttp({ placed: a, rank: rankA }: Ranked, { placed: b, rank: rankB }: Ranked): number {
  return (
    rankA - rankB ||
    compareText(a.route.aclName, b.route.aclName) ||
    compareText(a.route.serviceName, b.route.serviceName) ||
    a.destination.index - b.destination.index ||
    Number(b.overTls) - Number(a.overTls)
  );
}

/** `%[path,regsub("search","replace")]`: each argument quoted for the converter, the whole for the config line. */
function setPathExpression(rewrite: PathRewrite): string {
  return quote(`%[path,regsub(${converterArgument(rewrite.search)},${converterArgument(rewrite.replace)})]`);
}

/** serviceDomainAlgo -> HAProxy's match method on the Host header (DFP names the fetch). */
const HOST_MATCH: Readonly<Record<string, string>> = {
  'hdr(host)': '-m str',
  'hdr_beg(host)': '-m beg',
  'hdr_end(host)': '-m end',
  'hdr_dom(host)': '-m dom',
  'hdr_sub(host)': '-m sub',
  'hdr_reg(host)': '-m reg',
};

/**
 * A domain without a port matches the Host header with or without one (`example.com:8080` is
 * example.com, never `example.com.evil.org`); a domain with a port matches exactly that.
 */
function hostAcls(name: string, domains: readonly string[], algo: string): AclView[] {
  const method = HOST_MATCH[algo] ?? '-m str';
  const hostOnly = domains.filter((d) => !d.startsWith('*') && !d.includes(':'));
  const withPort = domains.filter((d) => !d.startsWith('*') && d.includes(':'));
  const suffixes = domains.filter((d) => d.startsWith('*')).map((d) => d.slice(1));
  // Two ACL lines with one name are ORed by HAProxy: every kind of domain shares the name.
  return [
    { name, match: `req.hdr(host),field(1,:) -i ${method}`, patterns: hostOnly },
    { name, match: `req.hdr(host) -i ${method}`, patterns: withPort },
    { name, match: 'req.hdr(host),field(1,:) -i -m end', patterns: suffixes },
  ]
    .filter((acl) => acl.patterns.length > 0)
    .map((acl) => ({ ...acl, patterns: acl.patterns.map(quote).join(' ') }));
}

function sniAcls(name: string, domains: readonly string[]): AclView[] {
  const exact = domains.filter((d) => !d.startsWith('*'));
  const suffixes = domains.filter((d) => d.startsWith('*')).map((d) => d.slice(1));
  const acls: AclView[] = [];
  if (exact.length > 0) acls.push({ name, match: 'req_ssl_sni -i', patterns: exact.map(quote).join(' ') });
  if (suffixes.length > 0) acls.push({ name, match: 'req_ssl_sni -i -m end', patterns: suffixes.map(quote).join(' ') });
  return acls;
}

interface HttpEntry {
  readonly acls: readonly AclView[];
  readonly use: UseBackendView;
}

function httpEntry(placed: Placed, aclNames: UniqueNames, memo: Memo, settings: Settings): HttpEntry {
  const { route, destination: d } = placed;
  const base = aclNames.take(`${placed.overTls ? 'https_' : ''}${route.aclName}${placed.port}${d.index === 0 ? '' : `_${d.index}`}`);
  return memo.get(route, `http${d.index}`, `${base} ${placed.backend}`, () => buildHttpEntry(placed, base, domainAlgoOf(route, settings)));
}

/** The route's serviceDomainAlgo, or SERVICE_DOMAIN_ALGO when it gives none. */
export function domainAlgoOf(route: Route, settings: Settings): string {
  const given = route.params.serviceDomainAlgo !== undefined || route.params.serviceDomainMatchAll !== undefined;
  return given ? route.serviceDomainAlgo : settings.proxy.serviceDomainAlgo;
}

function buildHttpEntry(placed: Placed, base: string, domainAlgo: string): HttpEntry {
  const { destination: d } = placed;
  const acls: AclView[] = [];
  const condition: string[] = [];
  if (d.servicePath.length > 0) {
    acls.push({ name: `url_${base}`, match: d.pathType, patterns: d.servicePath.map(quote).join(' ') });
    condition.push(`url_${base}`);
  }
  if (d.servicePathExclude.length > 0) {
    acls.push({ name: `url_exclude_${base}`, match: d.pathType, patterns: d.servicePathExclude.map(quote).join(' ') });
    condition.push(`!url_exclude_${base}`);
  }
  if (d.serviceDomain.length > 0) {
    acls.push(...hostAcls(`domain_${base}`, d.serviceDomain, domainAlgo));
    condition.push(`domain_${base}`);
  }
  d.serviceHeader.forEach((header, i) => {
    acls.push({ name: `hdr_${base}_${i}`, match: `req.hdr(${header.name}) -m str`, patterns: quote(header.value) });
    condition.push(`hdr_${base}_${i}`);
  });
  if (d.userAgent.length > 0) {
    acls.push({ name: `user_agent_${base}`, match: 'req.fhdr(User-Agent) -i -m sub', patterns: d.userAgent.map(quote).join(' ') });
    condition.push(`user_agent_${base}`);
  }
  if (placed.overTls) condition.push('{ ssl_fc }');
  return { acls, use: { backend: placed.backend, condition: condition.join(' ') } };
}

function headerRules(addList: readonly string[], setList: readonly string[], delList: readonly string[]): HeaderRuleView[] {
  const withValue =
    (action: string) =>
    (entry: string): HeaderRuleView => {
      const space = entry.indexOf(' ');
      return { action, name: entry.slice(0, space), value: entry.slice(space + 1) };
    };
  return [
    ...addList.map(withValue('add-header')),
    ...setList.map(withValue('set-header')),
    ...delList.map((name): HeaderRuleView => ({ action: 'del-header', name, value: false })),
  ];
}

/**
 * The userlist of USERS. Route userlists are `<serviceName>Users`; a name ending in lower-case
 * `users` can never be one of them.
 */
export const GLOBAL_USERLIST = 'default_users';

/** A route whose users resolve (USERS and SECRETS_DIR), with them. */
interface AuthRoute {
  readonly route: Route;
  readonly users: readonly Credential[];
}

/**
 * Which userlist guards a destination: the route's own users, else USERS, unless the destination
 * has ignoreAuthorization.
 */
function userlistOf(route: Route, d: Destination, users: ReadonlyMap<Route, readonly Credential[]>, settings: Settings): string | false {
  if (d.ignoreAuthorization) return false;
  if ((users.get(route) ?? []).length > 0) return `${route.serviceName}Users`;
  return settings.users.global.length > 0 ? GLOBAL_USERLIST : false;
}

/** The port clients reach HTTPS on: the first `:ssl` port of DEFAULT_PORTS (443 without one). */
function httpsPortOf(settings: Settings): number {
  return settings.defaultPorts.find((p) => p.ssl)?.port ?? 443;
}

/** `redirect scheme https` would keep the port of the Host header (the HTTP port): name the HTTPS one. */
function httpsLocation(port: number): string {
  return `https://%[req.hdr(host),field(1,:)]${port === 443 ? '' : `:${port}`}%[pathq]`;
}

/** Sticky sessions need every server: Swarm names each task of a service in `tasks.<service>`. */
function serverTemplate(route: Route, d: Destination, port: number): BackendView['serverTemplate'] {
  if (route.sessionType !== 'sticky-server' || d.reqMode !== 'http') return false;
  const host = d.outboundHostname ?? `tasks.${route.serviceName}`;
  return { prefix: `${route.serviceName}_`, count: route.replicas || DEFAULT_STICKY_SLOTS, address: `${host}:${port}` };
}

const DEFAULT_STICKY_SLOTS = 10;

function compressionView(route: Route): BackendView['compression'] {
  if (route.compressionAlgo.length === 0) return false;
  return { algo: route.compressionAlgo.join(' '), type: route.compressionType.length > 0 ? route.compressionType.join(' ') : false };
}

/**
 * TLS to the servers: unverified (sslVerifyNone), or verified (sslVerify) against BACKEND_CA_FILE
 * and the host name, which HAProxy also sends as SNI. An IP address is no name a certificate
 * could be checked for (HAProxy matches DNS names only): then only the chain is verified.
 */
function serverSsl(d: Destination, host: string, settings: Settings): string {
  if (d.sslVerifyNone) return ' ssl verify none';
  if (!d.sslVerify) return '';
  const name = net.isIP(host) === 0 ? ` sni str(${host}) verifyhost ${host}` : '';
  return ` ssl verify required ca-file ${settings.tls.backendCaFile ?? '@system-ca'}${name}`;
}

function backendView(placed: Placed, settings: Settings, users: ReadonlyMap<Route, readonly Credential[]>): BackendView {
  const { route, destination: d } = placed;
  const http = d.reqMode === 'http';
  const host = d.outboundHostname ?? route.serviceName;
  const sticky = http ? serverTemplate(route, d, placed.port) : false;
  const userlist = http ? userlistOf(route, d, users, settings) : false;
  return {
    name: placed.backend,
    mode: http ? 'http' : 'tcp',
    serviceName: route.serviceName,
    timeoutServer: d.timeoutServer ?? false,
    timeoutTunnel: d.timeoutTunnel ?? false,
    userlist,
    realm: userlist === GLOBAL_USERLIST ? 'defaultRealm' : `${route.serviceName}Realm`,
    httpsOnly: http && (d.httpsOnly || settings.proxy.httpsOnly),
    httpsLocation: httpsLocation(httpsPortOf(settings)),
    redirectWhenHttpProto: http && d.redirectWhenHttpProto,
    redirectCode: d.httpsRedirectCode ?? 302,
    connectionMode: http && route.connectionMode !== undefined ? route.connectionMode : false,
    compression: http ? compressionView(route) : false,
    allowedMethods: http && d.allowedMethods.length > 0 ? d.allowedMethods.join(' ') : false,
    deniedMethods: http && d.deniedMethods.length > 0 ? d.deniedMethods.join(' ') : false,
    denyHttp: http && d.denyHttp,
    stickyCookie: sticky ? route.serviceName : false,
    backendExtra: route.backendExtra ?? false,
    verifyClientSsl: http && d.verifyClientSsl,
    serverSsl: serverSsl(d, host, settings),
    setPaths: http ? d.pathRewrites.map(setPathExpression) : [],
    requestHeaders: http ? headerRules(route.addReqHeader, route.setReqHeader, route.delReqHeader) : [],
    responseHeaders: http ? headerRules(route.addResHeader, route.setResHeader, route.delResHeader) : [],
    server: { name: route.serviceName, address: `${host}:${placed.port}` },
    serverTemplate: sticky,
    serverCheck: route.checkResolvers || (!http && d.checkTcp) ? ' check' : '',
  };
}

function userlistView(name: string, users: readonly Credential[]): UserlistView {
  return { name, users: users.map((u) => ({ name: u.name, kind: u.encrypted ? 'password' : 'insecure-password', password: quote(u.password) })) };
}

function routeUserlists(authRoutes: readonly AuthRoute[], memo: Memo): UserlistView[] {
  return authRoutes.filter((a) => a.users.length > 0).map((a) => memo.get(a.route, 'userlist', '', () => userlistView(`${a.route.serviceName}Users`, a.users)));
}

/** Each route's own users; a route whose users do not resolve is reported and left out. */
function withUsers(routes: readonly Route[], settings: Settings, problems: InvalidRoute[]): AuthRoute[] {
  const resolved: AuthRoute[] = [];
  for (const route of routes) {
    try {
      resolved.push({ route, users: resolveUsers(route, settings.users) });
    } catch (error) {
      problems.push({ serviceName: route.serviceName, reason: (error as Error).message });
    }
  }
  return resolved;
}

/**
 * Backend names: `<serviceName>-be<port>`, made unique when two destinations share a port; a
 * destination with httpsPort also gets `https-<serviceName>-be<httpsPort>` (DFP's names).
 */
function placeAll(routes: readonly Route[]): Placed[] {
  const names = new UniqueNames();
  const placed: Placed[] = [];
  for (const route of routes) {
    for (const destination of route.destinations) {
      const { port, httpsPort } = destination;
      if (httpsPort !== undefined && destination.reqMode === 'http') {
        placed.push({ route, destination, backend: names.take(`https-${route.serviceName}-be${httpsPort}`), port: httpsPort, overTls: true });
      }
      placed.push({ route, destination, backend: names.take(`${route.serviceName}-be${port}`), port, overTls: false });
    }
  }
  return placed;
}

/** redirectFromDomain: 301 to the first serviceDomain, path and query kept (DFP). */
function redirectRules(http: readonly Placed[]): string[] {
  return http
    .filter((p) => !p.overTls && p.destination.redirectFromDomain.length > 0 && p.destination.serviceDomain.length > 0)
    .map((p) => {
      const from = p.destination.redirectFromDomain.map(quote).join(' ');
      return `http-request redirect prefix ${quote(`http://${p.destination.serviceDomain[0].replace(/^\*/, '')}`)} code 301 if { req.hdr(host),field(1,:) -i -m str ${from} }`;
    });
}

/** The routes a config serves, in serviceName order so names and conflicts are stable. */
function servedInOrder(routes: readonly Route[], problems: InvalidRoute[]): Route[] {
  // The store's routes come in serviceName order: then no name repeats and there is nothing to sort.
  if (inStrictOrder(routes)) return routes.filter((route) => route.replicas !== 0);
  // replicas=0: a service scaled to zero is left out, as DFP does (a hand edit of the store may say so).
  return uniqueServices(routes, problems)
    .filter((route) => route.replicas !== 0)
    .sort((a, b) => compareText(a.serviceName, b.serviceName));
}

/** Each service's backend names, as buildView names them (same order, same suffixes): what HAProxy's stats are reported under. */
export function backendNames(routes: readonly Route[]): Map<string, string[]> {
  const names = new Map<string, string[]>();
  for (const placed of placeAll(servedInOrder(routes, []))) {
    const list = names.get(placed.route.serviceName) ?? [];
    list.push(placed.backend);
    names.set(placed.route.serviceName, list);
  }
  return names;
}

function statsView(settings: Settings): StatsView | false {
  const stats = settings.stats;
  if (!stats) return false;
  return {
    uri: quote(stats.uri),
    auth: stats.auth ? quote(`${stats.auth.user}:${stats.auth.pass}`) : false,
    bind: stats.port === undefined ? false : bindOf(settings, stats.port),
  };
}

/** Ports the HTTP, stats and API frontends hold: no route's srcPort can take them. */
export function reservedPorts(settings: Settings): Map<number, string> {
  const ports = new Map<number, string>();
  ports.set(settings.listen.port, 'the API (LISTEN_ADDRESS)');
  for (const p of settings.defaultPorts) ports.set(p.port, 'the HTTP frontend (DEFAULT_PORTS)');
  for (const p of settings.bindPorts) ports.set(p.port, 'the HTTP frontend (BIND_PORTS)');
  if (settings.stats?.port !== undefined) ports.set(settings.stats.port, 'the stats frontend (STATS_PORT)');
  return ports;
}

/** What holds a port: the tcp/sni services on it, or the http destinations with that srcPort. */
interface PortGroup {
  readonly mode: 'tcp' | 'sni' | 'http';
  readonly members: Placed[];
}

type TcpGroup = PortGroup & { readonly mode: 'tcp' | 'sni' };

function modeOf(d: Destination): PortGroup['mode'] {
  return d.reqMode;
}

/**
 * Whether `p` may join the group already on its port. sni services share a port (SNI picks);
 * tcp services share one only when each has a serviceDomain (as in DFP, SNI then picks); http
 * destinations with the same srcPort share that port's frontend.
 */
function whyNot(group: PortGroup, p: Placed, port: number): string | undefined {
  const mode = modeOf(p.destination);
  const holder = group.members[0].route.serviceName;
  if (group.mode !== mode) return `srcPort ${port} is already taken by ${group.mode} service ${holder}`;
  if (mode !== 'tcp') return undefined;
  const shared = [...group.members, p].every((m) => m.destination.serviceDomain.length > 0);
  return shared ? undefined : `srcPort ${port} is already taken by tcp service ${holder} (tcp services share a srcPort only when each has a serviceDomain)`;
}

/** Group destinations that have a srcPort by port; what cannot share a port is reported, not rendered. */
function groupByPort(placed: readonly Placed[], settings: Settings, problems: InvalidRoute[]): Map<number, PortGroup> {
  const reserved = reservedPorts(settings);
  const groups = new Map<number, PortGroup>();
  for (const p of placed) {
    const port = p.destination.srcPort;
    if (port === undefined) continue;
    const group = groups.get(port);
    const holder = reserved.get(port);
    const problem = holder ? `srcPort ${port} is used by ${holder}` : group ? whyNot(group, p, port) : undefined;
    if (problem) problems.push({ serviceName: p.route.serviceName, reason: problem, parameter: srcPortName(p.destination), port });
    else if (group) group.members.push(p);
    else groups.set(port, { mode: modeOf(p.destination), members: [p] });
  }
  return groups;
}

/** One frontend, one client timeout: the largest any of its routes asks for. */
function timeoutClientOf(group: TcpGroup): number | false {
  const timeouts = group.members.map((p) => p.destination.timeoutClient).filter((t): t is number => t !== undefined);
  return timeouts.length > 0 ? Math.max(...timeouts) : false;
}

export function srcPortName(d: Destination): string {
  return d.index === 0 ? 'srcPort' : `srcPort.${d.index}`;
}

function tcpFrontendView(port: number, group: TcpGroup, settings: Settings, aclNames: UniqueNames): TcpFrontendView {
  const bind = bindOf(settings, port);
  if (group.mode === 'tcp' && group.members.length === 1) {
    return {
      name: `tcpFE_${port}`,
      bind,
      mode: 'tcp',
      timeoutClient: timeoutClientOf(group),
      acls: [],
      useBackends: [],
      defaultBackend: group.members[0].backend,
      log: logView(settings, 'tcp'),
    };
  }
  // Several tcp services with domains, or sni services: the TLS server name picks the service.
  const acls: AclView[] = [];
  const useBackends: UseBackendView[] = [];
  let defaultBackend: string | false = false;
  for (const p of group.members) {
    // An sni destination without a domain catches whatever no other service on the port matched.
    if (p.destination.serviceDomain.length === 0) {
      defaultBackend = defaultBackend || p.backend;
      continue;
    }
    const name = aclNames.take(`sni_${p.route.aclName}${p.destination.port}${p.destination.index === 0 ? '' : `_${p.destination.index}`}`);
    acls.push(...sniAcls(name, p.destination.serviceDomain));
    useBackends.push({ backend: p.backend, condition: name });
  }
  return {
    name: group.mode === 'tcp' ? `tcpFE_${port}` : `sni_${port}`,
    bind,
    mode: group.mode,
    timeoutClient: timeoutClientOf(group),
    acls,
    useBackends,
    defaultBackend,
    log: logView(settings, 'tcp'),
  };
}

/** The access log of a frontend when DEBUG is on. */
function logView(settings: Settings, kind: 'http' | 'tcp'): LogView | false {
  const debug = settings.proxy.debug;
  if (!debug) return false;
  const format = kind === 'http' ? debug.httpFormat : debug.tcpFormat;
  return { format: format ?? false };
}

/** An `:ssl` bind: SNI picks from the crt-list, the default certificate answers the rest; HTTP/2 by ALPN. */
function sslBindOf(settings: Settings, port: number, tls: TlsFiles): string {
  const options = settings.tls.bindOptions === '' ? '' : ` ${settings.tls.bindOptions}`;
  // Client certificates are asked for, never required at the handshake (a bad one included):
  // routes with verifyClientSsl answer 403 without a valid one, the others do not care.
  const clients = settings.tls.caFile ? ` ca-file ${settings.tls.caFile} verify optional ca-ignore-err all crt-ignore-err all` : '';
  return `${bindOf(settings, port)} ssl crt ${tls.defaultCert} crt-list ${tls.crtList} alpn h2,http/1.1 ciphers ${settings.tls.ciphers}${options}${clients}`;
}

interface HttpFrontendPlan {
  readonly name: string;
  readonly binds: readonly string[];
  readonly skippedSslPorts: readonly number[];
  readonly stats: StatsView | false;
  /** EXTRA_FRONTEND lines: the main frontend's only. */
  readonly extraLines: readonly string[];
  readonly acmeChallengeMap: string | false;
}

/** The route maps of a frontend, or false when it routes by ACLs only. */
interface FrontendMaps {
  readonly files: RouteMapFiles;
  /** Filled with the frontend's map entries. */
  readonly out: MapFile[];
  /** Filled with the destinations entered in them, in order. */
  readonly mapped: MappedDestination[];
}

function httpFrontendView(
  http: readonly Placed[],
  plan: HttpFrontendPlan,
  settings: Settings,
  memo: Memo,
  maps: FrontendMaps | false = false,
): HttpFrontendView {
  const aclNames = new UniqueNames();
  const acls: AclView[] = [];
  const useBackends: UseBackendView[] = [];
  const lastUseBackends: UseBackendView[] = [];
  const mapBuilder = maps ? new RouteMapBuilder(maps.files) : undefined;
  // The rank is computed once per destination, not once per comparison: 10,000 routes sort fast.
  const ranked = http.map((placed): Ranked => ({ placed, rank: httpRank(placed.destination) })).sort(compareHttp);
  for (const { placed, rank } of ranked) {
    if (mapBuilder && isMappable(placed.destination, domainAlgoOf(placed.route, settings), placed.overTls)) {
      const keys = mapKeys(placed.destination);
      mapBuilder.add(keys, placed.backend);
      if (maps) maps.mapped.push({ route: placed.route, index: placed.destination.index, backend: placed.backend, keys });
      continue;
    }
    const entry = httpEntry(placed, aclNames, memo, settings);
    acls.push(...entry.acls);
    // With maps, a root path without a domain that keeps ACLs still comes after every mapped route.
    (mapBuilder && rank === 2 ? lastUseBackends : useBackends).push(entry.use);
  }
  const inMaps = mapBuilder !== undefined && !mapBuilder.empty;
  if (maps && mapBuilder && inMaps) {
    maps.out.push(...mapBuilder.build((file) => memo.previousMap(file)));
    memo.rememberMaps(maps.out);
  }
  const defaultRoute = http.find((p) => p.route.isDefaultBackend && !p.overTls);
  return {
    ...plan,
    redirects: redirectRules(http),
    acls,
    useBackends,
    routeMaps: maps && inMaps ? maps.files : false,
    lastUseBackends,
    defaultBackend: defaultRoute ? defaultRoute.backend : false,
    captures: settings.proxy.captureRequestHeaders,
    log: logView(settings, 'http'),
  };
}

function mainFrontendView(
  http: readonly Placed[],
  settings: Settings,
  stats: StatsView | false,
  tls: TlsFiles | false,
  memo: Memo,
  maps: FrontendMaps | false,
): HttpFrontendView {
  const frontendPorts = [...settings.defaultPorts, ...settings.bindPorts];
  return httpFrontendView(
    http,
    {
      name: 'services',
      binds: frontendPorts.map((p) => (!p.ssl ? bindOf(settings, p.port) : tls ? sslBindOf(settings, p.port, tls) : '')).filter((bind) => bind !== ''),
      skippedSslPorts: tls ? [] : frontendPorts.filter((p) => p.ssl).map((p) => p.port),
      stats: stats && stats.bind === false ? stats : false,
      extraLines: settings.proxy.extraFrontend,
      // HTTP-01 comes to the HTTP ports of DEFAULT_PORTS (80).
      acmeChallengeMap: settings.acme ? challengeMapFile(settings.stateDir) : false,
    },
    settings,
    memo,
    maps,
  );
}

/** http destinations with a srcPort are entered on that port (DFP's meaning): a frontend of its own per port. */
function portFrontendView(port: number, members: readonly Placed[], settings: Settings, memo: Memo): HttpFrontendView {
  return httpFrontendView(
    members,
    { name: `http_${port}`, binds: [bindOf(settings, port)], skippedSslPorts: [], stats: false, extraLines: [], acmeChallengeMap: false },
    settings,
    memo,
  );
}

/** Each serviceName after the one before it: sorted, and none twice. */
export function inStrictOrder(routes: readonly Route[]): boolean {
  for (let i = 1; i < routes.length; i++) if (compareText(routes[i - 1].serviceName, routes[i].serviceName) >= 0) return false;
  return true;
}

/**
 * `routes` by serviceName. An index of the same services (routes in serviceName order, so none
 * twice) is brought up to them in place: one changed route among 10,000 then costs no new map.
 */
export function routesByName(known: Map<string, Route> | undefined, routes: readonly Route[]): Map<string, Route> {
  if (!known || known.size !== routes.length || !inStrictOrder(routes) || !routes.every((route) => known.has(route.serviceName))) {
    return new Map(routes.map((route) => [route.serviceName, route]));
  }
  for (const route of routes) known.set(route.serviceName, route);
  return known;
}

/** The store has one route per serviceName; a caller's list might not, and names must not repeat. */
function uniqueServices(routes: readonly Route[], problems: InvalidRoute[]): Route[] {
  const seen = new Set<string>();
  return routes.filter((route) => {
    if (!seen.has(route.serviceName)) {
      seen.add(route.serviceName);
      return true;
    }
    problems.push({ serviceName: route.serviceName, reason: 'another route has the same serviceName' });
    return false;
  });
}

/**
 * Build the view; routes are taken in serviceName order so names and conflicts are stable. With a
 * memo, the parts of routes unchanged since an earlier build with the same settings are that
 * build's objects.
 */
export function buildView(routes: readonly Route[], settings: Settings, tls: TlsFiles | false = false, memo: Memo = NO_MEMO, useMaps = true): BuiltView {
  memo.useSettings(settings);
  const problems: InvalidRoute[] = [];
  const authRoutes = withUsers(servedInOrder(routes, problems), settings, problems);
  const sorted = authRoutes.map((a) => a.route);
  const users = new Map(authRoutes.map((a) => [a.route, a.users]));
  const globalList = settings.users.global.length > 0 ? [userlistView(GLOBAL_USERLIST, settings.users.global)] : [];
  const placed = placeAll(sorted);
  // The https_ copy of an http destination (httpsPort) is for the HTTPS binds; one with a srcPort has its port's frontend.
  const groups = [
    ...groupByPort(
      placed.filter((p) => !p.overTls),
      settings,
      problems,
    ).entries(),
  ].sort((a, b) => a[0] - b[0]);
  const onPort = new Set(groups.flatMap(([, group]) => group.members));
  const http = placed.filter((p) => p.destination.reqMode === 'http' && p.destination.srcPort === undefined);
  const sniNames = new UniqueNames();
  const tcpFrontends: TcpFrontendView[] = [];
  const httpPortFrontends: HttpFrontendView[] = [];
  for (const [port, group] of groups) {
    if (group.mode === 'http') httpPortFrontends.push(portFrontendView(port, group.members, settings, memo));
    else tcpFrontends.push(tcpFrontendView(port, { mode: group.mode, members: group.members }, settings, sniNames));
  }
  const served = (p: Placed): boolean => (p.destination.reqMode === 'http' && p.destination.srcPort === undefined) || onPort.has(p);
  const stats = statsView(settings);
  // The main frontend only: a srcPort frontend comes and goes with its routes, so its rules stay ACLs.
  const maps: FrontendMaps | false = useMaps ? { files: routeMapFiles(settings.stateDir), out: [], mapped: [] } : false;
  return {
    view: {
      timeouts: settings.timeouts,
      connectionMode: settings.proxy.connectionMode,
      extraGlobal: settings.proxy.extraGlobal,
      extraDefaults: settings.proxy.extraDefaults,
      log: settings.proxy.debug ? { errorsOnly: settings.proxy.debug.errorsOnly } : false,
      errorFiles: settings.proxy.errorFiles,
      resolvers: settings.haproxyResolvers.map((r, i) => ({ name: `dns${i}`, address: `${r.host}:${r.port}` })),
      userlists: [...globalList, ...routeUserlists(authRoutes, memo)],
      httpFrontend: mainFrontendView(http, settings, stats, tls, memo, maps),
      httpPortFrontends,
      tcpFrontends,
      backends: placed.filter(served).map((p) => memo.get(p.route, `backend${p.destination.index}`, p.backend, () => backendView(p, settings, users))),
      statsFrontend: stats && stats.bind !== false ? stats : false,
    },
    problems,
    maps: maps ? maps.out : [],
    mapped: maps && maps.out.length > 0 ? maps.mapped : [],
  };
}
