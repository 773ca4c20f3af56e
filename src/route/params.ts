import { InvalidParameter, RouteConflict } from '../errors';
import { Destination, PathRewrite, ReqMode, Route, RouteParams } from './route';
import { emptyRecord } from './record';
import { parseUserList } from './users';
import {
  PATH_TYPES,
  SERVICE_DOMAIN_ALGOS,
  booleanValue,
  checkDomain,
  checkHeaderName,
  checkHeaderValue,
  checkHostname,
  checkName,
  checkServiceName,
  checkMethod,
  checkPath,
  checkRegex,
  checkReplacement,
  csv,
  numberInRange,
  oneOf,
  printable,
} from './values';

/**
 * The only gate for untrusted route parameters (API requests, store entries, CLI arguments).
 * Everything that reaches haproxy.cfg is either checked against a strict character set here or quoted by the templates
 * in a way these checks make safe (see values.ts).
 */

/** Parameters of one destination; `.1` ... `.10` suffixes give more destinations. */
const DESTINATION_PARAMS = [
  'port',
  'srcPort',
  'reqMode',
  'servicePath',
  'serviceDomain',
  'pathType',
  'outboundHostname',
  'httpsOnly',
  'redirectWhenHttpProto',
  'reqPathSearch',
  'reqPathReplace',
  'reqPathSearchReplace',
  'allowedMethods',
  'deniedMethods',
  'denyHttp',
  'serviceHeader',
  'userAgent',
  'servicePathExclude',
  'redirectFromDomain',
  'httpsRedirectCode',
  'httpsPort',
  'timeoutClient',
  'checkTcp',
  'timeoutServer',
  'timeoutTunnel',
  'verifyClientSsl',
  'sslVerifyNone',
  'sslVerify',
  'ignoreAuthorization',
] as const;

/** Any of these given with a suffix makes a destination of that index (as in DFP). */
const DESTINATION_MARKERS = ['port', 'servicePath', 'serviceDomain', 'httpsPort'] as const;

/** Parameters of the whole route (never suffixed). */
const ROUTE_PARAMS = [
  'serviceName',
  'aclName',
  'serviceDomainAlgo',
  'users',
  'usersPassEncrypted',
  'usersSecret',
  'isDefaultBackend',
  'letsencrypt',
  'addReqHeader',
  'setReqHeader',
  'delReqHeader',
  'addResHeader',
  'setResHeader',
  'delResHeader',
  'addHeader',
  'setHeader',
  'serviceDomainMatchAll',
  'backendExtra',
  'checkResolvers',
  'compressionAlgo',
  'compressionType',
  'connectionMode',
  'sessionType',
  'replicas',
] as const;

/** The parameters a route may hold, suffixed or not: everything else is ignored (ignored.ts). */
export function isRouteParameter(name: string): boolean {
  return ACCEPTED.has(name);
}

export const MAX_DESTINATION_INDEX = 10;
const MAX_VALUE_LENGTH = 4096;
const MAX_TIMEOUT_SECONDS = 7 * 86400;

const ACCEPTED = new Set<string>(acceptedNames());

function acceptedNames(): string[] {
  const names: string[] = [...ROUTE_PARAMS, ...DESTINATION_PARAMS];
  for (let i = 1; i <= MAX_DESTINATION_INDEX; i++) {
    for (const name of DESTINATION_PARAMS) names.push(`${name}.${i}`);
  }
  return names;
}

/** One raw value as a string: express gives string | string[] | object, KV JSON may hold numbers. */
export function rawText(name: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.length === 1) return rawText(name, value[0]);
  if (Array.isArray(value)) throw new InvalidParameter(name, 'is given more than once');
  throw new InvalidParameter(name, 'must be a string');
}

/**
 * The accepted parameters of `input` as trimmed, non-empty strings; unknown names (e.g.
 * `distribute`) are dropped. This is also what the store keeps: one JSON object of strings per route.
 */
