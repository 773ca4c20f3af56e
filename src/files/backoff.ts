/**
 * The one retry policy of every loop that waits after a failure (HAProxy restarts, the KV watch,
 * Consul request rounds, the file lock): capped exponential delays with jitter. The jitter keeps
 * replicas (and concurrent requests) from retrying in step; it is "equal jitter": each delay lies
 * between half and all of its exponential ceiling, so a delay never collapses to zero.
 */
export interface BackoffPolicy {
  /** The ceiling of the first delay. */
  readonly minMs: number;
  /** No delay is longer than this. */
  readonly maxMs: number;
}

/** The delay before retry number `attempt` (1 for the first retry). */
export function backoffDelay(policy: BackoffPolicy, attempt: number): number {
  const ceiling = Math.min(policy.maxMs, policy.minMs * 2 ** Math.max(0, attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** A failure counter over a policy: next() after each failure, reset() after a success. */
export class Backoff {
  private attempts = 0;

  constructor(private readonly policy: BackoffPolicy) {}

  next(): number {
    this.attempts += 1;
    return backoffDelay(this.policy, this.attempts);
  }

  reset(): void {
    this.attempts = 0;
  }
}
