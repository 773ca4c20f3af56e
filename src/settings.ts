import * as path from 'path';
import { InvalidSetting } from './errors';
import type { Credential } from './route/route';
import { parseUserList, UserSource } from './route/users';
import { NAME } from './route/values';
import { EnvRoute, envRoutes } from './env-routes';
import { flagSetting, loadProxySettings, ProxySettings } from './proxy-settings';
import { readUserSecrets } from './user-secrets';

/**
 * The only reader of process.env. Every setting is an environment variable and a --kebab-case
 * flag (the flag wins). SETTING_DEFINITIONS is the single list the CLI's --help and the README
 * table are made from.
 */

export interface SettingDefinition {
  readonly env: string;
  readonly flag: string;
  readonly defaultText: string;
  readonly description: string;
}

/** Let's Encrypt's production directory: the CA automatic certificates come from unless ACME_DIRECTORY_URL says otherwise. */
export const LETSENCRYPT_PRODUCTION = 'https://acme-v02.api.letsencrypt.org/directory';

/** Mozilla's "intermediate" TLS 1.2 ciphers: forward secrecy and AEAD only. */
const DEFAULT_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

const def = (env: string, defaultText: string, description: string): SettingDefinition => ({
  env,
  flag: env.toLowerCase().replace(/_/g, '-'),
  defaultText,
  description,
});

