import type { CertChanges } from '../changes/cert-changes';
import type { RouteChanges } from '../changes/route-changes';
import { InvalidParameter, PeersUnavailable } from '../errors';
import type { Settings } from '../settings';
import type { PeerDirectory } from './peers';
import { laggingSummary, ReplicaClient, ReplicaResult } from './replicas';

type Params = Readonly<Record<string, unknown>>;

export const API_BASE = '/v1/docker-flow-proxy';

/** What a distributed change did on every replica, ready to be answered. */
export interface Distributed {
  /** What the answer's message starts with (the service, or "<service> removed"). */
  readonly what: string;
  readonly serviceName: string;
  /** What serviceName names in the answer: a service (default) or a certificate. */
  readonly key?: 'serviceName' | 'certName';
  /** The store index of the write (0 with the file store: each replica stores its own). */
  readonly index: number;
  readonly replicas: readonly ReplicaResult[];
  /** Every replica's answer in one phrase: '' when all of them serve the change. */
  readonly lagging: string;
}

export interface DistributorOptions {
  readonly settings: Pick<Settings, 'consulAddresses' | 'distributeTimeoutMs'>;
  readonly changes: RouteChanges;
  readonly certs: CertChanges;
  readonly peers: Pick<PeerDirectory, 'lookup'>;
  readonly replicas: ReplicaClient;
}

/**
 * `distribute=true`: a change that every replica serves, or an answer naming the laggards. With
 * Consul the change is stored once and every replica (found in DNS before the write) is asked
 * until it serves the write's index; with the file store, where each replica has its own store,
 * the request is forwarded to every replica (this one included) with distribute=false.
 */
export class Distributor {
  constructor(private readonly options: DistributorOptions) {}

  private get sharedStore(): boolean {
    return this.options.settings.consulAddresses.length > 0;
  }

  /** Every wait below (DNS, this replica, the others, forwarded requests) ends by one deadline. */
  private deadline(): number {
    return Date.now() + this.options.settings.distributeTimeoutMs;
  }

  async reconfigure(params: Params): Promise<Distributed> {
    const { changes } = this.options;
    const deadline = this.deadline();
    const route = await changes.prepare(params);
    if (route.replicas === 0) return this.remove({ serviceName: route.serviceName });
    if (!this.sharedStore) {
      return this.result(route.serviceName, route.serviceName, 0, await this.forward(`${API_BASE}/reconfigure`, { ...route.params }, deadline));
    }
    const addresses = await this.options.peers.lookup(deadline);
    const stored = await changes.store(route, remaining(deadline));
    return this.result(route.serviceName, stored.serviceName, stored.index, await this.awaitAll(addresses, stored.index, deadline, route.serviceName));
  }

  async remove(params: Params): Promise<Distributed> {
    const { changes } = this.options;
    const deadline = this.deadline();
    if (!this.sharedStore) {
      const serviceName = changes.validServiceName(params.serviceName);
      return this.result(`${serviceName} removed`, serviceName, 0, await this.forward(`${API_BASE}/remove`, { serviceName }, deadline));
    }
    const addresses = await this.options.peers.lookup(deadline);
    const removed = await changes.remove(params.serviceName, remaining(deadline));
    return this.result(`${removed.serviceName} removed`, removed.serviceName, removed.index, await this.awaitAll(addresses, removed.index, deadline));
  }

  /**
   * A certificate PUT with distribute=true: stored once, answered when every replica serves it.
   * Only a shared store can do that: with the file store the PEM (a private key) would have to
   * travel in forwarded requests, so each replica gets its own PUT instead.
   */
  async putCert(certName: unknown, pem: unknown): Promise<Distributed> {
    const deadline = this.deadline();
    const cert = this.options.certs.prepare(certName, pem);
    const addresses = await this.sharedPeers(deadline);
    const stored = await this.options.certs.store(cert);
    return { ...this.result(`certificate ${cert.name}`, cert.name, stored.index, await this.awaitAll(addresses, stored.index, deadline)), key: 'certName' };
  }

  async removeCert(certName: unknown): Promise<Distributed> {
    const deadline = this.deadline();
    const name = this.options.certs.validName(certName);
    const addresses = await this.sharedPeers(deadline);
    const removed = await this.options.certs.remove(name);
    return { ...this.result(`certificate ${name} removed`, name, removed.index, await this.awaitAll(addresses, removed.index, deadline)), key: 'certName' };
  }

  /**
   * Every replica's statistics CSV (each asked with distribute=false), as one CSV: the header
   * once, then every replica's lines. A replica that does not answer fails the whole (PeersUnavailable naming it).
   */
  async metrics(): Promise<string> {
    const deadline = this.deadline();
    const addresses = await this.options.peers.lookup(deadline);
    const timeoutMs = remaining(deadline);
    const answers = await Promise.all(
      addresses.map(async (address) => ({
        address,
        answer: await this.options.replicas.fetchText(address, `${API_BASE}/metrics`, { distribute: 'false' }, timeoutMs),
      })),
    );
    const missing = answers.flatMap(({ address, answer }) => ('error' in answer ? [`${address} (${answer.error})`] : []));
    if (missing.length > 0) throw new PeersUnavailable(`metrics: not every replica answered; missing: ${missing.join(', ')}`);
    return joinCsv(answers.map(({ answer }) => ('text' in answer ? answer.text : '')));
  }

  /**
   * Wait until every replica found in DNS serves store index `index` (an ACME challenge must be
   * answered by whichever replica the CA reaches). Only with a shared store: with the file store
   * each replica has its own. The replicas' answers; never throws for a replica that lags.
   */
  async awaitServed(index: number): Promise<readonly ReplicaResult[]> {
    if (!this.sharedStore) return [];
    const deadline = this.deadline();
    const addresses = await this.options.peers.lookup(deadline);
    return this.awaitAll(addresses, index, deadline);
  }

  private async sharedPeers(deadline: number): Promise<readonly string[]> {
    if (!this.sharedStore)
      throw new InvalidParameter(
        'distribute',
        'certificates are distributed through a shared store (CONSUL_ADDRESS); with the file store, send the certificate to each replica',
      );
    return this.options.peers.lookup(deadline);
  }

  private result(what: string, serviceName: string, index: number, replicas: readonly ReplicaResult[]): Distributed {
    return { what, serviceName, index, replicas, lagging: laggingSummary(replicas) };
  }

  private async forward(path: string, query: Record<string, string>, deadline: number): Promise<ReplicaResult[]> {
    const { peers, replicas } = this.options;
    const addresses = await peers.lookup(deadline);
    const timeoutMs = remaining(deadline);
    return Promise.all(addresses.map((address) => replicas.forward(address, path, { ...query, distribute: 'false' }, timeoutMs)));
  }

  private async awaitAll(addresses: readonly string[], index: number, deadline: number, serviceName?: string): Promise<ReplicaResult[]> {
    return Promise.all(addresses.map((address) => this.options.replicas.awaitApplied(address, index, serviceName, deadline)));
  }
}

/** CSV texts with the same header -> one CSV with the header once. */
function joinCsv(texts: readonly string[]): string {
  const lines = texts.flatMap((text) => text.split('\n').filter((line) => line !== ''));
  const header = lines.find((line) => line.startsWith('# '));
  const rows = lines.filter((line) => !line.startsWith('# '));
  return [header ?? '', ...rows, ''].join('\n');
}

/** Milliseconds left until `deadline`, at least 1 (a wait of 0 would mean "no wait" to some callees). */
function remaining(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}
