import { spawn } from 'child_process';
import * as fs from 'fs';
import * as https from 'https';
import * as path from 'path';
import { supervise } from './child';
import { createCa, issueCert } from './certs';
import { freePort, waitFor } from './ports';
import { REPO_ROOT } from './sidecar';
import { tempDir } from './tmp';

/** Pebble, Let's Encrypt's test CA, built from Go modules by scripts/test.sh (tools/pebble/). */
export const PEBBLE_BIN = process.env.PEBBLE_BIN ?? path.join(REPO_ROOT, '.cache', 'bin', 'pebble');

export interface PebbleOptions {
  /** The port Pebble's HTTP-01 validation connects to on the domain's address: HAProxy's HTTP port. */
  readonly httpPort: number;
  /** `host:port` of the DNS server the domains resolve through (the test dnsmasq). */
  readonly dnsServer: string;
  /** Lifetime of the certificates it issues, in seconds (default 90 days). */
  readonly validitySeconds?: number;
}

export interface RunningPebble {
  /** The ACME directory, for ACME_DIRECTORY_URL. */
  readonly directoryUrl: string;
  /** The CA of Pebble's own HTTPS, for ACME_CA_FILE. */
  readonly caFile: string;
  /** New orders Pebble has taken since it started (from its log). */
  orders(): number;
  /** The root that Pebble's issued certificates chain to (PEM), from its management API. */
  issuingRoot(): Promise<string>;
  output(): string;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

function get(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, timeout: 5000, headers: { 'User-Agent': 'haproxy-sidecar tests' } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode}: ${body}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
  });
}

/**
 * Start Pebble on loopback: its ACME server and management API over HTTPS with a certificate of a
 * test CA, validations without Pebble's random sleeps, every nonce accepted (Pebble rejects 5% by
 * default to test clients' retries) and no reuse of authorizations (every order is validated).
 */
export async function startPebble(options: PebbleOptions): Promise<RunningPebble> {
  const dir = tempDir('pebble-');
  const ca = createCa('pebble-https test CA');
  const serving = issueCert(ca, [HOST, 'localhost']);
  fs.writeFileSync(path.join(dir, 'cert.pem'), serving.cert);
  fs.writeFileSync(path.join(dir, 'key.pem'), serving.key);
  const [acmePort, managementPort, tlsPort] = [await freePort(HOST), await freePort(HOST), await freePort(HOST)];
  const config = {
    pebble: {
      listenAddress: `${HOST}:${acmePort}`,
      managementListenAddress: `${HOST}:${managementPort}`,
      certificate: path.join(dir, 'cert.pem'),
      privateKey: path.join(dir, 'key.pem'),
      httpPort: options.httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      retryAfter: { authz: 1, order: 1 },
      keyAlgorithm: 'ecdsa',
      // One profile: Pebble picks one at random for orders that name none.
      profiles: { default: { description: 'test', validityPeriod: options.validitySeconds ?? 7776000 } },
    },
  };
  const configFile = path.join(dir, 'pebble-config.json');
  fs.writeFileSync(configFile, JSON.stringify(config));
  const child = spawn(PEBBLE_BIN, ['-config', configFile, '-dnsserver', options.dnsServer], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.on('error', (error) => (output += `cannot run ${PEBBLE_BIN}: ${error.message}\n`));
  const supervised = supervise(child);
  const directoryUrl = `https://${HOST}:${acmePort}/dir`;
  try {
    await waitFor(
      'Pebble to serve its directory',
      async () => {
        if (supervised.exited()) throw new Error('pebble exited');
        return (await get(directoryUrl, ca.cert)).includes('newOrder');
      },
      15000,
      50,
    );
  } catch (error) {
    await supervised.stop(2000);
    throw new Error(`${(error as Error).message}\n--- pebble output ---\n${output}`, { cause: error });
  }
  return {
    directoryUrl,
    caFile: ca.certPath,
    orders: () => (output.match(/Added order /g) ?? []).length,
    issuingRoot: () => get(`https://${HOST}:${managementPort}/roots/0`, ca.cert),
    output: () => output,
    stop: () => supervised.stop(3000),
  };
}