export const SETTING_DEFINITIONS: readonly SettingDefinition[] = [
  def(
    'CONSUL_ADDRESS',
    '(unset)',
    'Comma-separated Consul HTTP addresses (host:port, http://host:port, https://host:port). Unset: the embedded file store in STATE_DIR.',
  ),
  def('CONSUL_TOKEN', '(unset)', 'Consul ACL token, sent as X-Consul-Token on every request.'),
  def('PROXY_INSTANCE_NAME', 'docker-flow', 'KV prefix: routes live under <PROXY_INSTANCE_NAME>/services/.'),
  def('SERVICE_NAME', 'proxy', "This proxy's own service name: peers are the A records of tasks.<SERVICE_NAME>."),
  def('DNS_SERVER', '(unset)', 'host:port of the DNS server for the peer lookup; unset: the system resolver.'),
  def('LISTEN_ADDRESS', '0.0.0.0:8080', 'Where the HTTP API listens (host:port). Peers are called on the same port.'),
  def('BIND_ADDRESS', '*', "The address HAProxy's frontends bind to."),
  def('DEFAULT_PORTS', '80,443:ssl', 'Comma-separated ports of the HTTP frontend (DFP syntax: 80,443:ssl). A :ssl port is bound once a certificate is stored.'),
  def('BIND_PORTS', '(unset)', 'More ports of the HTTP frontend beside DEFAULT_PORTS (DFP), same syntax, e.g. 8085,8086 or 8443:ssl.'),
  def(
    'DEFAULT_CERT',
    '(unset)',
    'Name of the certificate for TLS clients without SNI (or with a name no certificate has); unset: the first certificate by name.',
  ),
  def(
    'CERTS_DIR',
    '(unset)',
    'A folder of PEM files (chain and key) stored as certificates at start, e.g. /run/secrets: ' +
      'files named cert-<name> or cert_<name> (Docker secrets, as DFP), or <name>.pem.',
  ),
  def(
    'CA_FILE',
    '(unset)',
    'PEM file of the CAs whose client certificates the :ssl ports accept; routes with verifyClientSsl=true then answer 403 without a valid one.',
  ),
  def('BACKEND_CA_FILE', '(unset)', "PEM file of the CAs that sign the services' certificates, for routes with sslVerify=true; unset: the system's CAs."),
  def('SSL_BIND_OPTIONS', 'ssl-min-ver TLSv1.2', 'HAProxy bind options added to every :ssl port.'),
  def('SSL_BIND_CIPHERS', DEFAULT_CIPHERS, 'TLS 1.2 cipher list of the :ssl ports (TLS 1.3 uses its own safe defaults).'),
  def('STATE_DIR', './state', 'File store, rendered config, last-known-good config, HAProxy sockets and pid.'),
  def('TEMPLATES_DIR', "the package's templates/", 'Handlebars templates; edits are picked up live.'),
  def('HAPROXY_BIN', 'haproxy', 'The HAProxy executable.'),
  def('HAPROXY_CONFIG', '<STATE_DIR>/haproxy.cfg', 'Where the live config is written.'),
  def(
    'HAPROXY_MASTER_SOCKET',
    '(unset)',
    'Adopt an HAProxy started elsewhere (haproxy -W -S <socket> -f <HAPROXY_CONFIG>) and reload it through this master CLI socket.',
  ),
  def(
    'HAPROXY_RESOLVERS',
    '127.0.0.11:53',
    "Comma-separated host:port nameservers of HAProxy's `resolvers docker` section (Docker's embedded DNS by default).",
  ),
  def('TIMEOUT_CONNECT', '5', 'HAProxy timeout connect, seconds.'),
  def('TIMEOUT_CLIENT', '20', 'HAProxy timeout client, seconds.'),
  def('TIMEOUT_SERVER', '20', 'HAProxy timeout server, seconds.'),
  def('TIMEOUT_QUEUE', '30', 'HAProxy timeout queue, seconds.'),
  def('TIMEOUT_TUNNEL', '3600', 'HAProxy timeout tunnel, seconds.'),
  def('TIMEOUT_HTTP_REQUEST', '5', 'HAProxy timeout http-request, seconds.'),
  def('TIMEOUT_HTTP_KEEP_ALIVE', '15', 'HAProxy timeout http-keep-alive, seconds.'),
  def(
    'HARD_STOP_AFTER',
    '0',
    'Seconds after a reload when old HAProxy workers are stopped even if connections (websockets, tunnels) remain; 0 lets them drain on their own.',
  ),
  def(
    'STATS_USER',
    '(unset)',
    'HAProxy stats page user; the page is on when STATS_USER and STATS_PASS are set. Both `none`: the page is on without authentication (as DFP).',
  ),
  def('STATS_PASS', '(unset)', 'HAProxy stats page password.'),
  def('STATS_URI', '/admin?stats', 'HAProxy stats page URI.'),
  def(
    'STATS_PORT',
    '(unset)',
    "Serve the stats page (and /metrics, HAProxy's Prometheus exporter) on a frontend of its own on this port instead of the HTTP frontend.",
  ),
  def(
    'USERS',
    '(unset)',
    'Basic auth in front of every HTTP service (as DFP): comma-separated user:password, e.g. admin:s3cret,ops:other. ' +
      'Routes with users of their own, or with ignoreAuthorization=true, are not affected. The dfp_users file of SECRETS_DIR replaces it.',
  ),
  def('USERS_PASS_ENCRYPTED', 'false', 'true: the passwords of USERS (or dfp_users) are crypt(3) hashes, e.g. from mkpasswd -m sha-512.'),
  def(
    'SECRETS_DIR',
    '/run/secrets',
    'Docker secrets read at start: dfp_users (replaces USERS) and dfp_users_<name> (the users of routes with usersSecret=<name>), ' +
      'user:password separated by commas or lines.',
  ),
  def(
    'EXTRA_GLOBAL',
    '(unset)',
    'Lines added to the global section, separated by commas (DFP), e.g. "tune.ssl.default-dh-param 2048,maxconn 20000". Checked with haproxy -c at start.',
  ),
  def('EXTRA_DEFAULTS', '(unset)', 'Lines added to the defaults section, separated by commas, e.g. "option http-buffer-request".'),
  def(
    'EXTRA_FRONTEND',
    '(unset)',
    'Lines added to the HTTP frontend, separated by commas, e.g. "http-response set-header Strict-Transport-Security max-age=31536000".',
  ),
  def(
    'CAPTURE_REQUEST_HEADER',
    '(unset)',
    'Request headers the access log captures, Header-Name:length separated by commas, e.g. Host:15,X-Forwarded-For:20 (shown in {} in DEBUG lines).',
  ),
  def(
    'CONNECTION_MODE',
    'http-keep-alive',
    'HAProxy connection mode of every service: http-keep-alive, http-server-close (the service connection closes after each response) ' +
      'or httpclose (both sides); forceclose means httpclose.',
  ),
  def('SERVICE_DOMAIN_ALGO', 'hdr(host)', 'serviceDomainAlgo of routes that give none, e.g. hdr_dom(host) to match subdomains too.'),
  def('DEFAULT_REQ_MODE', 'http', 'reqMode stored with routes that give none (http, tcp or sni), e.g. tcp for a proxy of TCP services.'),
  def('HTTPS_ONLY', 'false', 'true: every http route redirects plain HTTP to HTTPS, as with httpsOnly=true.'),
  def('DEBUG', 'false', "true: HAProxy's access log, one line per request (HAProxy's httplog and tcplog formats), on the sidecar's stdout."),
  def('DEBUG_ERRORS_ONLY', 'false', 'true (with DEBUG): log only requests that failed: errors, timeouts, retries, redispatches and 5xx answers.'),
  def('DEBUG_HTTP_FORMAT', '(unset)', 'HAProxy log-format of HTTP requests (with DEBUG), as written, e.g. %ci\\ %ST\\ %r.'),
  def('DEBUG_TCP_FORMAT', '(unset)', 'HAProxy log-format of TCP connections (with DEBUG), as written, e.g. %ci\\ %B.'),
  def(
    'ERRORFILES_DIR',
    '(unset)',
    "A folder of error pages, <code>.http files (a full HTTP response, as DFP's /errorfiles), e.g. 503.http; unset: HAProxy's own pages.",
  ),
  def('API_USER', '(unset)', 'When API_USER and API_PASS are set, the /v1/ API requires HTTP basic auth.'),
  def('API_PASS', '(unset)', 'Password of the /v1/ API.'),
  def('LOG_LEVEL', 'info', 'Structured JSON logs on stdout: fatal, error, warn, info, debug, trace or silent.'),
  def(
    'RELOAD_QUIET_MS',
    '25',
    'Coalescing: a change that finds no reload running applies at once; changes that arrive during a reload apply once the store has been quiet this long.',
  ),
  def(
    'RELOAD_MAX_DELAY_MS',
    '500',
    'Coalescing: changes that arrive during a reload apply at the latest this long after the first of them, even if changes keep coming.',
  ),
  def(
    'RECONCILE_INTERVAL',
    '30',
    "Seconds between two comparisons of HAProxy's running worker (route maps, server addresses) with the files; what differs is logged, " +
      'counted and put back (Runtime API, else a reload). 0: off.',
  ),
  def(
    'DISTRIBUTE_TIMEOUT_MS',
    '10000',
    'How long reconfigure and remove wait for this replica (with distribute=true: every replica) to serve a stored change before answering 500.',
  ),
  def('REQUEST_TIMEOUT_MS', '5000', 'Timeout of one request to Consul (blocking watch queries add their wait) or to a peer.'),
  def(
    'ACME_EMAIL',
    '(unset)',
    'Contact e-mail of the ACME account. Setting it turns automatic certificates on: routes with letsencrypt=true get a certificate for their serviceDomains.',
  ),
  def('ACME_DIRECTORY_URL', LETSENCRYPT_PRODUCTION, "The ACME CA's directory (Let's Encrypt production by default; staging or any RFC 8555 CA works)."),
  def('ACME_CA_FILE', '(unset)', "PEM file of the CAs trusted for the ACME directory's HTTPS (a private CA); unset: Node's usual trust."),
  def('ACME_RENEW_BEFORE_DAYS', '30', 'An automatic certificate is renewed this many days before it expires.'),
];

