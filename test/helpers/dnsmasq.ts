import { spawn, ChildProcess } from 'child_process';
import { promises as dns } from 'dns';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { freePort, settleWithin, waitFor } from './ports';
import { tempDir } from './tmp';

/** Debian's dnsmasq-base installs to /usr/sbin, which is not on every user's PATH. */
export const DNSMASQ_BIN = process.env.DNSMASQ_BIN ?? (fs.existsSync('/usr/sbin/dnsmasq') ? '/usr/sbin/dnsmasq' : 'dnsmasq');

/** name -> the A (or AAAA) records it answers with, e.g. `{ 'tasks.proxy': ['127.0.0.2', '127.0.0.3'] }`. */
export type DnsRecords = Readonly<Record<string, readonly string[]>>;

export interface RunningDnsmasq {
  readonly host: string;
  readonly port: number;
  /** `host:port`, ready for `DNS_SERVER` or `Resolver.setServers([address])`. */
  readonly address: string;
  /**
   * Replace the records of one name while running (an empty list removes the name, which then
   * answers NXDOMAIN). Resolves once dnsmasq answers with the new records.
   */
  setRecords(name: string, ips: readonly string[]): Promise<void>;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const START_ATTEMPTS = 5;

/** A resolver that asks only this dnsmasq and gives up fast, so polling stays responsive. */
export function resolverFor(address: string): dns.Resolver {
  const resolver = new dns.Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([address]);
  return resolver;
}

/** The sorted addresses `name` resolves to, or [] on NXDOMAIN. Other failures throw. */
async function lookup(resolver: dns.Resolver, name: string): Promise<string[]> {
  const families = await Promise.all([resolver.resolve4(name).catch(notFoundAsEmpty), resolver.resolve6(name).catch(notFoundAsEmpty)]);
  return families.flat().sort();
}

function notFoundAsEmpty(error: NodeJS.ErrnoException): string[] {
  if (error.code === dns.NOTFOUND || error.code === dns.NODATA) return [];
  throw error;
}

function sameAddresses(actual: readonly string[], wanted: readonly string[]): boolean {
  const expected = [...wanted].sort();
  return actual.length === expected.length && actual.every((ip, index) => ip === expected[index]);
}

function hostsFileText(records: Map<string, readonly string[]>): string {
  const lines: string[] = [];
  for (const [name, ips] of records) for (const ip of ips) lines.push(`${ip} ${name}`);
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

function checkRecords(name: string, ips: readonly string[]): void {
  if (!/^[A-Za-z0-9.-]+$/.test(name)) throw new Error(`not a DNS name: ${JSON.stringify(name)}`);
  const bad = ips.filter((ip) => net.isIP(ip) === 0);
  if (bad.length > 0) throw new Error(`not IP addresses for ${name}: ${bad.join(', ')}`);
}

interface Started {
  readonly child: ChildProcess;
  readonly port: number;
  readonly output: () => string;
  readonly exited: () => boolean;
}

/**
 * One attempt on one port. dnsmasq needs the port free for both UDP and TCP, and freePort() only
 * proves TCP, so the caller retries on another port when this one is taken.
 */
async function launch(hostsFile: string): Promise<Started> {
  const port = await freePort(HOST);
  const args = [
    '--no-daemon', // also: no pid file, no change of user (so root can read the temp dir)
    '--no-resolv',
    '--no-hosts',
    '--conf-file=/dev/null',
    `--listen-address=${HOST}`,
    '--bind-interfaces',
    `--port=${port}`,
    `--addn-hosts=${hostsFile}`,
    '--local=/#/', // names we do not hold answer NXDOMAIN, as Docker's DNS does, not REFUSED
    '--local-ttl=0',
    '--log-facility=-',
  ];
  const child = spawn(DNSMASQ_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let exited = false;
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.on('error', (error) => {
    output += `cannot run ${DNSMASQ_BIN}: ${error.message}\n`;
    exited = true;
  });
  child.on('exit', () => (exited = true));
  return { child, port, output: () => output, exited: () => exited };
}

async function waitUntilAnswering(started: Started): Promise<void> {
  const resolver = resolverFor(`${HOST}:${started.port}`);
  // waitFor retries on a thrown error, so an exit is returned as a value to stop polling at once.
  const outcome = await waitFor(
    'dnsmasq to answer a query',
    async () => {
      if (started.exited()) return 'exited';
      await lookup(resolver, 'readiness.probe');
      return 'answering';
    },
    10000,
  );
  if (outcome === 'exited') throw new Error(`dnsmasq exited:\n${started.output()}`);
}

async function stopChild(started: Started): Promise<void> {
  if (started.exited()) return;
  const done = new Promise<void>((resolve) => started.child.once('exit', () => resolve()));
  started.child.kill('SIGTERM');
  await settleWithin(done, 5000);
  if (!started.exited()) started.child.kill('SIGKILL');
}

async function startOnFreePort(hostsFile: string): Promise<Started> {
  let lastOutput = '';
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const started = await launch(hostsFile);
    try {
      await waitUntilAnswering(started);
      return started;
    } catch (error) {
      await stopChild(started);
      lastOutput = started.output() || (error instanceof Error ? error.message : String(error));
      if (!/address already in use/i.test(lastOutput)) break;
    }
  }
  throw new Error(`dnsmasq did not start:\n${lastOutput}`);
}

/**
 * Start dnsmasq on 127.0.0.1 with a free port, answering `records` (several addresses per name are
 * several A records, in no fixed order) and NXDOMAIN for every other name. It fails (rejects) when
 * dnsmasq cannot start; the caller must call stop(). The process is killed at exit if a test forgets.
 */
export async function startDnsmasq(records: DnsRecords = {}): Promise<RunningDnsmasq> {
  const current = new Map<string, readonly string[]>();
  for (const [name, ips] of Object.entries(records)) {
    checkRecords(name, ips);
    current.set(name, [...ips]);
  }
  const dir = tempDir('dnsmasq-');
  const hostsFile = path.join(dir, 'hosts');
  fs.writeFileSync(hostsFile, hostsFileText(current));
  let started: Started;
  try {
    started = await startOnFreePort(hostsFile);
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const killAtExit = () => started.child.kill('SIGKILL');
  process.on('exit', killAtExit);
  const address = `${HOST}:${started.port}`;
  const resolver = resolverFor(address);
  return {
    host: HOST,
    port: started.port,
    address,
    async setRecords(name: string, ips: readonly string[]) {
      checkRecords(name, ips);
      if (ips.length === 0) current.delete(name);
      else current.set(name, [...ips]);
      fs.writeFileSync(hostsFile, hostsFileText(current));
      // SIGHUP makes dnsmasq clear its cache and re-read --addn-hosts files.
      started.child.kill('SIGHUP');
      await waitFor(`dnsmasq to answer ${name} with [${ips.join(', ')}]`, async () => sameAddresses(await lookup(resolver, name), ips), 5000);
    },
    async stop() {
      process.removeListener('exit', killAtExit);
      await stopChild(started);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
