import type { FleetReport } from '../src/fleet/report-types';

/** The page asks for the fleet this often; the endpoint itself answers within a few seconds. */
export const POLL_MS = 2000;
const FLEET_URL = '/v1/docker-flow-proxy/fleet';

declare global {
  interface Window {
    /** The first request, started by index.html before this bundle loaded. */
    firstFleet?: Promise<Response>;
  }
}

export type PollState = { readonly fleet?: FleetReport; readonly error?: string; readonly at?: Date };

/**
 * Short polling rather than server-sent events: the fleet is gathered from every replica on
 * request, so a pushed stream would still poll the replicas underneath, and a poll survives
 * proxies and replica restarts without reconnect logic. The next poll starts when one ends.
 */
export function pollFleet(onState: (state: PollState) => void): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last: FleetReport | undefined;
  const once = async () => {
    try {
      const started = window.firstFleet;
      window.firstFleet = undefined;
      const response = await (started ?? fetch(FLEET_URL, { cache: 'no-store', credentials: 'same-origin' }));
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      last = (await response.json()) as FleetReport;
      onState({ fleet: last, at: new Date() });
    } catch (error) {
      onState({ fleet: last, error: `the fleet endpoint does not answer (${(error as Error).message}); retrying` });
    }
    if (!stopped) timer = setTimeout(once, POLL_MS);
  };
  void once();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
