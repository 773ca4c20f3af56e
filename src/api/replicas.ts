import { setTimeout as sleep } from 'timers/promises';
import type { ReplicaReport } from '../fleet/report-types';
import type { Credentials } from '../settings';

export interface ReplicaResult {
  readonly address: string;
  readonly status: 'OK' | 'NOK';
  readonly message: string;
}

/** A peer's answer to GET /v1/docker-flow-proxy/applied. */
interface AppliedAnswer {
  readonly applied: boolean;
  readonly index: number;
  readonly reason?: string;
}

export interface ReplicaClientOptions {
  /** The API port every replica listens on (LISTEN_ADDRESS's port). */
  readonly port: number;
  readonly auth?: Credentials;
  readonly requestTimeoutMs: number;
}

const POLL_PAUSE_MS = 100;
const LONG_POLL_MS = 2000;
/** Time a peer's answer to a long poll gets to travel back before the deadline. */
const ANSWER_MARGIN_MS = 200;

function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/** Talks to the other replicas' APIs: asks what they have applied, or forwards a request. */
export class ReplicaClient {
  constructor(private readonly options: ReplicaClientOptions) {}

  private url(address: string, path: string, query: Readonly<Record<string, string>>): string {
    const host = address.includes(':') ? `[${address}]` : address;
    return `http://${host}:${this.options.port}${path}?${new URLSearchParams(query).toString()}`;
  }

  private headers(): Record<string, string> {
    const auth = this.options.auth;
    if (!auth) return {};
    return { Authorization: `Basic ${Buffer.from(`${auth.user}:${auth.pass}`).toString('base64')}` };
  }

  private async get(url: string, timeoutMs: number): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(url, { headers: this.headers(), signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
    } catch {
      body = { message: text.slice(0, 200) };
    }
    return { status: response.status, body };
  }

  /** A GET whose answer is text (e.g. the metrics CSV): the text, or why there is none. */
  async fetchText(address: string, path: string, query: Readonly<Record<string, string>>, timeoutMs: number): Promise<{ text: string } | { error: string }> {
    try {
      const response = await fetch(this.url(address, path, query), { headers: this.headers(), signal: AbortSignal.timeout(timeoutMs) });
      const text = await response.text();
      if (response.status === 200) return { text };
      return { error: `HTTP ${response.status}: ${text.slice(0, 200)}` };
    } catch (error) {
      return { error: `unreachable: ${reasonOf(error)}` };
    }
  }

  /** Forward a request to one replica and report its answer. */
  async forward(address: string, path: string, query: Readonly<Record<string, string>>, timeoutMs: number): Promise<ReplicaResult> {
    try {
      const { status, body } = await this.get(this.url(address, path, query), timeoutMs);
      const message = typeof body.message === 'string' ? body.message : `HTTP ${status}`;
      return { address, status: status === 200 ? 'OK' : 'NOK', message: status === 200 ? message : `HTTP ${status}: ${message}` };
    } catch (error) {
      return { address, status: 'NOK', message: `unreachable: ${reasonOf(error)}` };
    }
  }

  /** One replica's dashboard report (GET /v1/docker-flow-proxy/replica); throws when it gives none in time. */
  async report(address: string, timeoutMs: number): Promise<ReplicaReport> {
    const { status, body } = await this.get(this.url(address, '/v1/docker-flow-proxy/replica', {}), timeoutMs);
    if (status !== 200) throw new Error(`HTTP ${status}: ${String(body.message ?? '')}`);
    const report = body.replica;
    if (!isReport(report)) throw new Error('the answer is not a replica report (an older version?)');
    return report;
  }

  /** One long poll, answered (or given up on) by `deadline`: the peer waits a little less, so it can still say what it serves. */
  private async applied(address: string, index: number, serviceName: string | undefined, deadline: number): Promise<AppliedAnswer> {
    const left = Math.max(1, deadline - Date.now());
    const waitMs = Math.max(0, Math.min(LONG_POLL_MS, left - ANSWER_MARGIN_MS));
    const query: Record<string, string> = { index: String(index), waitMs: String(waitMs) };
    if (serviceName) query.serviceName = serviceName;
    const { status, body } = await this.get(this.url(address, '/v1/docker-flow-proxy/applied', query), Math.min(left, waitMs + this.options.requestTimeoutMs));
    if (status !== 200) throw new Error(`HTTP ${status}: ${String(body.message ?? '')}`);
    return { applied: body.applied === true, index: Number(body.index), reason: typeof body.reason === 'string' ? body.reason : undefined };
  }

  /**
   * Wait until one replica serves store index `index` (and has not left `serviceName` out), or
   * the deadline passes. Unreachable replicas are retried until the deadline.
   */
  async awaitApplied(address: string, index: number, serviceName: string | undefined, deadline: number): Promise<ReplicaResult> {
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      try {
        const answer = await this.applied(address, index, serviceName, deadline);
        if (answer.applied && answer.reason) return { address, status: 'NOK', message: `stored but not served: ${answer.reason}` };
        if (answer.applied) return { address, status: 'OK', message: `serves index ${answer.index}` };
        last = `serves index ${answer.index}, waiting for ${index}`;
      } catch (error) {
        last = `unreachable: ${reasonOf(error)}`;
        await sleep(Math.max(0, Math.min(POLL_PAUSE_MS, deadline - Date.now())));
      }
    }
    return { address, status: 'NOK', message: `does not serve the change yet (${last})` };
  }
}

/** Enough of a report's shape to build the fleet from it; a peer is a replica of ours, not a stranger. */
function isReport(value: unknown): value is ReplicaReport {
  if (!value || typeof value !== 'object') return false;
  const report = value as Record<string, unknown>;
  return typeof report.index === 'number' && Array.isArray(report.routes) && Array.isArray(report.changes) && typeof report.haproxy === 'object';
}

/** Why a request to a replica failed, in a few words. */
export function replicaError(error: unknown): string {
  return reasonOf(error);
}

export function laggingSummary(results: readonly ReplicaResult[]): string {
  return results
    .filter((r) => r.status === 'NOK')
    .map((r) => `${r.address} (${r.message})`)
    .join(', ');
}