/** The settings of the store: all that `routes` uses. */
export const STORE_SETTINGS: readonly string[] = ['CONSUL_ADDRESS', 'CONSUL_TOKEN', 'PROXY_INSTANCE_NAME', 'STATE_DIR', 'REQUEST_TIMEOUT_MS'];

/** The store's settings and those that shape the rendered haproxy.cfg: what `render` and `validate` use. */
export const CONFIG_SETTINGS: readonly string[] = [
  ...STORE_SETTINGS,
  'BIND_ADDRESS',
  'DEFAULT_PORTS',
  'SSL_BIND_OPTIONS',
  'SSL_BIND_CIPHERS',
  'DEFAULT_CERT',
  'CA_FILE',
  'BACKEND_CA_FILE',
  'TEMPLATES_DIR',
  'HAPROXY_BIN',
  'HAPROXY_RESOLVERS',
  'TIMEOUT_CONNECT',
  'TIMEOUT_CLIENT',
  'TIMEOUT_SERVER',
  'TIMEOUT_QUEUE',
  'TIMEOUT_TUNNEL',
  'TIMEOUT_HTTP_REQUEST',
  'TIMEOUT_HTTP_KEEP_ALIVE',
  'HARD_STOP_AFTER',
  'STATS_USER',
  'STATS_PASS',
  'STATS_URI',
  'STATS_PORT',
  'USERS',
  'USERS_PASS_ENCRYPTED',
  'SECRETS_DIR',
  'BIND_PORTS',
  'EXTRA_GLOBAL',
  'EXTRA_DEFAULTS',
  'EXTRA_FRONTEND',
  'CAPTURE_REQUEST_HEADER',
  'CONNECTION_MODE',
  'SERVICE_DOMAIN_ALGO',
  'DEFAULT_REQ_MODE',
  'HTTPS_ONLY',
  'DEBUG',
  'DEBUG_ERRORS_ONLY',
  'DEBUG_HTTP_FORMAT',
  'DEBUG_TCP_FORMAT',
  'ERRORFILES_DIR',
  'ACME_EMAIL',
];

