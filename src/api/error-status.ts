import { ErrorCode, SidecarError } from '../errors';

/** The one place where error codes become HTTP statuses. */
const STATUS: Readonly<Record<ErrorCode, number>> = {
  INVALID_PARAMETER: 400,
  CONFIG_REJECTED: 400,
  INVALID_SETTING: 400,
  ROUTE_CONFLICT: 409,
  STORE_UNAVAILABLE: 503,
  NOT_LIVE: 500,
  PEERS_UNAVAILABLE: 500,
  TEMPLATE_ERROR: 500,
  HAPROXY_ERROR: 500,
};

export function statusFor(error: unknown): number {
  return error instanceof SidecarError ? STATUS[error.code] : 500;
}

/** What a client may see of an error: our own messages, never a stack or an internal detail. */
export function publicMessage(error: unknown): string {
  return error instanceof SidecarError ? error.message : 'internal error (see the sidecar logs)';
}