export function normalizeParams(input: Readonly<Record<string, unknown>>): RouteParams {
  // Null prototype: whatever names arrive, none can reach Object.prototype.
  const params = emptyRecord<string>();
  for (const name of Object.keys(input)) {
    if (!ACCEPTED.has(name)) continue;
    const text = rawText(name, input[name]);
    if (text === undefined) continue;
    if (text.length > MAX_VALUE_LENGTH) throw new InvalidParameter(name, `is longer than ${MAX_VALUE_LENGTH} characters`);
    const trimmed = text.trim();
    if (trimmed !== '') params[name] = trimmed;
  }
  return params;
}

/**
 * The serviceName of `remove?serviceName=X` (or `routes remove X`): the same rules as in a
 * route, so a name that could be stored can always be removed.
 */
export function parseServiceName(input: unknown): string {
  const text = rawText('serviceName', input)?.trim();
  if (text === undefined || text === '') throw new InvalidParameter('serviceName', 'is required');
  return checkServiceName('serviceName', text);
}

/**
 * `name=value` arguments (the `routes add` CLI) -> a parameter object for parseRoute.
 * An argument without `=` names the parameter it is meant for in the error.
 */
export function paramsFromArgs(args: readonly string[]): Record<string, string> {
  const params = emptyRecord<string>();
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new InvalidParameter(arg, 'is not name=value (e.g. serviceName=go-demo)');
    params[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  return params;
}

/**
 * Reads the parameters of one destination. As in DFP, an unsuffixed parameter is the default of
 * every index: `serviceDomain=shop.test&servicePath.1=/api&port.1=9000` serves /api on shop.test.
 */
class ParamReader {
  constructor(
    private readonly params: RouteParams,
    private readonly suffix: string,
  ) {}

  /** The name the value of `base` comes from: the suffixed one, or the unsuffixed default. */
  name(base: string): string {
    const own = `${base}${this.suffix}`;
    return this.params[own] === undefined && this.params[base] !== undefined ? base : own;
  }

  text(base: string): string | undefined {
    return this.params[this.name(base)];
  }

  bool(base: string): boolean {
    const value = this.text(base);
    return value === undefined ? false : booleanValue(this.name(base), value);
  }

  port(base: string): number | undefined {
    const value = this.text(base);
    return value === undefined ? undefined : numberInRange(this.name(base), value, 1, 65535);
  }

  list(base: string): string[] {
    return csv(this.text(base));
  }
}

function suffixOf(index: number): string {
  return index === 0 ? '' : `.${index}`;
}

function hasOwn(params: RouteParams, index: number, bases: readonly string[]): boolean {
  return bases.some((base) => params[`${base}${suffixOf(index)}`] !== undefined);
}

function parseDestination(params: RouteParams, index: number): Destination {
  const read = new ParamReader(params, suffixOf(index));
  const port = read.port('port');
  if (port === undefined) throw new InvalidParameter(read.name('port'), 'is required');
  const reqMode = oneOf(read.name('reqMode'), read.text('reqMode') ?? 'http', ['http', 'tcp', 'sni']) as ReqMode;
  const srcPort = read.port('srcPort');
  if (reqMode !== 'http' && srcPort === undefined) {
    throw new InvalidParameter(read.name('srcPort'), `is required when ${read.name('reqMode')} is ${reqMode}`);
  }
  const pathType = oneOf(read.name('pathType'), read.text('pathType') ?? 'path_beg', PATH_TYPES);
  return {
    index,
    port,
    srcPort,
    reqMode,
    servicePath: read.list('servicePath').map((p) => checkPath(read.name('servicePath'), p, pathType)),
    serviceDomain: read.list('serviceDomain').map((d) => checkDomain(read.name('serviceDomain'), d)),
    pathType,
    outboundHostname: optional(read, 'outboundHostname', checkHostname),
    httpsOnly: read.bool('httpsOnly'),
    redirectWhenHttpProto: read.bool('redirectWhenHttpProto'),
    pathRewrites: pathRewrites(read),
    allowedMethods: read.list('allowedMethods').map((m) => checkMethod(read.name('allowedMethods'), m)),
    deniedMethods: read.list('deniedMethods').map((m) => checkMethod(read.name('deniedMethods'), m)),
    denyHttp: read.bool('denyHttp'),
    serviceHeader: serviceHeaders(read),
    userAgent: read.list('userAgent').map((agent) => printable(read.name('userAgent'), agent)),
    servicePathExclude: read.list('servicePathExclude').map((p) => checkPath(read.name('servicePathExclude'), p, pathType)),
    redirectFromDomain: read.list('redirectFromDomain').map((d) => checkDomain(read.name('redirectFromDomain'), d)),
    httpsRedirectCode: redirectCode(read),
    httpsPort: read.port('httpsPort'),
    timeoutClient: optionalNumber(read, 'timeoutClient', 0, MAX_TIMEOUT_SECONDS),
    checkTcp: read.bool('checkTcp'),
    timeoutServer: optionalNumber(read, 'timeoutServer', 0, MAX_TIMEOUT_SECONDS),
    timeoutTunnel: optionalNumber(read, 'timeoutTunnel', 0, MAX_TIMEOUT_SECONDS),
    verifyClientSsl: read.bool('verifyClientSsl'),
    sslVerifyNone: read.bool('sslVerifyNone'),
    sslVerify: sslVerify(read),
    ignoreAuthorization: read.bool('ignoreAuthorization'),
  };
}

/** TLS to the servers with their certificates verified: the opposite of sslVerifyNone, so never both. */
function sslVerify(read: ParamReader): boolean {
  const verify = read.bool('sslVerify');
  if (verify && read.bool('sslVerifyNone')) {
    throw new InvalidParameter(
      read.name('sslVerify'),
      `cannot be combined with ${read.name('sslVerifyNone')}: one verifies the servers' certificates, the other does not`,
    );
  }
  return verify;
}

/** DFP's `X-Version:3,name:viktor`: every header must be present with exactly that value. */
function serviceHeaders(read: ParamReader): { readonly name: string; readonly value: string }[] {
  const parameter = read.name('serviceHeader');
  return read.list('serviceHeader').map((entry) => {
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new InvalidParameter(parameter, `${JSON.stringify(entry)} is not Header-Name:value`);
    return { name: checkHeaderName(parameter, entry.slice(0, colon).trim()), value: printable(parameter, entry.slice(colon + 1).trim()) };
  });
}

const REDIRECT_CODES = ['301', '302', '303', '307', '308'] as const;

function redirectCode(read: ParamReader): number | undefined {
  const value = read.text('httpsRedirectCode');
  return value === undefined ? undefined : Number(oneOf(read.name('httpsRedirectCode'), value, REDIRECT_CODES));
}

function optionalNumber(read: ParamReader, base: string, min: number, max: number): number | undefined {
  const value = read.text(base);
  return value === undefined ? undefined : numberInRange(read.name(base), value, min, max);
}

function optional(read: ParamReader, base: string, check: (name: string, value: string) => string): string | undefined {
  const value = read.text(base);
  return value === undefined ? undefined : check(read.name(base), value);
}

/**
 * `reqPathSearch`+`reqPathReplace` (one pair) and DFP's `reqPathSearchReplace=s,r:s2,r2` (pairs
 * split at `:`, search and replacement at the first `,`), applied in that order.
 */
function pathRewrites(read: ParamReader): PathRewrite[] {
  const rewrites: PathRewrite[] = [];
  const search = read.text('reqPathSearch');
  const replace = read.text('reqPathReplace');
  if (search !== undefined || replace !== undefined) {
    if (search === undefined) throw new InvalidParameter(read.name('reqPathSearch'), `is required with ${read.name('reqPathReplace')}`);
    rewrites.push({
      search: checkRegex(read.name('reqPathSearch'), search),
      replace: checkReplacement(read.name('reqPathReplace'), replace ?? ''),
    });
  }
  const name = read.name('reqPathSearchReplace');
  for (const pair of (read.text('reqPathSearchReplace') ?? '').split(':').filter((p) => p !== '')) {
    const comma = pair.indexOf(',');
    if (comma <= 0) throw new InvalidParameter(name, `${JSON.stringify(pair)} is not search,replace`);
    rewrites.push({ search: checkRegex(name, pair.slice(0, comma)), replace: printable(name, pair.slice(comma + 1)) });
  }
  return rewrites;
}

/** Suffixed parameters of an index that has no destination would silently do nothing: say so instead. */
function rejectOrphans(params: RouteParams, index: number): void {
  for (const base of DESTINATION_PARAMS) {
    if (params[`${base}${suffixOf(index)}`] !== undefined) {
      throw new InvalidParameter(`port${suffixOf(index)}`, `is required because ${base}${suffixOf(index)} is given`);
    }
  }
}

/** `Name value` csv: the name is a header token, the value goes into the config as written. */
function headersWithValue(params: RouteParams, name: string): string[] {
  return csv(params[name]).map((entry) => {
    const space = entry.search(/\s/);
    if (space < 0) throw new InvalidParameter(name, 'must be "Header-Name value"');
    const header = checkHeaderName(name, entry.slice(0, space));
    return `${header} ${checkHeaderValue(name, entry.slice(space + 1).trim())}`;
  });
}

function headerNames(params: RouteParams, name: string): string[] {
  return csv(params[name]).map((header) => checkHeaderName(name, header));
}

/**
 * The domains an automatic certificate (`letsencrypt=true`) is for: every serviceDomain of the
 * route's http destinations, without a port, lower case, each once. HTTP-01 proves control of one
 * name by answering on it, so a wildcard cannot be proved, and a route without a domain has
 * nothing to prove.
 */
function acmeDomains(params: RouteParams, destinations: readonly Destination[]): readonly string[] {
  if (!new ParamReader(params, '').bool('letsencrypt')) return [];
  const domains = new Set<string>();
  for (const d of destinations) {
    if (d.reqMode !== 'http') continue;
    for (const domain of d.serviceDomain) {
      if (domain.startsWith('*')) {
        throw new InvalidParameter('letsencrypt', `cannot get a certificate for the wildcard domain "${domain}": HTTP-01 cannot prove a wildcard`);
      }
      domains.add(domain.replace(/:\d+$/, '').toLowerCase());
    }
  }
  if (domains.size === 0) throw new InvalidParameter('letsencrypt', 'needs a serviceDomain on an http destination: the certificate is for its domains');
  return [...domains].sort();
}

/**
 * The destinations: every index 1..10 with its own port, servicePath or serviceDomain; without
 * any, the unsuffixed parameters alone (as in DFP, they are only defaults once an index exists).
 */
function parseDestinations(params: RouteParams): Destination[] {
  const destinations: Destination[] = [];
  for (let index = 1; index <= MAX_DESTINATION_INDEX; index++) {
    if (hasOwn(params, index, DESTINATION_MARKERS)) destinations.push(parseDestination(params, index));
    else rejectOrphans(params, index);
  }
  if (destinations.length === 0) destinations.push(parseDestination(params, 0));
  for (const d of destinations) {
    if (d.reqMode === 'http' && d.servicePath.length === 0 && d.serviceDomain.length === 0) {
      throw new RouteConflict(`servicePath${suffixOf(d.index)} or serviceDomain${suffixOf(d.index)} is required for an http route`);
    }
  }
  return destinations;
}

/**
 * Untrusted parameters (an express query object or a KV JSON value) -> a validated Route.
 * Throws InvalidParameter naming the offending parameter, or RouteConflict for an http
 * destination with neither servicePath nor serviceDomain. `parseRoute(route.params)` gives an
 * equal route.
 */
export function parseRoute(input: Readonly<Record<string, unknown>>): Route {
  const params = normalizeParams(input);
  if (params.serviceName === undefined) throw new InvalidParameter('serviceName', 'is required');
  const serviceName = checkServiceName('serviceName', params.serviceName);
  const aclName = params.aclName === undefined ? serviceName : checkName('aclName', params.aclName);
  const read = new ParamReader(params, '');
  const destinations = parseDestinations(params);
  return {
    serviceName,
    aclName,
    serviceDomainAlgo: domainAlgo(params),
    destinations,
    acmeDomains: acmeDomains(params, destinations),
    users: params.users === undefined ? [] : parseUserList('users', params.users, false),
    usersPassEncrypted: read.bool('usersPassEncrypted'),
    usersSecret: params.usersSecret === undefined ? undefined : checkName('usersSecret', params.usersSecret),
    isDefaultBackend: read.bool('isDefaultBackend'),
    // addHeader and setHeader: DFP's older names, used when the new one is not given.
    addReqHeader: headersWithValue(params, params.addReqHeader === undefined && params.addHeader !== undefined ? 'addHeader' : 'addReqHeader'),
    setReqHeader: headersWithValue(params, params.setReqHeader === undefined && params.setHeader !== undefined ? 'setHeader' : 'setReqHeader'),
    delReqHeader: headerNames(params, 'delReqHeader'),
    addResHeader: headersWithValue(params, 'addResHeader'),
    setResHeader: headersWithValue(params, 'setResHeader'),
    delResHeader: headerNames(params, 'delResHeader'),
    backendExtra: params.backendExtra === undefined ? undefined : printable('backendExtra', params.backendExtra),
    checkResolvers: read.bool('checkResolvers'),
    compressionAlgo: tokens(params, 'compressionAlgo', COMPRESSION_ALGOS),
    compressionType: compressionTypes(params),
    connectionMode: connectionMode(params),
    sessionType: params.sessionType === undefined ? undefined : oneOf('sessionType', params.sessionType, ['sticky-server']),
    replicas: params.replicas === undefined ? undefined : numberInRange('replicas', params.replicas, 0, MAX_REPLICAS),
    params,
  };
}

/** serviceDomainMatchAll=true: DFP's older way to say serviceDomainAlgo=hdr_dom(host). */
function domainAlgo(params: RouteParams): string {
  if (params.serviceDomainAlgo !== undefined) return oneOf('serviceDomainAlgo', params.serviceDomainAlgo, SERVICE_DOMAIN_ALGOS);
  const matchAll = params.serviceDomainMatchAll !== undefined && booleanValue('serviceDomainMatchAll', params.serviceDomainMatchAll);
  return matchAll ? 'hdr_dom(host)' : 'hdr(host)';
}

const COMPRESSION_ALGOS = ['identity', 'gzip', 'deflate', 'raw-deflate'] as const;
/** Server slots of a sticky service when `replicas` does not say (each address of the name fills one). */
const MAX_REPLICAS = 100;

/** DFP passes these as HAProxy's space-separated lists; commas are accepted too. */
function csvOrSpaced(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(/[\s,]+/).filter((item) => item !== '');
}

function tokens<T extends string>(params: RouteParams, name: string, allowed: readonly T[]): T[] {
  return csvOrSpaced(params[name]).map((item) => oneOf(name, item, allowed));
}

function compressionTypes(params: RouteParams): string[] {
  if (params.compressionType !== undefined && params.compressionAlgo === undefined) {
    throw new InvalidParameter('compressionAlgo', 'is required with compressionType (e.g. gzip)');
  }
  return csvOrSpaced(params.compressionType).map((type) => matchingMime('compressionType', type));
}

function matchingMime(parameter: string, value: string): string {
  if (!/^[A-Za-z0-9!#$&^_.+*-]+\/[A-Za-z0-9!#$&^_.+*-]+$/.test(value)) {
    throw new InvalidParameter(parameter, `${JSON.stringify(value)} is not a MIME type such as text/html`);
  }
  return value;
}

/**
 * DFP's connection modes. HAProxy 2 dropped `forceclose` and `http-tunnel`: the first is `httpclose`
 * now, the second has no equivalent (HTTP is always analysed), so it is refused with the reason.
 */
function connectionMode(params: RouteParams): string | undefined {
  const value = params.connectionMode;
  if (value === undefined) return undefined;
  if (value === 'forceclose') return 'httpclose';
  if (value === 'http-tunnel')
    throw new InvalidParameter('connectionMode', 'http-tunnel does not exist in HAProxy 2 (use http-keep-alive, http-server-close or httpclose)');
  return oneOf('connectionMode', value, ['http-keep-alive', 'http-server-close', 'httpclose']);
}
