import { InvalidParameter } from '../errors';

/**
 * Checks for single parameter values. The rule behind each: a value goes into haproxy.cfg either
 * as a bare word (then it may only hold characters HAProxy never splits or interprets) or as a
 * quoted string produced by render/quote.ts (then it must be printable ASCII: no CR/LF or other
 * control characters, which no quoting can carry). Each check returns the value it accepted.
 */

export const PATH_TYPES = ['path_beg', 'path', 'path_dir', 'path_end', 'path_reg', 'path_sub'] as const;
export const SERVICE_DOMAIN_ALGOS = ['hdr(host)', 'hdr_beg(host)', 'hdr_end(host)', 'hdr_dom(host)', 'hdr_sub(host)', 'hdr_reg(host)'] as const;

const PRINTABLE = /^[\x20-\x7e]+$/;
/** A service (and ACL, proxy instance) name: safe as a bare word in haproxy.cfg, a KV key and a file entry. */
export const NAME = /^[A-Za-z0-9_.-]+$/;
const HOSTNAME = NAME;
const DOMAIN = /^\*?[A-Za-z0-9_.-]+(:\d{1,5})?$/;
const HEADER_NAME = /^[A-Za-z0-9!&*+.^_`|~-]+$/;
const USER_NAME = /^[A-Za-z0-9_.@-]+$/;
const MAX_NAME_LENGTH = 200;
const TRUE_WORDS = ['1', 't', 'true'];
const FALSE_WORDS = ['0', 'f', 'false'];

export function csv(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function describe(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
}

function matching(parameter: string, value: string, pattern: RegExp, allowed: string): string {
  if (!pattern.test(value)) throw new InvalidParameter(parameter, `${describe(value)} may only contain ${allowed}`);
  return value;
}

/** Text that will be quoted: printable ASCII only (control characters cannot be quoted). */
export function printable(parameter: string, value: string): string {
  return matching(parameter, value, PRINTABLE, 'printable ASCII characters (no control characters)');
}

export function checkName(parameter: string, value: string): string {
  if (value.length > MAX_NAME_LENGTH) throw new InvalidParameter(parameter, `is longer than ${MAX_NAME_LENGTH} characters`);
  return matching(parameter, value, NAME, 'letters, digits, "_", "." and "-"');
}

/**
 * A serviceName becomes a file name (a map or certificate file beside the config) and a Consul
 * key segment: `.` and `..` would name a directory, so a name of dots alone is refused.
 */
export function checkServiceName(parameter: string, value: string): string {
  checkName(parameter, value);
  if (/^\.+$/.test(value)) throw new InvalidParameter(parameter, `${describe(value)} must contain a letter, digit, "_" or "-"`);
  return value;
}

export function checkHostname(parameter: string, value: string): string {
  return matching(parameter, value, HOSTNAME, 'letters, digits, "_", "." and "-"');
}

/** `example.com`, `example.com:8080`, or `*example.com` (matches by suffix). */
export function checkDomain(parameter: string, value: string): string {
  if (value === '*') throw new InvalidParameter(parameter, '"*" needs a domain suffix after it');
  return matching(parameter, value, DOMAIN, 'a host name, optionally with a leading "*" and a ":port"');
}

export function checkHeaderName(parameter: string, value: string): string {
  return matching(parameter, value, HEADER_NAME, 'header name characters (letters, digits, "-", "_", ...)');
}

/**
 * A header value goes into the config as written, as DFP does: HAProxy's own syntax is the
 * feature (`on if { ssl_fc }`, `%[env(HOSTNAME)]`), and `haproxy -c` judges the rest. Only what
 * could end the config line is refused here.
 */
export function checkHeaderValue(parameter: string, value: string): string {
  return printable(parameter, value);
}

/** An HTTP method (a token): `GET`, `DELETE`, or an extension method. */
export function checkMethod(parameter: string, value: string): string {
  return matching(parameter, value, HEADER_NAME, 'method characters (letters, digits, "-", ...)');
}

export function checkUserName(parameter: string, value: string): string {
  return matching(parameter, value, USER_NAME, 'letters, digits, "_", ".", "@" and "-"');
}

/** Never echoes the value: a password must not reach a reply or a log, even a refused one. */
export function checkPassword(parameter: string, value: string): string {
  if (value === '') throw new InvalidParameter(parameter, 'the password is empty');
  if (!PRINTABLE.test(value)) throw new InvalidParameter(parameter, 'a password may only contain printable ASCII characters (no control characters)');
  return value;
}

export function booleanValue(parameter: string, value: string): boolean {
  const lower = value.toLowerCase();
  if (TRUE_WORDS.includes(lower)) return true;
  if (FALSE_WORDS.includes(lower)) return false;
  throw new InvalidParameter(parameter, `${describe(value)} is not true or false`);
}

export function numberInRange(parameter: string, value: string, min: number, max: number): number {
  if (!/^\d{1,10}$/.test(value)) throw new InvalidParameter(parameter, `${describe(value)} is not a whole number`);
  const n = Number(value);
  if (n < min || n > max) throw new InvalidParameter(parameter, `${n} is outside ${min}..${max}`);
  return n;
}

export function oneOf<T extends string>(parameter: string, value: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new InvalidParameter(parameter, `${describe(value)} is not one of ${allowed.join(', ')}`);
  return found;
}

/**
 * A regular expression for HAProxy's PCRE. Only HAProxy knows what its PCRE accepts (lookbehind,
 * possessive quantifiers, `\-`), so the candidate check (`haproxy -c`) judges it; here only what
 * no quoting can carry is refused.
 */
export function checkRegex(parameter: string, value: string): string {
  return printable(parameter, value);
}

/** The replacement of reqPathSearch: text with `\1`-style back-references; `%` is literal. */
export function checkReplacement(parameter: string, value: string): string {
  if (value === '') throw new InvalidParameter(parameter, 'is required with reqPathSearch');
  return printable(parameter, value);
}

/** A servicePath item. Paths are matched literally, except with pathType path_reg. */
export function checkPath(parameter: string, value: string, pathType: string): string {
  if (pathType === 'path_reg') return checkRegex(parameter, value);
  matching(parameter, value, /^[\x21-\x7e]+$/, 'printable ASCII characters without spaces');
  if ((pathType === 'path_beg' || pathType === 'path') && !value.startsWith('/')) {
    throw new InvalidParameter(parameter, `${describe(value)} must start with "/"`);
  }
  return value;
}
