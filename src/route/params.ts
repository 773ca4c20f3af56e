import { InvalidParameter, RouteConflict } from '../errors';
import { Destination, ReqMode, Route, RouteParams, User } from './route';
import {
  PATH_TYPES,
  REQUEST_HEADER_FETCHES,
  RESPONSE_HEADER_FETCHES,
  SERVICE_DOMAIN_ALGOS,
  booleanValue,
  checkDomain,
  checkHeaderName,
  checkHeaderValue,
  checkHostname,
  checkName,
  checkServiceName,
  checkPassword,
  checkPath,
  checkRegex,
  checkReplacement,
  checkUserName,
  csv,
  numberInRange,
  oneOf,
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
] as const;

/** Parameters of the whole route (never suffixed). */
const ROUTE_PARAMS = [
  'serviceName',
  'aclName',
  'serviceDomainAlgo',
  'users',
  'usersPassEncrypted',
  'timeoutServer',
  'timeoutTunnel',
  'isDefaultBackend',
  'verifyClientSsl',
  'sslVerifyNone',
  'addReqHeader',
  'setReqHeader',
  'delReqHeader',
  'addResHeader',
  'setResHeader',
  'delResHeader',
] as const;

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
  const params: Record<string, string> = Object.create(null);
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
  const params: Record<string, string> = Object.create(null);
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new InvalidParameter(arg, 'is not name=value (e.g. serviceName=go-demo)');
    params[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  return params;
}

/** Reads one parameter (with its suffix) from the normalized params. */
class ParamReader {
  constructor(
    private readonly params: RouteParams,
    private readonly suffix: string,
  ) {}

  name(base: string): string {
    return `${base}${this.suffix}`;
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
}

function suffixOf(index: number): string {
  return index === 0 ? '' : `.${index}`;
}

/**
 * `outboundHostname` of the unsuffixed parameters is the default of every index: the
 * destinations of one service almost always live on the same host.
 */
function parseDestination(params: RouteParams, index: number): Destination | undefined {
  const read = new ParamReader(params, suffixOf(index));
  const port = read.port('port');
  if (port === undefined) {
    rejectOrphans(read);
    return undefined;
  }
  const reqMode = oneOf(read.name('reqMode'), read.text('reqMode') ?? 'http', ['http', 'tcp', 'sni']) as ReqMode;
  const srcPort = read.port('srcPort');
  if (reqMode !== 'http' && srcPort === undefined) {
    throw new InvalidParameter(read.name('srcPort'), `is required when ${read.name('reqMode')} is ${reqMode}`);
  }
  const pathType = oneOf(read.name('pathType'), read.text('pathType') ?? 'path_beg', PATH_TYPES);
  const search = read.text('reqPathSearch');
  const replace = read.text('reqPathReplace');
  return {
    index,
    port,
    srcPort,
    reqMode,
    servicePath: csv(read.text('servicePath')).map((p) => checkPath(read.name('servicePath'), p, pathType)),
    serviceDomain: csv(read.text('serviceDomain')).map((d) => checkDomain(read.name('serviceDomain'), d)),
    pathType,
    outboundHostname: optional(read, 'outboundHostname', checkHostname) ?? inheritedHostname(params, index),
    httpsOnly: read.bool('httpsOnly'),
    redirectWhenHttpProto: read.bool('redirectWhenHttpProto'),
    ...pathRewrite(read, search, replace),
  };
}

function inheritedHostname(params: RouteParams, index: number): string | undefined {
  return index === 0 ? undefined : optional(new ParamReader(params, ''), 'outboundHostname', checkHostname);
}

function optional(read: ParamReader, base: string, check: (name: string, value: string) => string): string | undefined {
  const value = read.text(base);
  return value === undefined ? undefined : check(read.name(base), value);
}

/** Search and replace only make sense together. */
function pathRewrite(read: ParamReader, search?: string, replace?: string): Pick<Destination, 'reqPathSearch' | 'reqPathReplace'> {
  if (search === undefined && replace === undefined) return {};
  if (search === undefined) throw new InvalidParameter(read.name('reqPathSearch'), `is required with ${read.name('reqPathReplace')}`);
  return {
    reqPathSearch: checkRegex(read.name('reqPathSearch'), search),
    reqPathReplace: checkReplacement(read.name('reqPathReplace'), replace ?? ''),
  };
}

/** Parameters of an index whose port is missing would silently do nothing: say so instead. */
function rejectOrphans(read: ParamReader): void {
  for (const base of DESTINATION_PARAMS) {
    if (read.text(base) !== undefined) {
      throw new InvalidParameter(read.name('port'), `is required because ${read.name(base)} is given`);
    }
  }
}

function parseUsers(params: RouteParams): User[] {
  return csv(params.users).map((entry) => {
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new InvalidParameter('users', 'must be user:password');
    return {
      name: checkUserName('users', entry.slice(0, colon)),
      password: checkPassword('users', entry.slice(colon + 1)),
    };
  });
}

/** `Name value` csv: the name is a header token, the value text the template quotes. */
function headersWithValue(params: RouteParams, name: string, fetches: readonly string[]): string[] {
  return csv(params[name]).map((entry) => {
    const space = entry.search(/\s/);
    if (space < 0) throw new InvalidParameter(name, 'must be "Header-Name value"');
    const header = checkHeaderName(name, entry.slice(0, space));
    return `${header} ${checkHeaderValue(name, entry.slice(space + 1).trim(), fetches)}`;
  });
}

function headerNames(params: RouteParams, name: string): string[] {
  return csv(params[name]).map((header) => checkHeaderName(name, header));
}

function timeout(params: RouteParams, name: string): number | undefined {
  const value = params[name];
  return value === undefined ? undefined : numberInRange(name, value, 0, MAX_TIMEOUT_SECONDS);
}

function parseDestinations(params: RouteParams): Destination[] {
  const destinations: Destination[] = [];
  for (let index = 0; index <= MAX_DESTINATION_INDEX; index++) {
    const destination = parseDestination(params, index);
    if (destination) destinations.push(destination);
  }
  if (destinations.length === 0) throw new InvalidParameter('port', 'is required');
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
  return {
    serviceName,
    aclName,
    serviceDomainAlgo: oneOf('serviceDomainAlgo', params.serviceDomainAlgo ?? 'hdr(host)', SERVICE_DOMAIN_ALGOS),
    destinations: parseDestinations(params),
    users: parseUsers(params),
    usersPassEncrypted: read.bool('usersPassEncrypted'),
    timeoutServer: timeout(params, 'timeoutServer'),
    timeoutTunnel: timeout(params, 'timeoutTunnel'),
    isDefaultBackend: read.bool('isDefaultBackend'),
    verifyClientSsl: read.bool('verifyClientSsl'),
    sslVerifyNone: read.bool('sslVerifyNone'),
    addReqHeader: headersWithValue(params, 'addReqHeader', REQUEST_HEADER_FETCHES),
    setReqHeader: headersWithValue(params, 'setReqHeader', REQUEST_HEADER_FETCHES),
    delReqHeader: headerNames(params, 'delReqHeader'),
    addResHeader: headersWithValue(params, 'addResHeader', RESPONSE_HEADER_FETCHES),
    setResHeader: headersWithValue(params, 'setResHeader', RESPONSE_HEADER_FETCHES),
    delResHeader: headerNames(params, 'delResHeader'),
    params,
  };
}