/** HAProxy's master CLI socket in STATE_DIR, when the sidecar runs HAProxy itself. */
export const MASTER_SOCKET_NAME = 'master.sock';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface FrontendPort {
  readonly port: number;
  readonly ssl: boolean;
}

export interface Timeouts {
  readonly connect: number;
  readonly client: number;
  readonly server: number;
  readonly queue: number;
  readonly tunnel: number;
  readonly httpRequest: number;
  readonly httpKeepAlive: number;
  /** 0: old workers drain on their own. */
  readonly hardStopAfter: number;
}

export interface Credentials {
  readonly user: string;
  readonly pass: string;
}

export interface StatsSettings {
  /** Undefined: STATS_USER and STATS_PASS are both `none`, the page needs no authentication. */
  readonly auth?: Credentials;
  readonly uri: string;
  readonly port?: number;
}

export interface TlsSettings {
  readonly defaultCert?: string;
  readonly certsDir?: string;
  readonly caFile?: string;
  /** BACKEND_CA_FILE: what sslVerify routes verify their servers' certificates against; undefined: the system's CAs. */
  readonly backendCaFile?: string;
  readonly bindOptions: string;
  readonly ciphers: string;
}

/** Automatic certificates over ACME; absent (off) unless ACME_EMAIL is set. */
export interface AcmeSettings {
  readonly email: string;
  readonly directoryUrl: string;
  readonly caFile?: string;
  readonly renewBeforeDays: number;
}

