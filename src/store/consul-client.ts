import * as http from 'http';
import * as https from 'https';
import { setTimeout as sleep } from 'timers/promises';
import { StoreUnavailable } from '../errors';
import { backoffDelay } from '../files/backoff';
import type { StoreAddressHealth } from './route-store';

/**
 * The request layer in front of Consul's HTTP API: timeouts, the ACL token, and failover across
 * CONSUL_ADDRESS.
 *
 * Node's http is used directly rather than the npm `consul` client because this layer has to see
 * every response as it is: the X-Consul-Index header of each answer, the exact status (a 5xx means
 * "try the next address", any other non-2xx goes back to the caller), which address failed, and
 * an abort that ends a blocking query at once on failover or close. It also gives each address a
 * bounded keep-alive pool: Consul refuses more than 200 connections per client IP by default, and
 * hundreds of concurrent writes must queue rather than trip that limit.
 */

export interface ConsulRequest {
  readonly method: 'GET' | 'PUT' | 'DELETE';
  /** Path below the address, e.g. `/v1/kv/docker-flow/services/`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: string;
  /**
   * Makes the first attempt a blocking query: `query` (index, wait) is added to it, and
   * `extraTimeoutMs` (the wait) to its timeout. Every retry after a failure is a plain read: a
   * failover resets the watch index anyway, and a retry must not park for the whole wait on a
   * server that may have no leader.
   */
  readonly blocking?: { readonly query: Readonly<Record<string, string>>; readonly extraTimeoutMs: number };
  /** Aborting it ends the request without counting it against the address. */
  readonly signal?: AbortSignal;
}

export interface ConsulResponse {
  readonly status: number;
  /** X-Consul-Index, 0 when the answer has none. */
  readonly index: number;
  readonly body: string;
  readonly address: string;
}

export interface ConsulClientOptions {
  /** Normalized base URLs (settings.parseConsulAddress). */
  readonly addresses: readonly string[];
  readonly token?: string;
  readonly timeoutMs: number;
  /** Sockets per address; requests beyond it queue. */
  readonly maxSockets?: number;
}

/** Pauses between rounds over every address while Consul elects a leader. */
const ROUND_BACKOFF = { minMs: 50, maxMs: 500 };

/**
 * Consul's answer to a connection over `limits.http_max_conns_per_client` (or to a call its rate
 * limiter turned away): the request was not looked at. The server is fine and the client is the
 * one to slow down, so the same address is asked again after a pause, not failed over from.
 */
const BUSY = 429;
const BUSY_BACKOFF = { minMs: 20, maxMs: 500 };

export type FailoverListener = (from: string, to: string, reason: string) => void;

/** Raised when the caller's signal aborted a request: not a failure of the address. */
export class RequestAborted extends Error {
  constructor() {
    super('request aborted');
    this.name = 'RequestAborted';
  }
}

interface AddressState {
  readonly address: string;
  readonly agent: http.Agent;
  reachable: boolean;
  lastError?: string;
  /** Ends each blocking query parked on this address (with the reason), e.g. on failover. */
  readonly parked: Set<(reason: Error) => void>;
}

/**
 * How often a parked blocking query checks that its server still answers. A server that hangs
 * (SIGSTOP, a frozen VM, a half-open connection) keeps the connection open and says nothing, and
 * the query would sit out its whole wait (30 s) before anyone noticed.
 */
const LIVENESS_INTERVAL_MS = 1000;

/** Consul's answer when no server could take a write: nothing was applied. */
const NOT_APPLIED = /No cluster leader|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN/i;

/** What a client knows about a write that failed: whether it may still take effect. */
export type WriteOutcome = 'unknown' | 'not stored';

/** What one attempt at one address produced: an answer, or why there was none. */
type Attempt = { readonly response: ConsulResponse } | { readonly failure: string };

export class ConsulClient {
  private readonly states: AddressState[];
  private current = 0;
  private readonly listeners = new Set<FailoverListener>();
  private lastOk = false;
  private lastContactMs = 0;
  private lastFailure?: string;

  constructor(private readonly options: ConsulClientOptions) {
    if (options.addresses.length === 0) throw new Error('ConsulClient needs at least one address');
    this.states = options.addresses.map((address) => ({
      address,
      agent: agentFor(address, options.maxSockets ?? 64),
      reachable: false,
      parked: new Set<(reason: Error) => void>(),
    }));
  }

