/**
 * What the dashboard endpoints answer: one replica's report (`/replica`) and the fleet's
 * (`/fleet`). Plain JSON shapes, shared by the server and the page's bundle (ui/).
 */

export type ChangeSource = 'API' | 'CLI' | 'KV edit';

/** One change of a stored route, as a replica's store watch saw it. */
export interface ChangeEntry {
  /** ISO 8601 time the change reached this replica. */
  readonly at: string;
  /** The store index of the snapshot that carried it. */
  readonly index: number;
  readonly serviceName: string;
  readonly what: 'added' | 'changed' | 'removed';
  /** Which parameters changed, or why a stored value is not a route; never a parameter's value. */
  readonly detail: string;
  readonly source: ChangeSource;
}

export interface DestinationRow {
  readonly hosts: readonly string[];
  readonly paths: readonly string[];
  readonly port: number;
  readonly srcPort?: number;
  readonly mode: string;
}

/** A service's backends as HAProxy's `show stat` counts them on one replica. */
export interface RouteStats {
  /** UP when every backend is up, else the first other status (DOWN, MAINT, ...); '' without stats. */
  readonly status: string;
  readonly servers: number;
  readonly serversUp: number;
  /** HTTP requests (tcp: sessions) the service's backends took since HAProxy's last reload. */
  readonly requests: number;
  /** Connection errors, response errors and 5xx answers of those backends. */
  readonly errors: number;
}

export interface RouteRow extends RouteStats {
  readonly serviceName: string;
  readonly destinations: readonly DestinationRow[];
}

export interface InvalidRow {
  readonly serviceName: string;
  readonly reason: string;
}

export interface CertRow {
  readonly name: string;
  readonly sans: readonly string[];
  readonly notAfter: string;
  readonly daysLeft: number;
}

export interface HaproxyRow {
  /** HAProxy runs and its worker answered `show stat` within the deadline. */
  readonly up: boolean;
  /** Times the HAProxy master died and was started again since the sidecar started. */
  readonly restarts: number;
  /** Why it is not up. */
  readonly reason?: string;
}

export interface ReloadRow {
  readonly at: string;
  /** success, runtime (certificates through the Runtime API), rejected or failed. */
  readonly outcome: string;
  readonly error?: string;
}

/** What one replica serves: `GET /v1/docker-flow-proxy/replica`. */
export interface ReplicaReport {
  readonly address: string;
  readonly index: number;
  /** SHA-256 (first 16 hex digits) of the live haproxy.cfg, this replica's own bind address left out. */
  readonly configHash: string;
  readonly haproxy: HaproxyRow;
  readonly lastReload?: ReloadRow;
  readonly routes: readonly RouteRow[];
  readonly invalid: readonly InvalidRow[];
  readonly certs: readonly CertRow[];
  readonly changes: readonly ChangeEntry[];
}

/** One replica in the fleet's answer; a replica that did not answer has `error` and no state. */
export interface ReplicaSummary {
  readonly address: string;
  /** The replica that answered this request. */
  readonly self: boolean;
  readonly answered: boolean;
  readonly error?: string;
  readonly index?: number;
  readonly configHash?: string;
  readonly haproxy?: HaproxyRow;
  readonly lastReload?: ReloadRow;
  readonly routes?: number;
  readonly invalid?: number;
  /** Answered and its HAProxy is up. */
  readonly serving: boolean;
  /** Its applied index is below the highest in the fleet. */
  readonly lagging: boolean;
  /** At the fleet's highest index, but its config hash is not the one most replicas there have. */
  readonly differs: boolean;
}

/** A route across the fleet: its stats on each replica, in the order of `replicas` (null: not served there). */
export interface FleetRoute {
  readonly serviceName: string;
  readonly destinations: readonly DestinationRow[];
  readonly perReplica: readonly (RouteStats | null)[];
  readonly requests: number;
  readonly errors: number;
}

export interface FleetInvalid extends InvalidRow {
  /** The replicas that leave it out. */
  readonly replicas: readonly string[];
}

/** `GET /v1/docker-flow-proxy/fleet`. */
export interface FleetReport {
  readonly generatedAt: string;
  /** tasks.<SERVICE_NAME>, and why the lookup failed when it did (then only this replica is listed). */
  readonly peers: { readonly hostname: string; readonly error?: string };
  readonly replicas: readonly ReplicaSummary[];
  readonly routes: readonly FleetRoute[];
  readonly invalid: readonly FleetInvalid[];
  readonly certs: readonly CertRow[];
  readonly changes: readonly ChangeEntry[];
}