export interface Settings {
  /** Normalized base URLs, e.g. `http://127.0.0.1:8500`; empty for the file store. */
  readonly consulAddresses: readonly string[];
  readonly consulToken?: string;
  readonly proxyInstanceName: string;
  readonly serviceName: string;
  readonly dnsServer?: HostPort;
  readonly listen: HostPort;
  readonly bindAddress: string;
  readonly defaultPorts: readonly FrontendPort[];
  /** BIND_PORTS: more ports of the HTTP frontend. */
  readonly bindPorts: readonly FrontendPort[];
  readonly tls: TlsSettings;
  /** DFP's environment that shapes haproxy.cfg (EXTRA_*, DEBUG, CONNECTION_MODE, ...). */
  readonly proxy: ProxySettings;
  readonly stateDir: string;
  readonly templatesDir: string;
  readonly haproxyBin: string;
  readonly haproxyConfig: string;
  readonly haproxyMasterSocket?: string;
  readonly haproxyResolvers: readonly HostPort[];
  readonly timeouts: Timeouts;
  readonly stats?: StatsSettings;
  readonly apiAuth?: Credentials;
  /** DFP_SERVICE_* variables: routes stored at start. */
  readonly envRoutes: readonly EnvRoute[];
  /** USERS, SECRETS_DIR's user files: basic auth of the HTTP services. */
  readonly users: UserSource;
  readonly secretsDir: string;
  readonly logLevel: string;
  readonly reloadQuietMs: number;
  readonly reloadMaxDelayMs: number;
  /** RECONCILE_INTERVAL in ms; 0: no reconciliation. */
  readonly reconcileIntervalMs: number;
  readonly distributeTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly acme?: AcmeSettings;
}

/** Values by environment variable name; flags are mapped to the same names before this. */
export type RawSettings = Readonly<Record<string, string | undefined>>;

