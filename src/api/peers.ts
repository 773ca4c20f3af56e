import { Resolver } from 'dns/promises';
import { PeersUnavailable } from '../errors';
import type { HostPort } from '../settings';

/**
 * The replicas of this proxy: the A records of tasks.<SERVICE_NAME> (Docker Swarm's DNS name for
 * every task of a service), from DNS_SERVER when set, else the system resolver.
 */
export class PeerDirectory {
  constructor(
    private readonly serviceName: string,
    private readonly dnsServer: HostPort | undefined,
    private readonly timeoutMs: number,
  ) {}

  get hostname(): string {
    return `tasks.${this.serviceName}`;
  }

  async lookup(): Promise<string[]> {
    const resolver = new Resolver({ timeout: Math.min(this.timeoutMs, 2000), tries: 2 });
    if (this.dnsServer) resolver.setServers([`${this.dnsServer.host}:${this.dnsServer.port}`]);
    let addresses: string[];
    try {
      addresses = await resolver.resolve4(this.hostname);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new PeersUnavailable(
        `cannot find the replicas of SERVICE_NAME=${this.serviceName}: DNS lookup of ${this.hostname} failed (${reason}); ` +
          "is SERVICE_NAME the proxy's own service name?",
      );
    }
    if (addresses.length === 0) throw new PeersUnavailable(`cannot find the replicas of SERVICE_NAME=${this.serviceName}: ${this.hostname} has no A records`);
    return [...new Set(addresses)].sort();
  }
}
