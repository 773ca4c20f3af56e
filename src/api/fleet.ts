import { fleetReport, Gathered } from '../fleet/fleet-report';
import type { ReplicaReporter } from '../fleet/replica-report';
import type { FleetReport } from '../fleet/report-types';
import type { PeerDirectory } from './peers';
import { ReplicaClient, replicaError } from './replicas';

export interface FleetGathererOptions {
  readonly peers: Pick<PeerDirectory, 'lookup' | 'hostname'>;
  readonly replicas: Pick<ReplicaClient, 'report'>;
  readonly reporter: Pick<ReplicaReporter, 'report'>;
  /** One deadline for the DNS lookup and every peer's answer. */
  readonly timeoutMs: number;
}

/** `::ffff:127.0.0.2` (an IPv4 client of a dual-stack socket) is 127.0.0.2, as DNS names it. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * The fleet: this replica's report, and every replica of tasks.<SERVICE_NAME> asked for its own
 * in parallel, all by one deadline. A replica that does not answer in time is listed as such.
 */
export class FleetGatherer {
  constructor(private readonly options: FleetGathererOptions) {}

  /** `selfAddress`: the address the request reached this replica on (how the others name it). */
  async gather(selfAddress: string): Promise<FleetReport> {
    const { peers, replicas, reporter } = this.options;
    const deadline = Date.now() + this.options.timeoutMs;
    const self = plainAddress(selfAddress);
    let addresses: string[] = [];
    let lookupError: string | undefined;
    try {
      addresses = await peers.lookup(deadline);
    } catch (error) {
      lookupError = replicaError(error);
    }
    const all = addresses.includes(self) ? addresses : [self, ...addresses];
    const gathered = await Promise.all(
      all.map(async (address): Promise<Gathered> => {
        const isSelf = address === self;
        try {
          const report = isSelf ? await reporter.report(self) : await replicas.report(address, Math.max(1, deadline - Date.now()));
          return { address, self: isSelf, report };
        } catch (error) {
          return { address, self: isSelf, error: `no answer: ${replicaError(error)}` };
        }
      }),
    );
    return fleetReport(gathered, { hostname: peers.hostname, ...(lookupError ? { error: lookupError } : {}) });
  }
}
