import { createPrivateKey, KeyObject, X509Certificate } from 'crypto';
import { InvalidParameter } from '../errors';
import { checkName } from '../route/values';

/**
 * A certificate as HAProxy gets it: one PEM with the leaf certificate first, then its chain, then
 * the private key. Only this module looks inside the PEM; everything else carries `pem` as an
 * opaque secret and shows `info`, which never holds anything about the key.
 */

/** What may be shown of a certificate (GET /certs, logs, metrics): never the key. */
export interface CertificateInfo {
  readonly name: string;
  readonly subject: string;
  readonly issuer: string;
  /** subjectAltName entries as the certificate has them, e.g. `DNS:example.com`. */
  readonly sans: readonly string[];
  readonly notBefore: string;
  /** ISO 8601. */
  readonly notAfter: string;
  /** SHA-256 fingerprint of the leaf certificate: tells two versions of one name apart. */
  readonly fingerprint: string;
}

export interface Certificate {
  readonly name: string;
  /** Leaf, chain, key; each block ends with a newline. A secret: never log it or send it. */
  readonly pem: string;
  readonly info: CertificateInfo;
}

export interface ParseOptions {
  /** Refuse a certificate whose notAfter has passed (the input gate does; the applier does not). */
  readonly rejectExpired: boolean;
  readonly now?: Date;
}

/** The parameter that validation errors name. */
const BODY = 'cert';
const MAX_PEM_BYTES = 1024 * 1024;

/**
 * PEM blocks, in order. node:crypto reads one certificate from a PEM and ignores the rest, and
 * offers no way to split a bundle into its chain; this regex (RFC 7468's "strict" encapsulation
 * boundaries) is all the splitting needs.
 */
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;
const KEY_LABELS = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);
/** Blocks some tools add that HAProxy reads or ignores; kept out of our normalized PEM. */
const IGNORED_LABELS = new Set(['EC PARAMETERS', 'DH PARAMETERS']);

/** A certificate name: the store key and the file name (`<name>.pem`). */
export function parseCertName(value: string | undefined): string {
  if (value === undefined || value === '') throw new InvalidParameter('certName', 'is required');
  const name = checkName('certName', value);
  if (name.startsWith('.')) throw new InvalidParameter('certName', 'may not start with "."');
  return name;
}

/**
 * Validate a PEM bundle and normalize it (leaf first, chain, key). Throws InvalidParameter
 * naming `cert` and saying which check failed: the PEM does not parse, the key does not match
 * the certificate, or the certificate has expired. Messages never quote the PEM.
 */
export function parseCertificate(name: string, text: string, options: ParseOptions): Certificate {
  if (Buffer.byteLength(text) > MAX_PEM_BYTES) throw new InvalidParameter(BODY, `does not parse: larger than ${MAX_PEM_BYTES} bytes`);
  const { certificates, keys } = splitBlocks(text);
  if (certificates.length === 0) throw new InvalidParameter(BODY, 'does not parse: no PEM CERTIFICATE block');
  if (keys.length === 0) throw new InvalidParameter(BODY, 'does not parse: no PEM PRIVATE KEY block (the PEM must hold the certificate chain and its key)');
  if (keys.length > 1) throw new InvalidParameter(BODY, 'does not parse: more than one private key');
  const chain = certificates.map((block, position) => readCertificate(block, position));
  const key = readKey(keys[0]);
  const leaf = chain[0];
  if (!leaf.checkPrivateKey(key)) throw new InvalidParameter(BODY, 'the private key does not match the certificate (the first CERTIFICATE block)');
  const info = describe(name, leaf);
  const now = options.now ?? new Date();
  if (options.rejectExpired && Date.parse(info.notAfter) <= now.getTime()) {
    throw new InvalidParameter(BODY, `the certificate has expired (notAfter ${info.notAfter})`);
  }
  return { name, pem: [...certificates, keys[0]].map((block) => `${block}\n`).join(''), info };
}

/** Seconds until the certificate expires; negative once it has. */
export function secondsToExpiry(info: CertificateInfo, now: Date = new Date()): number {
  return Math.floor((Date.parse(info.notAfter) - now.getTime()) / 1000);
}

function splitBlocks(text: string): { certificates: string[]; keys: string[] } {
  const certificates: string[] = [];
  const keys: string[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    const label = match[1];
    const block = match[0].replace(/\r\n/g, '\n');
    if (label === 'CERTIFICATE') certificates.push(block);
    else if (KEY_LABELS.has(label)) keys.push(block);
    else if (label === 'ENCRYPTED PRIVATE KEY') throw new InvalidParameter(BODY, 'does not parse: the private key is encrypted (HAProxy needs it unencrypted)');
    else if (!IGNORED_LABELS.has(label)) throw new InvalidParameter(BODY, `does not parse: unexpected PEM block "${label}"`);
  }
  return { certificates, keys };
}

function readCertificate(block: string, position: number): X509Certificate {
  try {
    return new X509Certificate(block);
  } catch (error) {
    throw new InvalidParameter(BODY, `does not parse: CERTIFICATE block ${position + 1}: ${(error as Error).message}`);
  }
}

function readKey(block: string): KeyObject {
  try {
    return createPrivateKey(block);
  } catch {
    // OpenSSL's message may quote key material in some versions: say what failed, not why.
    throw new InvalidParameter(BODY, 'does not parse: the private key is not a valid PEM key');
  }
}

function describe(name: string, leaf: X509Certificate): CertificateInfo {
  return {
    name,
    // Node gives no subject at all for an empty one, which ACME CAs issue (the names are in subjectAltName).
    subject: oneLine(leaf.subject ?? ''),
    issuer: oneLine(leaf.issuer),
    sans: (leaf.subjectAltName ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ''),
    notBefore: new Date(leaf.validFrom).toISOString(),
    notAfter: new Date(leaf.validTo).toISOString(),
    fingerprint: leaf.fingerprint256,
  };
}

/** `C=DE\nCN=example.com` -> `C=DE, CN=example.com`. */
function oneLine(distinguishedName: string): string {
  return distinguishedName
    .split('\n')
    .filter((part) => part !== '')
    .join(', ');
}
