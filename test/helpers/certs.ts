import { execFileSync } from 'child_process';
import { X509Certificate } from 'crypto';
import * as fs from 'fs';
import * as http2 from 'http2';
import * as https from 'https';
import * as net from 'net';
import * as path from 'path';
import * as tls from 'tls';
import { tempDir } from './tmp';

/**
 * Certificates made by Debian's `openssl` for tests: a CA, leaf certificates for names (signed by
 * the CA, so a client that trusts the CA verifies them), an expired one, a mismatched key.
 * EC P-256 keys: fast to make.
 */

export interface TestCa {
  readonly name: string;
  /** The CA certificate (PEM): what a test client trusts. */
  readonly cert: string;
  readonly certPath: string;
  readonly keyPath: string;
}

export interface TestCert {
  /** Leaf certificate only (PEM). */
  readonly cert: string;
  /** Its private key (PEM). */
  readonly key: string;
  /** What the API takes: leaf, CA, key. */
  readonly pem: string;
  /** SHA-256 fingerprint as Node prints it (`AB:CD:...`). */
  readonly fingerprint: string;
}

export interface IssueOptions {
  /** Days from now until notAfter; negative makes an expired certificate. Default 30. */
  readonly days?: number;
  /** Common name; default the first DNS name; '' for an empty subject (as ACME CAs issue now). */
  readonly commonName?: string;
}

const OPENSSL = process.env.OPENSSL_BIN ?? 'openssl';

function openssl(args: readonly string[], cwd: string): void {
  execFileSync(OPENSSL, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(dir: string, file: string): string {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file], dir);
  return path.join(dir, file);
}

let serial = 0;

export function createCa(name = 'haproxy-sidecar test CA'): TestCa {
  const dir = tempDir('test-ca-');
  const keyPath = newKey(dir, 'ca.key');
  const certPath = path.join(dir, 'ca.crt');
  openssl(['req', '-x509', '-new', '-key', keyPath, '-out', certPath, '-days', '3650', '-subj', `/CN=${name}`], dir);
  return { name, cert: fs.readFileSync(certPath, 'utf8'), certPath, keyPath };
}

/** A leaf certificate for `names` (subjectAltName DNS entries; IP entries for addresses), signed by `ca`. */
export function issueCert(ca: TestCa, names: readonly string[], options: IssueOptions = {}): TestCert {
  const dir = tempDir('test-cert-');
  const keyPath = newKey(dir, 'leaf.key');
  const commonName = options.commonName ?? names[0];
  openssl(['req', '-new', '-key', keyPath, '-out', 'leaf.csr', '-subj', commonName === '' ? '/' : `/CN=${commonName}`], dir);
  fs.writeFileSync(path.join(dir, 'leaf.ext'), `subjectAltName=${names.map((name) => (net.isIP(name) ? `IP:${name}` : `DNS:${name}`)).join(',')}\n`);
  serial += 1;
  const serialHex = `${Date.now().toString(16)}${serial.toString(16).padStart(4, '0')}`;
  // `-days -1` is accepted and makes notAfter lie before notBefore: an expired certificate.
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      ca.certPath,
      '-CAkey',
      ca.keyPath,
      '-set_serial',
      `0x${serialHex}`,
      '-days',
      String(options.days ?? 30),
      '-extfile',
      'leaf.ext',
      '-out',
      'leaf.crt',
    ],
    dir,
  );
  const cert = fs.readFileSync(path.join(dir, 'leaf.crt'), 'utf8');
  const key = fs.readFileSync(keyPath, 'utf8');
  fs.rmSync(dir, { recursive: true, force: true });
  return { cert, key, pem: `${cert}${ca.cert}${key}`, fingerprint: new X509Certificate(cert).fingerprint256 };
}

/** A certificate for `names` bundled with the key of another certificate. */
export function mismatchedPem(ca: TestCa, names: readonly string[]): string {
  const cert = issueCert(ca, names);
  const other = issueCert(ca, names);
  return `${cert.cert}${other.key}`;
}

