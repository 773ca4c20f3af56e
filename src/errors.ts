/**
 * Every error we raise on purpose. Each carries a stable code; the HTTP status for each code is
 * decided in one place (api/error-status.ts), not where the error is thrown.
 */
export type ErrorCode =
  | 'INVALID_PARAMETER'
  | 'ROUTE_CONFLICT'
  | 'CONFIG_REJECTED'
  | 'STORE_UNAVAILABLE'
  | 'NOT_LIVE'
  | 'PEERS_UNAVAILABLE'
  | 'INVALID_SETTING'
  | 'TEMPLATE_ERROR'
  | 'HAPROXY_ERROR';

export class SidecarError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** An untrusted route parameter is missing or malformed; `parameter` names it. */
export class InvalidParameter extends SidecarError {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super('INVALID_PARAMETER', `${parameter}: ${message}`);
  }
}

/** An http route with neither servicePath nor serviceDomain (DFP answers 409). */
export class RouteConflict extends SidecarError {
  constructor(message: string) {
    super('ROUTE_CONFLICT', message);
  }
}

/**
 * HAProxy refused a configuration (`haproxy -c` failed); `detail` is HAProxy's own output.
 * `lines` are the config lines HAProxy named, to find the parameter behind them; they may hold
 * secrets (a userlist line), so they never reach a reply or a log.
 */
export class ConfigRejected extends SidecarError {
  constructor(
    message: string,
    readonly detail: string,
    readonly lines: readonly string[] = [],
  ) {
    super('CONFIG_REJECTED', detail ? `${message}: ${detail}` : message);
  }
}

/**
 * No store address answered, or every one answered with an error. For a write, `outcome` says what
 * a client can rely on: 'not stored' (no server took it) or 'unknown' (a server may have taken it
 * and may still commit it once it has a quorum again).
 */
export class StoreUnavailable extends SidecarError {
  constructor(
    message: string,
    readonly outcome?: 'unknown' | 'not stored',
  ) {
    super('STORE_UNAVAILABLE', withOutcome(message, outcome));
  }
}

function withOutcome(message: string, outcome: 'unknown' | 'not stored' | undefined): string {
  if (outcome === 'not stored') return `${message}; the change was not stored`;
  if (outcome === 'unknown') {
    return (
      `${message}; the change may still take effect when Consul recovers: repeat the same request (safe to repeat) ` +
      'to make sure it is stored, or remove the route to make sure it is not'
    );
  }
  return message;
}

/** The change was stored but is not served (yet) by this or another replica. */
export class NotLive extends SidecarError {
  constructor(message: string) {
    super('NOT_LIVE', message);
  }
}

/** Peers of `tasks.<SERVICE_NAME>` could not be found. */
export class PeersUnavailable extends SidecarError {
  constructor(message: string) {
    super('PEERS_UNAVAILABLE', message);
  }
}

/** A setting (environment variable or flag) is malformed; `setting` names it. */
export class InvalidSetting extends SidecarError {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super('INVALID_SETTING', `${setting}: ${message}`);
  }
}

export class TemplateError extends SidecarError {
  constructor(message: string) {
    super('TEMPLATE_ERROR', message);
  }
}

export class HaproxyError extends SidecarError {
  constructor(message: string) {
    super('HAPROXY_ERROR', message);
  }
}

/** HAProxy answered a Runtime API command, but not with its success: it holds something else than the command expects (an unknown map, a server ...). */
export class RuntimeRefused extends HaproxyError {}
