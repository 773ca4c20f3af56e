import type { CertChanges } from '../changes/cert-changes';
import type { RouteChanges } from '../changes/route-changes';
import { InvalidParameter } from '../errors';
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

  async reconfigure(params: Params): Promise<Distributed> {
    const { changes } = this.options;
    const route = await changes.prepare(params);
    if (!this.sharedStore) return this.result(route.serviceName, route.serviceName, 0, await this.forward(`${API_BASE}/reconfigure`, { ...route.params }));
    const addresses = await this.options.peers.lookup();
    const stored = await changes.store(route);
    return this.result(route.serviceName, stored.serviceName, stored.index, await this.awaitAll(addresses, stored.index, route.serviceName));
  }

  async remove(params: Params): Promise<Distributed> {
    const { changes } = this.options;
    if (!this.sharedStore) {
      const serviceName = changes.validServiceName(params.serviceName);
      return this.result(`${serviceName} removed`, serviceName, 0, await this.forward(`${API_BASE}/remove`, { serviceName }));
    }
    const addresses = await this.options.peers.lookup();
    const removed = await changes.remove(params.serviceName);
    return this.result(`${removed.serviceName} removed`, removed.serviceName, removed.index, await this.awaitAll(addresses, removed.index));
  }

  /**
   * A certificate PUT with distribute=true: stored once, answered when every replica serves it.
   * Only a shared store can do that: with the file store the PEM (a private key) would have to
   * travel in forwarded requests, so each replica gets its own PUT instead.
   */
  async putCert(certName: unknown, pem: unknown): Promise<Distributed> {
    const cert = this.options.certs.prepare(certName, pem);
    const addresses = await this.sharedPeers();
    const stored = await this.options.certs.store(cert);
    return { ...this.result(`certificate ${cert.name}`, cert.name, stored.index, await this.awaitAll(addresses, stored.index)), key: 'certName' };
  }

  async removeCert(certName: unknown): Promise<Distributed> {
    const name = this.options.certs.validName(certName);
    const addresses = await this.sharedPeers();
    const removed = await this.options.certs.remove(name);
    return { ...this.result(`certificate ${name} removed`, name, removed.index, await this.awaitAll(addresses, removed.index)), key: 'certName' };
  }

  private async sharedPeers(): Promise<readonly string[]> {
    if (!this.sharedStore)
      throw new InvalidParameter(
        'distribute',
        'certificates are distributed through a shared store (CONSUL_ADDRESS); with the file store, send the certificate to each replica',
      );
    return this.options.peers.lookup();
  }

  private result(what: string, serviceName: string, index: number, replicas: readonly ReplicaResult[]): Distributed {
    return { what, serviceName, index, replicas, lagging: laggingSummary(replicas) };
  }

  private async forward(path: string, query: Record<string, string>): Promise<ReplicaResult[]> {
    const { peers, replicas, settings } = this.options;
    const addresses = await peers.lookup();
    return Promise.all(addresses.map((address) => replicas.forward(address, path, { ...query, distribute: 'false' }, settings.distributeTimeoutMs)));
  }

  private async awaitAll(addresses: readonly string[], index: number, serviceName?: string): Promise<ReplicaResult[]> {
    const deadline = Date.now() + this.options.settings.distributeTimeoutMs;
    return Promise.all(addresses.map((address) => this.options.replicas.awaitApplied(address, index, serviceName, deadline)));
  }
}