export interface Presented {
  /** Common name of the certificate the server presented. */
  readonly commonName: string;
  /** Its subjectAltName, e.g. `DNS:a.test, DNS:b.test` ('' when none). */
  readonly altNames: string;
  readonly fingerprint: string;
  readonly alpn: string | false;
  readonly authorized: boolean;
  /** The TLS version agreed, e.g. `TLSv1.3`. */
  readonly protocol: string;
  /** The cipher agreed (OpenSSL's name). */
  readonly cipher: string;
}

export interface HandshakeOptions {
  readonly host?: string;
  readonly port: number;
  /** SNI name; undefined sends no SNI at all. */
  readonly servername?: string;
  readonly ca?: string;
  readonly alpn?: readonly string[];
  /** Client certificate and key (PEM) for mutual TLS. */
  readonly clientCert?: { readonly cert: string; readonly key: string };
  readonly timeoutMs?: number;
  /** The TLS versions the client offers (Node's default: 1.2 and 1.3). */
  readonly minVersion?: tls.SecureVersion;
  readonly maxVersion?: tls.SecureVersion;
  /** The TLS 1.2 ciphers the client offers (OpenSSL syntax). */
  readonly ciphers?: string;
}

/** One real TLS handshake; resolves with what the server presented, then closes. */
export function handshake(options: HandshakeOptions): Promise<Presented> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: options.host ?? '127.0.0.1',
      port: options.port,
      // Node sends no SNI when servername is ''.
      servername: options.servername ?? '',
      ca: options.ca,
      ALPNProtocols: options.alpn ? [...options.alpn] : undefined,
      cert: options.clientCert?.cert,
      key: options.clientCert?.key,
      minVersion: options.minVersion,
      maxVersion: options.maxVersion,
      ciphers: options.ciphers,
      rejectUnauthorized: false,
    });
    socket.setTimeout(options.timeoutMs ?? 5000, () => socket.destroy(new Error(`TLS handshake with port ${options.port} timed out`)));
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate();
      const result: Presented = {
        commonName: String(peer.subject?.CN ?? ''),
        altNames: peer.subjectaltname ?? '',
        fingerprint: peer.fingerprint256,
        alpn: socket.alpnProtocol ?? false,
        authorized: socket.authorized,
        protocol: socket.getProtocol() ?? '',
        cipher: socket.getCipher().name,
      };
      socket.end();
      resolve(result);
    });
    socket.once('error', reject);
  });
}

export interface HttpsAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly backend?: string;
}

export interface HttpsOptions {
  readonly host?: string;
  readonly port: number;
  readonly servername: string;
  readonly path: string;
  /** The CA the client trusts: the request fails unless the server's certificate verifies. */
  readonly ca: string;
  readonly agent?: https.Agent;
  readonly timeoutMs?: number;
  /** Client certificate and key (PEM) for mutual TLS. */
  readonly clientCert?: { readonly cert: string; readonly key: string };
}

/** One HTTPS request (HTTP/1.1) that verifies the certificate against `ca` and the SNI name. */
export function httpsRequest(options: HttpsOptions): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: options.host ?? '127.0.0.1',
        port: options.port,
        path: options.path,
        servername: options.servername,
        headers: { host: options.servername, ...(options.agent ? {} : { connection: 'close' }) },
        ca: options.ca,
        cert: options.clientCert?.cert,
        key: options.clientCert?.key,
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const header = res.headers['x-backend'];
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            backend: typeof header === 'string' ? header : undefined,
          });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 5000, () => req.destroy(new Error(`HTTPS request to ${options.servername}:${options.port} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** One HTTP/2 request over TLS (ALPN h2), verified against `ca`; resolves with the status. */
export function http2Request(options: Omit<HttpsOptions, 'agent'>): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://${options.host ?? '127.0.0.1'}:${options.port}`, { ca: options.ca, servername: options.servername });
    const timer = setTimeout(() => session.destroy(new Error('HTTP/2 request timed out')), options.timeoutMs ?? 5000);
    session.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    const stream = session.request({ ':path': options.path, ':authority': options.servername });
    stream.on('response', (headers) => {
      stream.resume();
      stream.on('end', () => {
        clearTimeout(timer);
        session.close();
        resolve(Number(headers[':status']));
      });
    });
    stream.on('error', reject);
    stream.end();
  });
}
