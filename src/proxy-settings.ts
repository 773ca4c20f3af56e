import * as fs from 'fs';
import * as path from 'path';
import { InvalidSetting } from './errors';
import type { ReqMode } from './route/route';
import { SERVICE_DOMAIN_ALGOS } from './route/values';

/**
 * DFP's environment that shapes haproxy.cfg beyond routes and ports: extra lines for the global,
 * defaults and frontend sections, captured headers, the connection mode, defaults of route
 * parameters, access logs, error pages. Parsed from the raw settings by settings.ts (still the
 * only reader of process.env); every value is checked here for what can be checked without
 * HAProxy, and the sidecar runs `haproxy -c` on the free-form ones at start (proxy-settings-check.ts).
 */

export interface CapturedHeader {
  readonly name: string;
  readonly length: number;
}

export interface DebugSettings {
  /** DEBUG_ERRORS_ONLY: only requests that failed (errors, timeouts, retries, 5xx). */
  readonly errorsOnly: boolean;
  /** DEBUG_HTTP_FORMAT / DEBUG_TCP_FORMAT: HAProxy log-format strings, as written. */
  readonly httpFormat?: string;
  readonly tcpFormat?: string;
}

export interface ErrorFile {
  readonly code: number;
  readonly file: string;
}

export interface ProxySettings {
  readonly extraGlobal: readonly string[];
  readonly extraDefaults: readonly string[];
  readonly extraFrontend: readonly string[];
  readonly captureRequestHeaders: readonly CapturedHeader[];
  /** The `option` of the defaults section: http-keep-alive, http-server-close or httpclose. */
  readonly connectionMode: string;
  /** serviceDomainAlgo of routes that do not give one. */
  readonly serviceDomainAlgo: string;
  /** reqMode of routes stored without one. */
  readonly defaultReqMode: ReqMode;
  /** Every http route redirects plain HTTP to HTTPS, as if it had httpsOnly=true. */
  readonly httpsOnly: boolean;
  /** DEBUG: HAProxy's access log on the sidecar's stdout; undefined: no access log. */
  readonly debug?: DebugSettings;
  /** `<code>.http` files of ERRORFILES_DIR. */
  readonly errorFiles: readonly ErrorFile[];
}

type Raw = Readonly<Record<string, string | undefined>>;

