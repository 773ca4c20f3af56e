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

  /** The replicas' addresses; gives up at `deadline` (epoch ms) when one is given. */
  async lookup(deadline?: number): Promise<string[]> {
    const left = deadline === undefined ? this.timeoutMs : Math.max(1, deadline - Date.now());
    const resolver = new Resolver({ timeout: Math.min(left, this.timeoutMs, 2000), tries: 2 });
    if (this.dnsServer) resolver.setServers([`${this.dnsServer.host}:${this.dnsServer.port}`]);
    // c-ares doubles its timeout on each try: cancel at the deadline, whatever the tries add up to.
    const timer = setTimeout(() => resolver.cancel(), left);
    try {
      return await this.resolve(resolver);
    } finally {
      clearTimeout(timer);
    }
  }

  private async resolve(resolver: Resolver): Promise<string[]> {
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