  /** The address requests go to first. */
  get address(): string {
    return this.states[this.current].address;
  }

  /** Be told whenever the client moves to another address; returns the unsubscribe function. */
  onFailover(listener: FailoverListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Send `request` to the current address; on a connection error, a timeout or a 5xx, move on to
   * the next address and try there. Any answer below 500 is returned as is (a 404 is an answer).
   * When a whole round of addresses failed, go round again after a short pause until the request
   * timeout has passed since the first failure: while a new leader is elected, every server
   * answers 500 at once, and a write should wait out those seconds rather than fail. Throws
   * StoreUnavailable naming every address and its last failure.
   */
  async request(request: ConsulRequest): Promise<ConsulResponse> {
    const failures = new Map<string, string>();
    const response = await this.round(request, failures);
    if (response) return response;
    // Deadlines on the monotonic clock: a wall-clock step (NTP) must not shorten or stretch them.
    const firstFailure = performance.now();
    const plain = withoutBlocking(request);
    for (let round = 1; ; round++) {
      const left = this.options.timeoutMs - (performance.now() - firstFailure);
      if (left <= 0) break;
      // An abort ends the pause early; the next round sees the signal and throws RequestAborted.
      await sleep(Math.min(backoffDelay(ROUND_BACKOFF, round), left), undefined, { signal: request.signal }).catch(() => undefined);
      const retried = await this.round(plain, failures);
      if (retried) return retried;
    }
    const reasons = [...failures].map(([address, reason]) => `${address}: ${reason}`).join('; ');
    const message = `Consul is unavailable: no address answered ${request.method} ${request.path} (${reasons})`;
    if (request.method === 'GET') throw new StoreUnavailable(message);
    throw new StoreUnavailable(message, writeOutcome(failures.values()));
  }

  /** Try each address once, starting at the current one; undefined when none answered. */
  private async round(request: ConsulRequest, failures: Map<string, string>): Promise<ConsulResponse | undefined> {
    const start = this.current;
    for (let step = 0; step < this.states.length; step++) {
      if (request.signal?.aborted) throw new RequestAborted();
      const i = (start + step) % this.states.length;
      const attempt = await this.attempt(this.states[i], step === 0 ? request : withoutBlocking(request));
      if (request.signal?.aborted) throw new RequestAborted();
      if ('response' in attempt) {
        this.markOk(this.states[i]);
        return attempt.response;
      }
      failures.set(this.states[i].address, attempt.failure);
      if (request.method !== 'GET' && !NOT_APPLIED.test(attempt.failure)) failures.set(MAYBE_APPLIED, attempt.failure);
      this.markFailed(i, attempt.failure);
    }
    return undefined;
  }

  health(): { reachable: boolean; lastContact: number; lastError?: string; addresses: StoreAddressHealth[] } {
    return {
      reachable: this.lastOk,
      lastContact: this.lastContactMs,
      lastError: this.lastFailure,
      addresses: this.states.map((s) => ({ address: s.address, reachable: s.reachable, lastError: s.lastError })),
    };
  }

  close(): void {
    this.listeners.clear();
    for (const state of this.states) state.agent.destroy();
  }

  private markOk(state: AddressState): void {
    state.reachable = true;
    state.lastError = undefined;
    this.lastOk = true;
    this.lastContactMs = Date.now();
    this.lastFailure = undefined;
  }

  /**
   * Move past the address at `failed`, unless a concurrent request already did: a burst of
   * requests failing on one dead address must move the client one step, not skip good addresses.
   */
  private markFailed(failed: number, reason: string): void {
    const state = this.states[failed];
    state.reachable = false;
    state.lastError = reason;
    this.lastOk = false;
    this.lastFailure = `${state.address}: ${reason}`;
    // Queries parked on a failed address would wait out their whole wait there: move them now.
    for (const abort of state.parked) abort(new Error(`${state.address} failed (${reason}); moving on`));
    if (this.current !== failed || this.states.length === 1) return;
    this.current = (failed + 1) % this.states.length;
    for (const listener of this.listeners) listener(state.address, this.address, reason);
  }

  /** One address's answer; a 429 is waited out here (up to the request timeout) and asked again. */
  private async attempt(state: AddressState, request: ConsulRequest): Promise<Attempt> {
    const deadline = performance.now() + this.options.timeoutMs;
    for (let tries = 1; ; tries++) {
      let response: ConsulResponse;
      try {
        response = await this.send(state, request);
      } catch (error) {
        return { failure: describe(error) };
      }
      const left = deadline - performance.now();
      if (response.status === BUSY && left > 0 && !request.signal?.aborted) {
        // An abort ends the pause early; the caller sees the signal and throws RequestAborted.
        await sleep(Math.min(backoffDelay(BUSY_BACKOFF, tries), left), undefined, { signal: request.signal }).catch(() => undefined);
        if (!request.signal?.aborted) continue;
      }
      if (response.status >= 500) return { failure: `HTTP ${response.status} ${firstLine(response.body)}` };
      return { response };
    }
  }

  /**
   * Keep a blocking query on `state` honest: every LIVENESS_INTERVAL_MS a cheap request
   * (`/v1/status/leader`) must be answered within the request timeout, or the query is ended with
   * the reason (its attempt fails, the address is marked failed, the caller moves on). Failover
   * ends it too (markFailed). Returns the function that stops all this when the query ends.
   */
  private park(state: AddressState, end: (reason: Error) => void): () => void {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const stop = () => {
      done = true;
      clearTimeout(timer);
      state.parked.delete(end);
    };
    const check = async () => {
      const probe = await this.attempt(state, { method: 'GET', path: '/v1/status/leader' });
      if (done) return;
      if ('failure' in probe) return end(new Error(`the server stopped answering (${probe.failure})`));
      timer = setTimeout(() => void check(), LIVENESS_INTERVAL_MS);
    };
    state.parked.add(end);
    timer = setTimeout(() => void check(), LIVENESS_INTERVAL_MS);
    return stop;
  }

  private send(state: AddressState, request: ConsulRequest): Promise<ConsulResponse> {
    const url = new URL(request.path, state.address);
    const query = { ...request.query, ...request.blocking?.query };
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    const timeoutMs = this.options.timeoutMs + (request.blocking?.extraTimeoutMs ?? 0);
    const headers: Record<string, string> = {};
    if (this.options.token) headers['X-Consul-Token'] = this.options.token;
    if (request.body !== undefined) headers['Content-Type'] = 'application/json';
    return new Promise<ConsulResponse>((resolve, reject) => {
      const transport = url.protocol === 'https:' ? https : http;
      const req = transport.request(url, { method: request.method, headers, agent: state.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const index = Number(res.headers['x-consul-index'] ?? 0);
          resolve({
            status: res.statusCode ?? 0,
            index: Number.isFinite(index) ? index : 0,
            body: Buffer.concat(chunks).toString('utf8'),
            address: state.address,
          });
        });
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('the connection closed before the answer ended')));
      });
      const timer = setTimeout(() => req.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      const abort = () => req.destroy(new RequestAborted());
      request.signal?.addEventListener('abort', abort, { once: true });
      const unpark = request.blocking ? this.park(state, (reason) => req.destroy(reason)) : undefined;
      req.on('close', () => {
        clearTimeout(timer);
        request.signal?.removeEventListener('abort', abort);
        unpark?.();
      });
      req.on('error', reject);
      req.end(request.body);
    });
  }
}

/** The key under which `failures` remembers that a write may have reached a server. */
const MAYBE_APPLIED = 'a write that may have been applied';

/**
 * A failed write is "not stored" only when no attempt may have reached a server that could apply
 * it: every failure was a refused connection or Consul's own "No cluster leader". A timeout, a
 * reset or any other 5xx (an isolated leader appends the write and waits for a quorum that may
 * come back later) leaves the outcome unknown.
 */
function writeOutcome(failures: Iterable<string>): WriteOutcome {
  for (const failure of failures) if (!NOT_APPLIED.test(failure)) return 'unknown';
  return 'not stored';
}

function withoutBlocking(request: ConsulRequest): ConsulRequest {
  return request.blocking ? { ...request, blocking: undefined } : request;
}

function agentFor(address: string, maxSockets: number): http.Agent {
  const options = { keepAlive: true, maxSockets };
  return address.startsWith('https:') ? new https.Agent(options) : new http.Agent(options);
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim().slice(0, 200);
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return code && !error.message.includes(code) ? `${code} ${error.message}` : error.message;
}