/** Status codes HAProxy 2.6 accepts an errorfile for. */
const ERROR_CODES = [200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504];
const CONNECTION_MODES = ['http-keep-alive', 'http-server-close', 'httpclose', 'forceclose'];
const REQ_MODES: readonly ReqMode[] = ['http', 'tcp', 'sni'];
const HEADER_NAME = /^[A-Za-z0-9!&*+.^_`|~-]+$/;

function text(raw: Raw, name: string): string | undefined {
  const value = raw[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** `true`/`false` as DFP reads them (any case); unset is false. */
export function flagSetting(raw: Raw, name: string): boolean {
  const value = text(raw, name)?.toLowerCase();
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  throw new InvalidSetting(name, `"${value}" is not true or false`);
}

/** A config line: printable ASCII only, so a value can never start a section of its own. */
function configText(name: string, value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) throw new InvalidSetting(name, 'may only contain printable ASCII characters (no line breaks)');
  return value;
}

/** DFP separates the lines of EXTRA_* with commas; line breaks are taken too. */
function extraLines(raw: Raw, name: string): string[] {
  const value = raw[name];
  if (value === undefined) return [];
  return value
    .split(/[,\r\n]/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => configText(name, line));
}

/** `Host:15,X-Forwarded-For:20` -> `capture request header Host len 15` ... */
function capturedHeaders(raw: Raw): CapturedHeader[] {
  const value = text(raw, 'CAPTURE_REQUEST_HEADER');
  if (value === undefined) return [];
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
    .map((item) => {
      const match = /^([^:\s]+):(\d{1,5})$/.exec(item);
      if (!match || !HEADER_NAME.test(match[1]) || Number(match[2]) < 1) {
        throw new InvalidSetting('CAPTURE_REQUEST_HEADER', `"${item}" is not Header-Name:length (e.g. Host:15)`);
      }
      return { name: match[1], length: Number(match[2]) };
    });
}

function connectionMode(raw: Raw): string {
  const value = text(raw, 'CONNECTION_MODE') ?? 'http-keep-alive';
  if (value === 'http-tunnel') throw new InvalidSetting('CONNECTION_MODE', 'http-tunnel is gone from HAProxy 2; use http-keep-alive (the default)');
  if (!CONNECTION_MODES.includes(value)) throw new InvalidSetting('CONNECTION_MODE', `"${value}" is not one of ${CONNECTION_MODES.join(', ')}`);
  // HAProxy 2 replaced forceclose by httpclose, which now closes both sides after the response.
  return value === 'forceclose' ? 'httpclose' : value;
}

function oneOf<T extends string>(raw: Raw, name: string, fallback: T, allowed: readonly T[]): T {
  const value = text(raw, name) ?? fallback;
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new InvalidSetting(name, `"${value}" is not one of ${allowed.join(', ')}`);
  return found;
}

function debugSettings(raw: Raw): DebugSettings | undefined {
  const errorsOnly = flagSetting(raw, 'DEBUG_ERRORS_ONLY');
  const httpFormat = text(raw, 'DEBUG_HTTP_FORMAT');
  const tcpFormat = text(raw, 'DEBUG_TCP_FORMAT');
  if (!flagSetting(raw, 'DEBUG')) return undefined;
  return {
    errorsOnly,
    httpFormat: httpFormat === undefined ? undefined : configText('DEBUG_HTTP_FORMAT', httpFormat),
    tcpFormat: tcpFormat === undefined ? undefined : configText('DEBUG_TCP_FORMAT', tcpFormat),
  };
}

/** The `<code>.http` files of the folder; other files are not error pages and are left alone. */
function errorFiles(raw: Raw, cwd: string): ErrorFile[] {
  const value = text(raw, 'ERRORFILES_DIR');
  if (value === undefined) return [];
  const dir = path.resolve(cwd, value);
  // Each path goes into haproxy.cfg as one word.
  if (!/^[A-Za-z0-9._/@+-]+$/.test(dir)) throw new InvalidSetting('ERRORFILES_DIR', 'may only contain letters, digits and ._/@+-');
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    throw new InvalidSetting('ERRORFILES_DIR', `cannot read ${dir}: ${(error as Error).message}`);
  }
  return names
    .filter((name) => name.endsWith('.http'))
    .sort()
    .map((name) => {
      const code = Number(name.slice(0, -'.http'.length));
      if (!ERROR_CODES.includes(code)) throw new InvalidSetting('ERRORFILES_DIR', `${name}: HAProxy has error pages for ${ERROR_CODES.join(', ')} only`);
      return { code, file: path.join(dir, name) };
    });
}

export function loadProxySettings(raw: Raw, cwd: string): ProxySettings {
  return {
    extraGlobal: extraLines(raw, 'EXTRA_GLOBAL'),
    extraDefaults: extraLines(raw, 'EXTRA_DEFAULTS'),
    extraFrontend: extraLines(raw, 'EXTRA_FRONTEND'),
    captureRequestHeaders: capturedHeaders(raw),
    connectionMode: connectionMode(raw),
    serviceDomainAlgo: oneOf(raw, 'SERVICE_DOMAIN_ALGO', 'hdr(host)', SERVICE_DOMAIN_ALGOS),
    defaultReqMode: oneOf(raw, 'DEFAULT_REQ_MODE', 'http', REQ_MODES),
    httpsOnly: flagSetting(raw, 'HTTPS_ONLY'),
    debug: debugSettings(raw),
    errorFiles: errorFiles(raw, cwd),
  };
}