export const DEFAULT_TEMPLATES_DIR = path.resolve(__dirname, '..', 'templates');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function text(raw: RawSettings, name: string): string | undefined {
  const value = raw[name];
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function integer(raw: RawSettings, name: string, fallback: number, min: number, max: number): number {
  const value = text(raw, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new InvalidSetting(name, `"${value}" is not a whole number`);
  const n = Number(value);
  if (n < min || n > max) throw new InvalidSetting(name, `${n} is outside ${min}..${max}`);
  return n;
}

function port(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidSetting(name, `"${value}" is not a port number`);
  const n = Number(value);
  if (n < 1 || n > 65535) throw new InvalidSetting(name, `port ${n} is outside 1..65535`);
  return n;
}

export function parseHostPort(name: string, value: string, defaultPort?: number): HostPort {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed) {
    const portText = bracketed[2] ?? (defaultPort !== undefined ? String(defaultPort) : undefined);
    if (portText === undefined) throw new InvalidSetting(name, `"${value}" has no port`);
    return { host: bracketed[1], port: port(name, portText) };
  }
  const colon = value.lastIndexOf(':');
  if (colon < 0) {
    if (defaultPort === undefined) throw new InvalidSetting(name, `"${value}" is not host:port`);
    return { host: value, port: defaultPort };
  }
  const host = value.slice(0, colon);
  if (host === '' || /[\s/]/.test(host)) throw new InvalidSetting(name, `"${value}" is not host:port`);
  return { host, port: port(name, value.slice(colon + 1)) };
}

/** `host:port`, `http://host:port`, `https://host:port/` -> `http(s)://host:port`. */
export function parseConsulAddress(value: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new InvalidSetting('CONSUL_ADDRESS', `"${value}" is not a valid address`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidSetting('CONSUL_ADDRESS', `"${value}": only http and https are supported`);
  }
  if (url.pathname !== '/' && url.pathname !== '') {
    throw new InvalidSetting('CONSUL_ADDRESS', `"${value}": an address must not have a path`);
  }
  const defaultPort = url.protocol === 'https:' ? '443' : '8500';
  return `${url.protocol}//${url.hostname.includes(':') && !url.hostname.startsWith('[') ? `[${url.hostname}]` : url.hostname}:${url.port || defaultPort}`;
}

function parsePorts(value: string, name = 'DEFAULT_PORTS'): FrontendPort[] {
  return value
    .split(',')
    .filter((item) => item.trim() !== '' || name === 'DEFAULT_PORTS')
    .map((item) => {
      const [portText, option, ...rest] = item.trim().split(':');
      if (rest.length > 0 || (option !== undefined && option !== 'ssl')) {
        throw new InvalidSetting(name, `"${item}" is not PORT or PORT:ssl`);
      }
      return { port: port(name, portText), ssl: option === 'ssl' };
    });
}

/** BIND_PORTS beside DEFAULT_PORTS: a port in both would be bound twice. */
function bindPorts(raw: RawSettings, defaultPorts: readonly FrontendPort[]): FrontendPort[] {
  const value = text(raw, 'BIND_PORTS');
  if (value === undefined) return [];
  const ports = parsePorts(value, 'BIND_PORTS');
  const twice = ports.find((p) => defaultPorts.some((d) => d.port === p.port));
  if (twice) throw new InvalidSetting('BIND_PORTS', `port ${twice.port} is already in DEFAULT_PORTS`);
  return ports;
}

function credentials(raw: RawSettings, userName: string, passName: string): Credentials | undefined {
  const user = text(raw, userName);
  const pass = text(raw, passName);
  if (user === undefined || pass === undefined) return undefined;
  if (/[\s:]/.test(user)) throw new InvalidSetting(userName, 'must not contain spaces or ":"');
  if (/\s/.test(pass)) throw new InvalidSetting(passName, 'must not contain spaces');
  return { user, pass };
}

function stats(raw: RawSettings): StatsSettings | undefined {
  const creds = credentials(raw, 'STATS_USER', 'STATS_PASS');
  if (!creds) return undefined;
  const open = creds.user.toLowerCase() === 'none' && creds.pass.toLowerCase() === 'none';
  const uri = text(raw, 'STATS_URI') ?? '/admin?stats';
  if (!uri.startsWith('/') || /\s/.test(uri)) throw new InvalidSetting('STATS_URI', 'must start with / and have no spaces');
  const portText = text(raw, 'STATS_PORT');
  return { auth: open ? undefined : creds, uri, port: portText === undefined ? undefined : port('STATS_PORT', portText) };
}

function bindAddress(raw: RawSettings): string {
  const value = text(raw, 'BIND_ADDRESS') ?? '*';
  if (!/^[A-Za-z0-9.:*[\]-]+$/.test(value)) throw new InvalidSetting('BIND_ADDRESS', `"${value}" is not an address`);
  return value;
}

/** USERS, or the dfp_users secret that replaces it, and the dfp_users_<name> secrets. */
function users(raw: RawSettings, secretsDir: string): UserSource {
  const secrets = readUserSecrets(secretsDir);
  const encrypted = flagSetting(raw, 'USERS_PASS_ENCRYPTED');
  const usersText = text(raw, 'USERS');
  const listed = secrets.global ?? (usersText === undefined ? [] : parseUsersSetting(usersText));
  const global = listed.map((u): Credential => ({ name: u.name, password: u.password ?? '', encrypted }));
  return { global, secrets: secrets.byName };
}

/** The value is a secret: an error names the variable and the user, never the text. */
function parseUsersSetting(value: string) {
  try {
    return parseUserList('USERS', value, true);
  } catch (error) {
    throw new InvalidSetting('USERS', (error as Error).message.replace(/^USERS: /, ''));
  }
}

function word(raw: RawSettings, name: string, fallback: string, pattern: RegExp): string {
  const value = text(raw, name) ?? fallback;
  if (!pattern.test(value)) throw new InvalidSetting(name, `"${value}" has characters that are not allowed`);
  return value;
}

/** A file haproxy.cfg names: one word there, so only these characters; resolved against `cwd`. */
function configPath(raw: RawSettings, name: string, cwd: string): string | undefined {
  const value = text(raw, name);
  if (value === undefined) return undefined;
  if (!/^[A-Za-z0-9._/@+-]+$/.test(value)) throw new InvalidSetting(name, 'may only contain letters, digits and ._/@+-');
  return path.resolve(cwd, value);
}

function tlsSettings(raw: RawSettings, cwd: string): TlsSettings {
  const defaultCert = text(raw, 'DEFAULT_CERT');
  const certsDir = text(raw, 'CERTS_DIR');
  const caFile = configPath(raw, 'CA_FILE', cwd);
  return {
    defaultCert: defaultCert === undefined ? undefined : word(raw, 'DEFAULT_CERT', defaultCert, NAME),
    certsDir: certsDir === undefined ? undefined : path.resolve(cwd, certsDir),
    caFile,
    backendCaFile: configPath(raw, 'BACKEND_CA_FILE', cwd),
    bindOptions: word(raw, 'SSL_BIND_OPTIONS', 'ssl-min-ver TLSv1.2', /^[A-Za-z0-9 ._:,+/-]*$/),
    ciphers: word(raw, 'SSL_BIND_CIPHERS', DEFAULT_CIPHERS, /^[A-Za-z0-9:_+!.-]+$/),
  };
}

function acmeSettings(raw: RawSettings, cwd: string): AcmeSettings | undefined {
  const email = text(raw, 'ACME_EMAIL');
  if (email === undefined) return undefined;
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw new InvalidSetting('ACME_EMAIL', `"${email}" is not an e-mail address`);
  const directoryUrl = text(raw, 'ACME_DIRECTORY_URL') ?? LETSENCRYPT_PRODUCTION;
  let url: URL;
  try {
    url = new URL(directoryUrl);
  } catch {
    throw new InvalidSetting('ACME_DIRECTORY_URL', `"${directoryUrl}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InvalidSetting('ACME_DIRECTORY_URL', 'must be an https (or http) URL');
  const caFile = text(raw, 'ACME_CA_FILE');
  return {
    email,
    directoryUrl,
    caFile: caFile === undefined ? undefined : path.resolve(cwd, caFile),
    renewBeforeDays: integer(raw, 'ACME_RENEW_BEFORE_DAYS', 30, 1, 365),
  };
}

export function loadSettings(raw: RawSettings = process.env, cwd: string = process.cwd()): Settings {
  const secretsDir = path.resolve(cwd, text(raw, 'SECRETS_DIR') ?? '/run/secrets');
  const stateDir = path.resolve(cwd, text(raw, 'STATE_DIR') ?? './state');
  const defaultPorts = parsePorts(text(raw, 'DEFAULT_PORTS') ?? '80,443:ssl');
  const consul = text(raw, 'CONSUL_ADDRESS');
  const dns = text(raw, 'DNS_SERVER');
  const logLevel = text(raw, 'LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new InvalidSetting('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  const socket = text(raw, 'HAPROXY_MASTER_SOCKET');
  const reloadQuietMs = integer(raw, 'RELOAD_QUIET_MS', 25, 0, 60000);
  const reloadMaxDelayMs = integer(raw, 'RELOAD_MAX_DELAY_MS', 500, 0, 600000);
  if (reloadMaxDelayMs < reloadQuietMs) throw new InvalidSetting('RELOAD_MAX_DELAY_MS', 'must not be less than RELOAD_QUIET_MS');
  return {
    consulAddresses: consul
      ? consul
          .split(',')
          .map((a) => a.trim())
          .filter((a) => a !== '')
          .map(parseConsulAddress)
      : [],
    consulToken: text(raw, 'CONSUL_TOKEN'),
    proxyInstanceName: word(raw, 'PROXY_INSTANCE_NAME', 'docker-flow', NAME),
    serviceName: word(raw, 'SERVICE_NAME', 'proxy', NAME),
    dnsServer: dns ? parseHostPort('DNS_SERVER', dns, 53) : undefined,
    listen: parseHostPort('LISTEN_ADDRESS', text(raw, 'LISTEN_ADDRESS') ?? '0.0.0.0:8080'),
    bindAddress: bindAddress(raw),
    defaultPorts,
    bindPorts: bindPorts(raw, defaultPorts),
    tls: tlsSettings(raw, cwd),
    proxy: loadProxySettings(raw, cwd),
    stateDir,
    templatesDir: path.resolve(cwd, text(raw, 'TEMPLATES_DIR') ?? DEFAULT_TEMPLATES_DIR),
    haproxyBin: text(raw, 'HAPROXY_BIN') ?? 'haproxy',
    haproxyConfig: path.resolve(cwd, text(raw, 'HAPROXY_CONFIG') ?? path.join(stateDir, 'haproxy.cfg')),
    haproxyMasterSocket: socket ? path.resolve(cwd, socket) : undefined,
    haproxyResolvers: (text(raw, 'HAPROXY_RESOLVERS') ?? '127.0.0.11:53').split(',').map((s) => parseHostPort('HAPROXY_RESOLVERS', s.trim(), 53)),
    timeouts: {
      connect: integer(raw, 'TIMEOUT_CONNECT', 5, 0, 86400),
      client: integer(raw, 'TIMEOUT_CLIENT', 20, 0, 86400),
      server: integer(raw, 'TIMEOUT_SERVER', 20, 0, 86400),
      queue: integer(raw, 'TIMEOUT_QUEUE', 30, 0, 86400),
      tunnel: integer(raw, 'TIMEOUT_TUNNEL', 3600, 0, 86400 * 7),
      httpRequest: integer(raw, 'TIMEOUT_HTTP_REQUEST', 5, 0, 86400),
      httpKeepAlive: integer(raw, 'TIMEOUT_HTTP_KEEP_ALIVE', 15, 0, 86400),
      hardStopAfter: integer(raw, 'HARD_STOP_AFTER', 0, 0, 86400 * 7),
    },
    stats: stats(raw),
    apiAuth: credentials(raw, 'API_USER', 'API_PASS'),
    envRoutes: envRoutes(raw),
    users: users(raw, secretsDir),
    secretsDir,
    logLevel,
    reloadQuietMs,
    reloadMaxDelayMs,
    reconcileIntervalMs: integer(raw, 'RECONCILE_INTERVAL', 30, 0, 86400) * 1000,
    distributeTimeoutMs: integer(raw, 'DISTRIBUTE_TIMEOUT_MS', 10000, 100, 600000),
    requestTimeoutMs: integer(raw, 'REQUEST_TIMEOUT_MS', 5000, 100, 600000),
    acme: acmeSettings(raw, cwd),
  };
}

/** sun_path is 108 bytes on Linux, the last one a NUL. */
const MAX_SOCKET_PATH = 107;
/** HAProxy binds a UNIX socket as `<path>.<pid>.tmp` and renames it: room for a 7-digit pid. */
const HAPROXY_BIND_SUFFIX = '.1234567.tmp'.length;

/**
 * What `serve` needs beyond loadSettings: the UNIX socket paths it will use must fit in a socket
 * address, or HAProxy fails to start with a message that names no setting.
 */
export function checkServeSettings(settings: Settings): void {
  if (settings.haproxyMasterSocket !== undefined) {
    if (Buffer.byteLength(settings.haproxyMasterSocket) > MAX_SOCKET_PATH) {
      throw new InvalidSetting(
        'HAPROXY_MASTER_SOCKET',
        `"${settings.haproxyMasterSocket}" is longer than the ${MAX_SOCKET_PATH} bytes a UNIX socket path may have`,
      );
    }
    return;
  }
  const socket = path.join(settings.stateDir, MASTER_SOCKET_NAME);
  const max = MAX_SOCKET_PATH - HAPROXY_BIND_SUFFIX - (socket.length - settings.stateDir.length);
  if (Buffer.byteLength(settings.stateDir) > max) {
    throw new InvalidSetting(
      'STATE_DIR',
      `"${settings.stateDir}" is too long: HAProxy's master socket goes in it, and a UNIX socket path has room for a STATE_DIR of at most ${max} bytes`,
    );
  }
}
